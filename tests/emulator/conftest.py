"""Fixtures: a real emulator on a socket and a small JSON caller for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from bridge.emulator import EMULATOR_STATE, EmulatorConfig, EmulatorState, create_emulator_app


@dataclass(frozen=True, slots=True)
class Reply:
    """Status, headers and decoded JSON body of one emulator response."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error(self) -> str:
        """The envelope's `error.error` text."""
        return str(self.body["error"]["error"])


class Master:
    """Calls the emulator over HTTP and logs users in."""

    def __init__(self, client: TestClient[web.Request, web.Application]) -> None:
        self.client = client

    @property
    def state(self) -> EmulatorState:
        """The emulator's in-memory state."""
        return self.client.app[EMULATOR_STATE]

    async def call(
        self, method: str, path: str, token: str | None = None, json: Any = None, *, raw: bytes | None = None
    ) -> Reply:
        """One request; `json` is encoded unless `raw` bytes are given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: dict[str, Any] = (
            {"data": raw} if raw is not None else ({"json": json} if json is not None else {})
        )
        async with self.client.request(method, path, headers=headers, **kwargs) as response:
            text = await response.text()
            body: Any = None
            if text:
                body = await response.json(content_type=None)
            return Reply(response.status, body, dict(response.headers))

    async def login(self, username: str, password: str = "") -> str:
        """Log in with a plaintext password; return the session token."""
        reply = await self.call(
            "POST", "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert reply.status == 200, reply.body
        return str(reply.body["token"])

    async def create_user(self, token: str, username: str, **fields: Any) -> dict[str, Any]:
        """PostUser as `token`'s user; active unless told otherwise."""
        user = {"username": username, "active": True, **fields}
        password = user.pop("password", "")
        reply = await self.call("POST", "/api/v1/users", token, {"user": user, "password": password})
        assert reply.status == 200, reply.body
        return dict(reply.body["user"])


async def start_master(aiohttp_client: AiohttpClient, config: EmulatorConfig | None = None) -> Master:
    """Serve a fresh emulator and wrap a client for it."""
    # No cookie jar: the login `auth` cookie would otherwise authenticate every later call (§1.2).
    return Master(await aiohttp_client(create_emulator_app(config), cookie_jar=DummyCookieJar()))


@pytest.fixture
async def master(aiohttp_client: AiohttpClient) -> Master:
    """A fresh basic-mode emulator."""
    return await start_master(aiohttp_client)


@pytest.fixture
async def admin_token(master: Master) -> str:
    """A login session of the built-in admin (blank password)."""
    return await master.login("admin")
