"""Bytes the master sends that no request asked for (an idle connection's 408 from a proxy, a second answer
to one request) end that connection, so they are never read as the answer to the next request; and a POST
without a body still says its length (grpc-gateway's proxies refuse a POST without Content-Length)."""

from __future__ import annotations

import asyncio

from tests.determined.test_transport import OK, Peer, Server, deadline, get, serving, transport

IDLE_408 = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
OTHER = b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"n":2}'
STRAY = b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 7\r\n\r\n{"n":9}'


async def test_an_unsolicited_answer_on_an_idle_connection_closes_it() -> None:
    dropped = asyncio.Event()

    async def idle_408(server: Server, peer: Peer) -> None:
        if peer.number == 1:
            server.requests.append(await peer.request())
            await peer.send(OK)
            await peer.send(IDLE_408)  # while idle, and the connection stays open on this side
            assert await peer.request() == b""  # the transport hung up instead of sending its next request
            dropped.set()
            return
        while request := await peer.request():
            server.requests.append(request)
            await peer.send(OTHER)

    async with serving(idle_408) as server:
        master = transport(server.url)
        assert await get(master) == (200, b"{}")
        async with asyncio.timeout(30):  # a transport that kept the connection would wait here
            await dropped.wait()
        assert await get(master) == (200, b'{"n":2}')
        await master.close()
    assert len(server.peers) == 2
    assert len(server.requests) == 2


async def test_a_second_answer_to_one_request_closes_the_connection() -> None:
    async def answers_twice(server: Server, peer: Peer) -> None:
        while request := await peer.request():
            server.requests.append(request)
            await peer.send(OK + STRAY if peer.number == 1 else OTHER)

    async with serving(answers_twice) as server:
        master = transport(server.url)
        assert await get(master) == (200, b"{}")
        assert await get(master) == (200, b'{"n":2}')  # on a new connection, never the stray 500
        await master.close()
    assert len(server.peers) == 2


async def test_a_post_without_a_body_sends_content_length_zero() -> None:
    async with serving(lambda server, peer: _answer_one(server, peer)) as server:
        master = transport(server.url)
        status, _, _, _ = await master.request(
            "POST", "/api/v1/users/7/deactivate", read_timeout=5.0, deadline=deadline(), repeatable=False
        )
        await master.close()
    assert status == 200
    head = server.requests[0].split(b"\r\n")
    assert head[0] == b"POST /api/v1/users/7/deactivate HTTP/1.1"
    assert b"Content-Length: 0" in head
    assert not any(line.startswith(b"Content-Type") for line in head)


async def _answer_one(server: Server, peer: Peer) -> None:
    server.requests.append(await peer.request())
    await peer.send(OK)
