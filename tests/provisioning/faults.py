"""A fault-injecting proxy in front of the emulator: real HTTP both ways, faults only where a rule says so."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.idp.harness import World, start_world


@dataclass
class Rule:
    """For the next `times` requests matching method and path regex, after letting the first `skip` of them
    through: answer `status` with the master's envelope, or (`after_forward`) forward first and then cut the
    connection, as a lost response would, or (`meanwhile`) forward, run another writer, then pass the master's
    answer on, as an answer still on its way while something else acts would. With `page`, the answer is that
    HTML page instead of an envelope, as a proxy's own error page is. With `reshaped`, forward first and then
    answer 200 with that JSON text instead of the master's answer, as a master of another version would. With
    `hold`, answer `status` at once but keep the request, which `FaultProxy.land_held` forwards later: a master
    still applying a request the bridge gave up on (it lands after the bridge has moved on)."""

    method: str
    path: str
    status: int = 500
    text: str = "injected"
    headers: dict[str, str] = field(default_factory=dict)
    after_forward: bool = False
    times: int = 1
    skip: int = 0
    meanwhile: Callable[[], Awaitable[None]] | None = None
    page: str | None = None
    reshaped: str | None = None
    hold: bool = False

    def matches(self, request: web.Request) -> bool:
        return (
            self.times > 0
            and request.method == self.method
            and re.fullmatch(self.path, request.path) is not None
        )


# The master's paths a Rule names (regexes, matched whole).
USERS_PATH = r"/api/v1/users"
USER_PATH = r"/api/v1/users/\d+"
GROUPS_PATH = r"/api/v1/groups"
GROUP_PATH = r"/api/v1/groups/\d+"
# Member changes and a deleted user's group exits go through AssignMultipleGroups (§4.16).
ASSIGNMENTS_PATH = r"/api/v1/users/assignments"

# What a proxy or a wrong path answers: a 404 that is not the master's answer about any user or group.
PROXY_404 = "404 page not found"
# A proxy's own 404 page that happens to contain the master's words: an SSO gateway in front of the master that
# does not know the session's user. It says nothing about any Determined user.
PROXY_PAGE_USER_NOT_FOUND = (
    "<html><body><h1>404 Not Found</h1><p>sso-gateway: user not found in session store</p></body></html>"
)

_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 503: 14}


@dataclass
class FaultProxy:
    """Forwards to `upstream` unless a rule fires; `seen` lists every request as `METHOD /path`."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    # Requests a `hold` rule kept: method, path and query, body, headers.
    held: list[tuple[str, str, bytes, dict[str, str]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(f"{request.method} {request.path}")
        rule = next((r for r in self.rules if r.matches(request)), None)
        if rule is not None and rule.skip > 0:
            rule.skip -= 1
            rule = None
        if rule is not None:
            rule.times -= 1
            if rule.hold:
                self.held.append((request.method, request.path_qs, await request.read(), _forwarded(request)))
            if rule.page is not None:
                return web.Response(status=rule.status, text=rule.page, content_type="text/html")
            if not rule.after_forward and rule.meanwhile is None and rule.reshaped is None:
                code = _CODES.get(rule.status, 2)
                return web.json_response(
                    {"error": {"code": code, "reason": "Injected", "error": rule.text}},
                    status=rule.status,
                    headers=rule.headers,
                )
        status, payload, content_type = await self._forward(
            request.method, request.path_qs, await request.read(), _forwarded(request)
        )
        if rule is not None and rule.meanwhile is not None:
            await rule.meanwhile()
        if rule is not None and rule.reshaped is not None:
            return web.Response(status=200, text=rule.reshaped, content_type="application/json")
        if rule is not None and rule.after_forward:
            # The master applied the write; the bridge never hears back (a reset mid-response).
            assert request.transport is not None
            request.transport.close()
            raise web.HTTPServiceUnavailable
        return web.Response(status=status, body=payload, content_type=content_type)

    async def land_held(self) -> list[int]:
        """Forward the requests `hold` rules kept, oldest first; the master's statuses (nobody hears them)."""
        held, self.held = self.held, []
        return [(await self._forward(*request))[0] for request in held]

    async def _forward(
        self, method: str, path_qs: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.upstream + path_qs, data=body, headers=headers) as answer,
        ):
            return answer.status, await answer.read(), answer.content_type


def _forwarded(request: web.Request) -> dict[str, str]:
    """The headers the master needs of a request: its credentials and body type."""
    return {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}


async def start_proxy(aiohttp_server: AiohttpServer, upstream: str) -> tuple[FaultProxy, TestServer]:
    """The proxy on its own socket."""
    proxy = FaultProxy(upstream.rstrip("/"))
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    server: TestServer = await aiohttp_server(app)
    return proxy, server


async def start_world_behind_proxy(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, **overrides: Any
) -> tuple[World, FaultProxy]:
    """The bridge talking to the emulator through a FaultProxy (the MasterView still reads the emulator);
    `overrides` as for `start_world`."""
    proxies: list[FaultProxy] = []

    async def through_proxy(emulator_url: str) -> str:
        proxy, server = await start_proxy(aiohttp_server, emulator_url)
        proxies.append(proxy)
        return str(server.make_url("")).rstrip("/")

    world = await start_world(
        aiohttp_server, aiohttp_client, tmp_path, bridge_master_url=through_proxy, **overrides
    )
    return world, proxies[0]
