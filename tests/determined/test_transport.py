"""The master transport against raw sockets: keep-alive reuse and its races, body framings, timeouts, the pool
bound, TLS, shutdown. Each server here is a few lines of asyncio that answer exactly as a test needs."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bridge.determined import MasterClientSettings, MasterInternal, MasterUnavailable, create_master_client
from bridge.determined.transport import (
    HEAD_LIMIT,
    AnswerTimeout,
    ConnectFailed,
    ConnectionLost,
    MasterTransport,
)

Handler = Callable[["Server", "Peer"], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
USER = b'{"user": {"id": 7, "username": "jane", "admin": false, "active": true, "displayName": "", "remote": true}}'
USER_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(USER), USER)


@dataclass
class Peer:
    """One accepted connection, numbered from 1."""

    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def request(self) -> bytes:
        """One request, head and body (Content-Length framed, as the transport sends), or b"" at EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return b""
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return head + await self.reader.readexactly(length)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


@dataclass
class Server:
    """A raw HTTP server on loopback; ``handler`` runs once per accepted connection."""

    handler: Handler
    peers: list[Peer] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    stalled: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(len(self.peers) + 1, reader, writer)
        self.peers.append(peer)
        with contextlib.suppress(ConnectionError):
            await self.handler(self, peer)
        writer.close()


