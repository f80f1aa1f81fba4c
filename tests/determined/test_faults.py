"""Master faults over a real socket: 429, 5xx, stalls, disconnects; what is retried and what is not (issue 7).

The upstream here is a scripted aiohttp app, not the emulator: each test states the exact answers the
"master" gives in order, so retry counts are exact. Error bodies use the master's envelope (§1.5).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from bridge.determined import (
    DeterminedClient,
    MasterClientSettings,
    MasterInternal,
    MasterThrottled,
    MasterUnavailable,
    calls_made,
    create_master_client,
    start_counting,
)

USER = {"id": 7, "username": "jane", "admin": False, "active": True, "displayName": "", "remote": True}
Answer = Callable[[], web.StreamResponse]


def envelope(status: int, code: int, reason: str, text: str, headers: dict[str, str] | None = None) -> Answer:
    return lambda: web.json_response(
        {"error": {"code": code, "reason": reason, "error": text}}, status=status, headers=headers
    )


def ok(body: object) -> Answer:
    return lambda: web.json_response(body)


@dataclass
class Script:
    """Answers given in order; the last one repeats. ``stall`` answers never come (the client must time out)."""

    answers: list[Answer | str] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)
    requests: list[tuple[str | None, str, str]] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def scripted(aiohttp_server: AiohttpServer) -> tuple[Script, TestServer]:
    script = Script()

    async def handle(request: web.Request) -> web.StreamResponse:
        script.hits.append(f"{request.method} {request.path}")
        script.requests.append(
            (request.headers.get("Authorization"), request.query_string, await request.text())
        )
        answer = script.answers[min(len(script.hits), len(script.answers)) - 1]
        if answer == "stall":
            await script.released.wait()  # set only at teardown: the client times out first
            return web.json_response({})
        if answer == "reset":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        assert not isinstance(answer, str)
        return answer()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = await aiohttp_server(app)
    return script, server


@pytest.fixture
async def client(scripted: tuple[Script, TestServer]) -> AsyncIterator[DeterminedClient]:
    script, server = scripted
    settings = MasterClientSettings(
        url=str(server.make_url("")),
        token="v2.public.static",
        username=None,
        password=None,
        connect_timeout=5.0,
        request_timeout=0.3,
        login_timeout=5.0,
        retries=2,
        breaker_threshold=100,
    )
    master = create_master_client(settings, rng=lambda: 0.0)
    yield master
    script.released.set()
    await master.close()


async def test_get_retried_after_503_then_succeeds(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = [envelope(503, 14, "Unavailable", "busy"), ok({"user": USER})]
    start_counting()
    user = await client.get_user(7)
    assert user.username == "jane"
    assert script.hits == ["GET /api/v1/users/7", "GET /api/v1/users/7"]
    assert calls_made() == 2
    assert client.healthy


async def test_group_search_is_retried_as_idempotent(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    page = {
        "groups": [],
        "pagination": {"offset": 0, "limit": 500, "startIndex": 0, "endIndex": 0, "total": 0},
    }
    script.answers = [envelope(502, 14, "Unavailable", "bad gateway"), ok(page)]
    assert (await client.search_groups(name="x")).groups == ()
    assert len(script.hits) == 2


async def test_write_is_not_retried_after_503(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = [envelope(503, 14, "Unavailable", "busy"), ok({"user": USER})]
    with pytest.raises(MasterUnavailable):
        await client.patch_user(7, active=False)
    assert script.hits == ["PATCH /api/v1/users/7"]


async def test_write_is_not_retried_after_500(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = [
        envelope(500, 13, "Internal", "boom"),
        ok({"group": {"groupId": 1, "name": "g", "users": []}}),
    ]
    with pytest.raises(MasterInternal):
        await client.create_group("g")
    assert len(script.hits) == 1


async def test_get_gives_up_after_retries(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = [envelope(504, 4, "DeadlineExceeded", "slow")]
    with pytest.raises(MasterUnavailable) as info:
        await client.get_group(3)
    assert info.value.http_status == 504
    assert len(script.hits) == 3


async def test_throttled_carries_retry_after_and_is_not_retried(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = [envelope(429, 8, "ResourceExhausted", "slow down", {"Retry-After": "12"})]
    with pytest.raises(MasterThrottled) as info:
        await client.get_user(7)
    assert info.value.retry_after == 12.0
    assert len(script.hits) == 1


async def test_unavailable_with_long_retry_after_is_not_waited_for(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = [envelope(503, 14, "Unavailable", "maintenance", {"Retry-After": "120"})]
    with pytest.raises(MasterUnavailable) as info:
        await client.get_user(7)
    assert info.value.retry_after == 120.0
    assert len(script.hits) == 1


async def test_stalled_get_times_out_and_is_retried(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = ["stall", ok({"user": USER})]
    assert (await client.get_user(7)).id == 7
    assert len(script.hits) == 2


async def test_stalled_write_times_out_unretried(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = ["stall"]
    with pytest.raises(MasterUnavailable) as info:
        await client.delete_group(3)
    assert info.value.message == "master call timed out"
    assert len(script.hits) == 1


async def test_connection_reset_on_get_is_retried_but_not_on_write(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = ["reset", ok({"user": USER})]
    assert (await client.get_user(7)).id == 7
    assert len(script.hits) == 2
    script.hits.clear()
    script.answers = ["reset", ok({"user": USER})]
    with pytest.raises(MasterUnavailable):
        await client.set_password(7, "x")
    assert len(script.hits) == 1


async def test_non_json_error_body(client: DeterminedClient, scripted: tuple[Script, TestServer]) -> None:
    script, _ = scripted
    script.answers = [lambda: web.Response(status=500, text="<html>oops</html>", content_type="text/html")]
    with pytest.raises(MasterInternal) as info:
        await client.get_user(7)
    assert info.value.message == "<html>oops</html>"
    assert info.value.grpc_code is None


async def test_requests_carry_the_bearer_token_and_documented_bodies(
    client: DeterminedClient, scripted: tuple[Script, TestServer]
) -> None:
    script, _ = scripted
    script.answers = [ok({"user": USER})]
    await client.patch_user(7, active=True, display_name="Jane")
    await client.set_password(7, "N3w")
    script.answers = [
        ok({"users": [], "pagination": {"offset": 5, "limit": 2, "startIndex": 5, "endIndex": 5, "total": 5}})
    ]
    await client.list_users(5, 2, name="ja", active=True)
    assert script.requests == [
        ("Bearer v2.public.static", "", '{"active":true,"displayName":"Jane"}'),
        ("Bearer v2.public.static", "", '"N3w"'),
        ("Bearer v2.public.static", "offset=5&limit=2&name=ja&active=true", ""),
    ]
