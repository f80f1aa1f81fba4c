"""The credential middleware over a real socket: login, single-flight re-login and replay, bearer mode (§4.1, §7.1).

The upstream is a small token-checking aiohttp app, so that the test can invalidate every session at a
chosen moment and count logins exactly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from bridge.determined import (
    DeterminedClient,
    MasterClientSettings,
    MasterUnauthorized,
    calls_made,
    create_master_client,
    start_counting,
)
from tests.determined.conftest import ClientTarget

USER = {"id": 1, "username": "admin", "admin": True, "active": True, "displayName": "", "remote": False}
PASSWORD = "Adm1n-pass"


def _unauthorized(text: str) -> web.Response:
    return web.json_response({"error": {"code": 16, "reason": "Unauthenticated", "error": text}}, status=401)


@dataclass
class Master:
    """Sessions the fake master accepts, and what it saw."""

    valid: set[str] = field(default_factory=lambda: {"v2.public.static"})
    logins: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)


@pytest.fixture
async def master(aiohttp_server: AiohttpServer) -> tuple[Master, TestServer]:
    state = Master()

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        state.logins.append(body)
        expected = hashlib.sha512(("GubPEmmotfiK9TMD6Zdw" + PASSWORD).encode()).hexdigest()
        if body != {"username": "admin", "password": expected, "isHashed": True}:
            return _unauthorized("invalid credentials")
        token = f"v2.public.session-{len(state.logins)}"
        state.valid.add(token)
        return web.json_response({"token": token, "user": USER})

    async def api(request: web.Request) -> web.Response:
        state.bodies.append(await request.text())
        header = request.headers.get("Authorization", "")
        if not header:
            return _unauthorized("token missing")
        if header.removeprefix("Bearer ") not in state.valid:
            return _unauthorized("invalid credentials")
        return web.json_response({"user": USER})

    app = web.Application()
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_route("*", "/api/v1/{tail:.*}", api)
    return state, await aiohttp_server(app)


@pytest.fixture
def client_target(master: tuple[Master, TestServer]) -> ClientTarget:
    """make_client (conftest.py) builds clients of the fake master, logging in with PASSWORD."""
    return ClientTarget(str(master[1].make_url("")), PASSWORD)


async def test_concurrent_first_calls_log_in_once(
    master: tuple[Master, TestServer], make_client: Callable[..., DeterminedClient]
) -> None:
    state, _ = master
    client = make_client()
    await asyncio.gather(*(client.me() for _ in range(8)))
    assert len(state.logins) == 1
    assert client.credential.logins == 1


async def test_invalidated_session_relogs_in_once_and_replays_with_body(
    master: tuple[Master, TestServer], make_client: Callable[..., DeterminedClient]
) -> None:
    state, _ = master
    client = make_client()
    await client.me()
    state.valid.clear()  # e.g. a password change deleted every login session (§4.8)
    state.bodies.clear()
    start_counting()
    users = await asyncio.gather(*(client.patch_user(1, active=True) for _ in range(6)))
    assert {u.id for u in users} == {1}
    assert len(state.logins) == 2
    # Every 401'd request was replayed once with its body intact.
    assert [json.loads(body) for body in state.bodies].count({"active": True}) == 12
    assert calls_made() == 13  # 6 calls + 6 replays + 1 login


async def test_wrong_password_surfaces_unauthorized(
    master: tuple[Master, TestServer], make_client: Callable[..., DeterminedClient]
) -> None:
    client = make_client(password="nope")
    with pytest.raises(MasterUnauthorized) as info:
        await client.me()
    assert info.value.message == "invalid credentials"


async def test_bearer_only_never_logs_in(
    master: tuple[Master, TestServer], make_client: Callable[..., DeterminedClient]
) -> None:
    state, _ = master
    client = make_client(token="v2.public.static", username=None, password=None)
    assert (await client.me()).id == 1
    state.valid.clear()  # the access token was revoked
    with pytest.raises(MasterUnauthorized):
        await client.me()
    assert state.logins == []
    assert not client.credential.uses_login


async def test_rejected_token_falls_back_to_login_when_configured(
    master: tuple[Master, TestServer], make_client: Callable[..., DeterminedClient]
) -> None:
    state, _ = master
    client = make_client(token="v2.public.revoked")
    assert (await client.me()).id == 1
    assert len(state.logins) == 1


def test_a_token_with_a_line_break_is_refused() -> None:
    # Header lines are written as given: a line break in the token would smuggle in another header.
    settings = MasterClientSettings(
        url="http://127.0.0.1:1",
        token="v2.public.static\r\nX-Admin: yes",
        username=None,
        password=None,
        connect_timeout=1.0,
        request_timeout=1.0,
        login_timeout=1.0,
    )
    with pytest.raises(ValueError, match="line breaks"):
        create_master_client(settings)