@contextlib.asynccontextmanager
async def serving(handler: Handler, context: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(handler)
    listener = await asyncio.start_server(server.accept, "127.0.0.1", 0, ssl=context)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"{'https' if context else 'http'}://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.release.set()
        listener.close()
        for peer in server.peers:
            peer.writer.close()
        await listener.wait_closed()


def keep_answering(answers: list[bytes]) -> Handler:
    """Answer every request on a connection with the next of ``answers`` (the last one repeats)."""

    async def handle(server: Server, peer: Peer) -> None:
        while request := await peer.request():
            server.requests.append(request)
            await peer.send(answers[min(len(server.requests), len(answers)) - 1])

    return handle


SECRET_LOCATION = "https://ops:hunter2@master.example:8443{path}?token=s3cret#frag"


def redirecting(status: int = 301, location: str | None = SECRET_LOCATION) -> Handler:
    """Answer every request with a redirect to ``location`` (``{path}`` becomes the request's path), as a
    master does whose http:// listener sends everything to https://."""

    async def handle(server: Server, peer: Peer) -> None:
        while request := await peer.request():
            server.requests.append(request)
            path = request.split(b" ")[1].decode()
            header = "" if location is None else f"Location: {location.format(path=path)}\r\n"
            await peer.send(f"HTTP/1.1 {status} Moved\r\n{header}Content-Length: 0\r\n\r\n".encode())

    return handle


def transport(url: str, *, limit: int = 4, context: ssl.SSLContext | None = None) -> MasterTransport:
    return MasterTransport(url, ssl_context=context, connect_timeout=5.0, limit=limit)


def deadline(seconds: float = 5.0) -> float:
    return asyncio.get_running_loop().time() + seconds


async def get(master: MasterTransport, path: str = "/api/v1/me", **kwargs: object) -> tuple[int, bytes]:
    options: dict[str, object] = {"read_timeout": 5.0, "deadline": deadline(), "repeatable": True}
    options.update(kwargs)
    status, body, _, _ = await master.request("GET", path, **options)  # type: ignore[arg-type]
    return status, body


async def test_a_redirect_is_not_followed_and_its_location_is_kept() -> None:
    async with serving(redirecting()) as server:
        master = transport(server.url)
        answer = await master.request(
            "GET", "/api/v1/me", read_timeout=5.0, deadline=deadline(), repeatable=True
        )
        await master.close()
    assert answer == (301, b"", None, SECRET_LOCATION.format(path="/api/v1/me"))
    assert len(server.requests) == 1


def _client(url: str, **credential: str | None) -> MasterClientSettings:
    return MasterClientSettings(
        url=url,
        token=credential.get("token"),
        username=credential.get("username"),
        password=credential.get("password"),
        connect_timeout=5.0,
        request_timeout=5.0,
        login_timeout=5.0,
    )


@pytest.mark.parametrize(
    ("credential", "path"),
    [
        ({"token": "v2.public.static"}, "/api/v1/users/7"),
        ({"username": "scim-bot", "password": "bot-password"}, "/api/v1/auth/login"),
    ],
    ids=["token", "password-login"],
)
async def test_client_names_a_redirect_and_the_master_url_to_set(
    credential: dict[str, str], path: str
) -> None:
    """The bridge does not follow redirects (a master.url of http:// in front of https:// would send every
    credential in clear first); the error says where the master pointed and what master.url should be,
    without the Location's userinfo, query or fragment."""
    async with serving(redirecting()) as server:
        client = create_master_client(_client(server.url, **credential), rng=lambda: 0.0)
        try:
            with pytest.raises(MasterInternal) as info:
                await client.get_user(7)
        finally:
            await client.close()
    assert info.value.message == (
        f"master answered 301 redirect to https://master.example:8443{path}; the bridge does not follow "
        "redirects: set master.url to https://master.example:8443"
    )
    assert info.value.http_status == 301
    assert not {"ops", "hunter2", "s3cret", "frag"} & set(info.value.message.replace("/", " ").split())
    assert "hunter2" not in str(info.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("location", "said"),
    [
        (
            None,
            "master answered 308 redirect without a usable Location; the bridge does not follow redirects: ",
        ),
        (
            "/login?next=%2Fapi",
            "master answered 308 redirect to /login; the bridge does not follow redirects: ",
        ),
    ],
    ids=["no-location", "relative"],
)
async def test_a_redirect_elsewhere_or_without_location_still_says_what_happened(
    location: str | None, said: str
) -> None:
    async with serving(redirecting(308, location)) as server:
        client = create_master_client(_client(server.url, token="v2.public.static"), rng=lambda: 0.0)
        try:
            with pytest.raises(MasterInternal) as info:
                await client.master_info()
        finally:
            await client.close()
    assert info.value.message == said + "set master.url to the master's final URL"


async def test_keep_alive_reuses_one_connection() -> None:
    async with serving(keep_answering([OK])) as server:
        master = transport(server.url)
        for _ in range(3):
            assert await get(master) == (200, b"{}")
        await master.close()
    assert len(server.peers) == 1
    assert server.requests[0].startswith(b"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1:")


async def test_base_path_query_authorization_and_body_are_sent() -> None:
    async with serving(keep_answering([OK])) as server:
        master = transport(server.url + "/det/")
        await master.request(
            "PATCH",
            "/api/v1/users/7",
            query={"name": "a b/c", "limit": "2"},
            authorization="Bearer t0k",
            body=b'{"active": true}',
            read_timeout=5.0,
            deadline=deadline(),
            repeatable=False,
        )
        await master.close()
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"PATCH /det/api/v1/users/7?name=a%20b%2Fc&limit=2 HTTP/1.1"
    assert b"Authorization: Bearer t0k" in lines
    assert b"Content-Type: application/json" in lines
    assert b"Content-Length: 16" in lines
    assert body == b'{"active": true}'


async def test_connection_closed_by_master_while_idle_is_not_reused() -> None:
    async def answer_once(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)  # keep-alive by default in HTTP/1.1, then the master's idle timeout closes it

    async with serving(answer_once) as server:
        master = transport(server.url)
        assert await get(master) == (200, b"{}")
        await asyncio.sleep(0.05)  # lets the master's FIN arrive before the next request
        assert await get(master) == (200, b"{}")
        await master.close()
    assert len(server.peers) == 2


async def reused_then_dropped(server: Server, peer: Peer) -> None:
    """Connection 1 answers one request, then reads the next and closes without a byte of answer (a master
    whose idle timeout fires as the request arrives); later connections answer every request."""
    answered = 0
    while await peer.request():
        if peer.number == 1 and answered:
            return
        await peer.send(USER_ANSWER)
        answered += 1


async def test_reused_connection_dropped_before_any_answer_is_retried_fresh_when_repeatable() -> None:
    async with serving(reused_then_dropped) as server:
        master = transport(server.url)
        assert (await get(master))[0] == 200
        assert (await get(master))[0] == 200  # sent on connection 1, which drops it; resent on connection 2
        await master.close()
    assert len(server.peers) == 2


async def test_reused_connection_dropped_is_not_resent_when_not_repeatable() -> None:
    async with serving(reused_then_dropped) as server:
        master = transport(server.url)
        assert (await get(master))[0] == 200
        with pytest.raises(ConnectionLost) as info:
            await get(master, repeatable=False)
        await master.close()
    assert not info.value.received
    assert len(server.peers) == 1


async def test_client_create_on_a_dropped_keep_alive_connection_is_unavailable_and_not_resent() -> None:
    async with serving(reused_then_dropped) as server:
        client = create_master_client(
            MasterClientSettings(
                url=server.url,
                token="v2.public.static",
                username=None,
                password=None,
                connect_timeout=5.0,
                request_timeout=5.0,
                login_timeout=5.0,
            ),
            rng=lambda: 0.0,
        )
        try:
            assert (await client.get_user(7)).id == 7
            with pytest.raises(MasterUnavailable) as info:
                await client.create_user("bob", "", True)
            assert info.value.message == "master connection lost: closed by the master"
            assert (await client.get_user(7)).id == 7  # a fresh connection for the next call
        finally:
            await client.close()
    assert len(server.peers) == 2


async def test_chunked_answer_in_pieces() -> None:
    async def chunked(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"us', b'er": ', b"1}"):
            await peer.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            await asyncio.sleep(0.01)
        await peer.send(b"0\r\n\r\n")
        await peer.request()  # the connection stays open for the next request

    async with serving(chunked) as server:
        master = transport(server.url)
        assert await get(master) == (200, b'{"user": 1}')
        await master.close()


async def test_interim_answer_is_skipped_for_the_final_one() -> None:
    async def early_hints(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n")
        await peer.send(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}")
        await peer.request()

    async with serving(early_hints) as server:
        master = transport(server.url)
        assert await master.request("GET", "/", read_timeout=5.0, deadline=deadline(), repeatable=True) == (
            503,
            b"{}",
            "7",
            None,
        )
        await master.close()


async def test_the_final_answers_own_headers_are_read_from_its_head() -> None:
    """Retry-After and Location come from the final answer's head, whatever the case of their names, the last
    of each, without leading blanks; an interim answer's (in the same write here) and a success's are not read."""
    heads = [
        b"HTTP/1.1 103 Early Hints\r\nRetry-After: 1\r\nLocation: /early\r\n\r\n"
        b"HTTP/1.1 503 Service Unavailable\r\nretry-after:  9 \r\nRETRY-AFTER: 8\r\nlocation: /x \r\n"
        b"Content-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nRetry-After: 5\r\nLocation: /y\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\n\r\n{}",
    ]

    async def answers(server: Server, peer: Peer) -> None:
        for head in heads:
            await peer.request()
            await peer.send(head)
        await peer.request()

    async with serving(answers) as server:
        master = transport(server.url)
        said = [
            await master.request("GET", "/", read_timeout=5.0, deadline=deadline(), repeatable=True)
            for _ in heads
        ]
        await master.close()
    assert said == [(503, b"{}", "8", "/x "), (200, b"{}", None, None), (429, b"{}", None, None)]


async def test_body_split_across_writes_and_closed_answers() -> None:
    async def split_then_close(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123")
        await asyncio.sleep(0.01)
        await peer.send(b"456789")

    async with serving(split_then_close) as server:
        master = transport(server.url)
        assert await get(master) == (404, b"0123456789")
        assert await get(master) == (404, b"0123456789")  # Connection: close: a new connection
        await master.close()
    assert len(server.peers) == 2


async def test_body_delimited_by_the_end_of_the_connection() -> None:
    async def until_eof(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"a":')
        await peer.send(b" 1}")

    async with serving(until_eof) as server:
        master = transport(server.url)
        assert await get(master) == (200, b'{"a": 1}')
        await master.close()


async def test_connection_lost_mid_body_is_reported_with_received() -> None:
    async def truncated(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")

    async with serving(truncated) as server:
        master = transport(server.url)
        with pytest.raises(ConnectionLost) as info:
            await get(master)
        await master.close()
    assert info.value.received
    assert len(server.peers) == 1  # bytes of an answer came: never resent


async def test_malformed_answer_is_a_lost_connection() -> None:
    async def garbage(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await peer.request()

    async with serving(garbage) as server:
        master = transport(server.url)
        with pytest.raises(ConnectionLost, match="malformed answer"):
            await get(master)
        await master.close()


@pytest.mark.parametrize(
    ("opening", "repeated"),
    [
        (b"HTTP/1.1 200 OK\r\n", b"X-Filler: " + b"a" * 1000 + b"\r\n"),
        (b"", b"HTTP/1.1 103 Early Hints\r\nLink: </" + b"a" * 1000 + b">\r\n\r\n"),
    ],
    ids=["headers-without-end", "interim-answers-without-end"],
)
async def test_an_answer_head_without_end_fails_once_over_the_limit(opening: bytes, repeated: bytes) -> None:
    # The head is kept until it is complete: headers (or interim answers) without end must not grow it forever.
    async def endless(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(opening)
        while True:
            await peer.send(repeated)

    async with serving(endless) as server:
        master = transport(server.url)
        with pytest.raises(ConnectionLost, match=f"answer head over {HEAD_LIMIT} bytes") as info:
            await get(master)
        await master.close()
    assert info.value.received
    assert len(server.peers) == 1  # bytes of an answer came: never resent


async def test_a_large_body_after_a_complete_head_is_not_limited() -> None:
    body = b'{"pad": "' + b"b" * (4 * HEAD_LIMIT) + b'"}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    async with serving(keep_answering([answer])) as server:
        master = transport(server.url)
        assert await get(master) == (200, body)
        await master.close()


async def test_read_timeout_restarts_with_each_read_and_the_deadline_bounds_all() -> None:
    async def trickle(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
        for byte in b"abcdef":
            await asyncio.sleep(0.05)
            await peer.send(bytes([byte]))
        await peer.request()

    async with serving(trickle) as server:
        master = transport(server.url)
        # Each byte comes well within the read timeout, so the answer completes...
        assert await get(master, read_timeout=2.0) == (200, b"abcdef")
        # ...unless the whole exchange has a shorter budget.
        with pytest.raises(AnswerTimeout):
            await get(master, read_timeout=2.0, deadline=deadline(0.1))
        await master.close()


async def stall_first(server: Server, peer: Peer) -> None:
    """Connection 1 never answers (until the test ends); later ones answer."""
    await peer.request()
    if peer.number == 1:
        server.stalled.set()
        await server.release.wait()
        return
    await peer.send(OK)


async def test_stalled_answer_times_out_and_the_connection_is_not_reused() -> None:
    async with serving(stall_first) as server:
        master = transport(server.url)
        with pytest.raises(AnswerTimeout):
            await get(master, read_timeout=0.1)
        assert await get(master) == (200, b"{}")
        await master.close()
    assert len(server.peers) == 2


async def test_cancelled_exchange_closes_its_connection() -> None:
    async with serving(stall_first) as server:
        master = transport(server.url)
        pending = asyncio.ensure_future(get(master))
        await server.stalled.wait()
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert await get(master) == (200, b"{}")  # not the half-answered connection
        await master.close()
    assert len(server.peers) == 2


async def test_pool_bound_holds_under_concurrency() -> None:
    in_flight = 0
    most = 0

    async def slow(server: Server, peer: Peer) -> None:
        nonlocal in_flight, most
        while await peer.request():
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1
            await peer.send(OK)

    async with serving(slow) as server:
        master = transport(server.url, limit=2)
        answers = await asyncio.gather(*(get(master) for _ in range(8)))
        await master.close()
    assert answers == [(200, b"{}")] * 8
    assert len(server.peers) == 2
    assert most == 2


async def test_waiting_for_a_free_connection_ends_at_the_deadline_and_frees_nothing() -> None:
    async with serving(stall_first) as server:
        master = transport(server.url, limit=1)
        holder = asyncio.ensure_future(get(master))  # takes the only connection; its answer stalls
        await server.stalled.wait()
        with pytest.raises(ConnectFailed, match="no free connection in time") as caught:
            await get(master, deadline=deadline(0.1))
        assert caught.value.sent is False  # nothing went out: safe to retry even a create
        holder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await holder
        # The slot the cancelled holder gave back serves the next request; the timed-out waiter took none.
        assert await get(master) == (200, b"{}")
        await master.close()
    assert len(server.peers) == 2


async def test_connect_that_never_completes_fails_at_the_connect_timeout_unsent() -> None:
    async def silent(server: Server, peer: Peer) -> None:
        await server.release.wait()  # accepts TCP, never speaks TLS: the handshake hangs

    async with serving(silent) as server:
        url = server.url.replace("http://", "https://")
        master = MasterTransport(url, ssl_context=ssl.create_default_context(), connect_timeout=0.2, limit=2)
        # The exchange's own deadline is a minute away: only the connect timeout can end this in time (the
        # outer bound is a guard against a hang, 50x the connect timeout, not a speed check).
        async with asyncio.timeout(10):
            with pytest.raises(ConnectFailed, match="TimeoutError") as caught:
                await get(master, deadline=deadline(60))
        assert caught.value.sent is False
        await master.close()
    assert len(server.peers) == 1


async def test_a_host_name_the_resolver_cannot_encode_fails_to_connect_unsent() -> None:
    # A master.url typo: a label over 63 characters escaped as a UnicodeError, uncounted by the breaker.
    master = transport(f"http://{'a' * 64}.example:8080")
    with pytest.raises(ConnectFailed, match="label empty or too long") as caught:
        await get(master)
    assert caught.value.sent is False
    await master.close()


async def test_a_retry_after_of_no_ascii_digits_is_no_hint() -> None:
    """The header is read as Latin-1, where byte 0xB2 is "²": str.isdigit() takes it and float() refused it,
    so the master's 503 escaped the client as a ValueError instead of MasterUnavailable."""
    unavailable = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: \xb2\r\nContent-Length: 0\r\n\r\n"
    async with serving(keep_answering([unavailable])) as server:
        client = create_master_client(_client(server.url, token="v2.public.static"), rng=lambda: 0.0)
        try:
            with pytest.raises(MasterUnavailable) as info:
                await client.get_user(7)
        finally:
            await client.close()
    assert info.value.retry_after is None
    assert len(server.requests) == 4  # the first try and its retries, as for any 503


async def test_close_ends_idle_and_busy_connections_and_refuses_new_requests() -> None:
    ended: list[int] = []
    both_ended = asyncio.Event()

    async def second_request_stalls(server: Server, peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.request()
        server.stalled.set()
        await peer.request()  # b"" once the client closes
        ended.append(peer.number)
        if len(ended) == 2:
            both_ended.set()

    async with serving(second_request_stalls) as server:
        master = transport(server.url)
        await asyncio.gather(get(master), get(master))  # two connections, both idle now
        busy = asyncio.ensure_future(get(master))  # reuses one of them, and its answer never comes
        await server.stalled.wait()
        await master.close()
        with pytest.raises(ConnectionLost):
            await busy
        with pytest.raises(RuntimeError):
            await get(master)
        await asyncio.wait_for(both_ended.wait(), 5.0)  # the master saw both connections end
    assert sorted(ended) == [1, 2]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=master.test", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize(
    ("verify", "trust", "reaches"), [(True, True, True), (False, False, True), (True, False, False)]
)
async def test_tls_honours_ca_file_and_verify_settings(
    tmp_path: Path, verify: bool, trust: bool, reaches: bool
) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    async with serving(keep_answering([OK]), server_context) as server:
        client = create_master_client(
            MasterClientSettings(
                url=server.url,
                token="v2.public.static",
                username=None,
                password=None,
                connect_timeout=5.0,
                request_timeout=5.0,
                login_timeout=5.0,
                verify_tls=verify,
                ca_file=str(cert) if trust else None,
                retries=0,
            )
        )
        try:
            assert await client.ping() is reaches
            if not reaches:
                with pytest.raises(
                    MasterUnavailable, match="cannot connect to master: SSLCertVerificationError"
                ):
                    await client.master_info()
        finally:
            await client.close()
