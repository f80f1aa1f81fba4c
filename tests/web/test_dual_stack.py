"""A listener whose socket takes both families (IPV6_V6ONLY off, as a proxy's ``[::]`` with ipv6only=off, or a
socket handed over) sees an IPv4 client as ``::ffff:127.0.0.1``: trusted proxies, the failed-attempts key and
the operator endpoints' loopback rule treat it as the IPv4 address it is (real sockets, real middlewares)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bridge.config import MetricsSettings
from bridge.web import proxies
from bridge.web.forwarded import PublicUrl
from bridge.web.operator_access import operator_allowed
from bridge.web.proxies import TrustedProxies, parse_address
from tests.auth.apps import bare_app, settings_with
from tests.auth.fakes import FakeClock, auth_settings
from tests.conftest import LogReader
from tests.ops.settings import make_settings

WRONG = {"Authorization": "Bearer wrong-guess-token-abcdef123456"}


def _dual_stack_socket() -> socket.socket:
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("no IPv6 on this host")
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", 0))
    return sock


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[Callable[[str], str]]:
    """`app` on a dual-stack socket; yields the URL of a path as an IPv4 client reaches it."""
    sock = _dual_stack_socket()
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        port = sock.getsockname()[1]
        yield lambda path: f"http://127.0.0.1:{port}{path}"
    finally:
        await runner.cleanup()


async def test_the_listener_reports_an_ipv4_client_as_mapped() -> None:
    seen: list[str] = []

    async def remote(request: web.Request) -> web.Response:
        seen.append(request.remote or "")
        return web.Response()

    probe = web.Application()
    probe.router.add_get("/remote", remote)
    async with serving(probe) as url, aiohttp.ClientSession() as http:
        await http.get(url("/remote"))
    assert seen == ["::ffff:127.0.0.1"]


async def test_an_ipv4_trusted_proxy_on_a_dual_stack_listener_is_trusted(captured_logs: LogReader) -> None:
    settings = settings_with(auth_settings(limit=1), trusted_proxies=("127.0.0.1",))
    async with serving(bare_app(settings, FakeClock())) as url, aiohttp.ClientSession() as http:
        first = await http.get(url("/scim/v2/Users"), headers={**WRONG, "X-Forwarded-For": "203.0.113.7"})
        assert first.status == 401
        # The same client, as a dual-stack proxy further out writes it: one key, so blocked.
        mapped = {**WRONG, "X-Forwarded-For": "::ffff:203.0.113.7"}
        assert (await http.get(url("/scim/v2/Users"), headers=mapped)).status == 429
        # Another client behind the same proxy has budget of its own: the proxy was trusted.
        other = {**WRONG, "X-Forwarded-For": "198.51.100.1"}
        assert (await http.get(url("/scim/v2/Users"), headers=other)).status == 401
    events = captured_logs()
    assert [e["client_address"] for e in events if e.get("event") == "auth.rejected"] == [
        "203.0.113.7",
        "198.51.100.1",
    ]
    assert [e["client_address"] for e in events if e.get("event") == "auth.rate_limited"] == ["203.0.113.7"]


async def test_an_untrusted_mapped_peer_is_keyed_by_its_ipv4_address(captured_logs: LogReader) -> None:
    settings = settings_with(auth_settings(limit=1), trusted_proxies=("10.0.0.0/8",))
    async with serving(bare_app(settings, FakeClock())) as url, aiohttp.ClientSession() as http:
        spoofed = {**WRONG, "X-Forwarded-For": "10.1.1.1"}
        assert (await http.get(url("/scim/v2/Users"), headers=spoofed)).status == 401
        assert (await http.get(url("/scim/v2/Users"), headers=WRONG)).status == 429
    rejected = [e["client_address"] for e in captured_logs() if e.get("event") == "auth.rejected"]
    assert rejected == ["127.0.0.1"]


async def test_forwarding_headers_from_a_mapped_trusted_peer_are_believed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, server={"trusted_proxies": ["127.0.0.0/8"]})
    public = PublicUrl.from_settings(settings, TrustedProxies.from_entries(settings.server.trusted_proxies))

    async def where(request: web.Request) -> web.Response:
        return web.Response(text=public.base_url(request))

    app = web.Application()
    app.router.add_get("/where", where)
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "scim.example.com"}
    async with serving(app) as url, aiohttp.ClientSession() as http:
        answer = await http.get(url("/where"), headers=headers)
        assert await answer.text() == "https://scim.example.com/scim/v2"


async def test_a_local_client_through_a_dual_stack_listener_is_loopback() -> None:
    async def status(request: web.Request) -> web.Response:
        allowed = operator_allowed(request, MetricsSettings(), open_without_token=False)
        return web.Response(status=200 if allowed else 401)

    app = web.Application()
    app.router.add_get("/status", status)
    async with serving(app) as url, aiohttp.ClientSession() as http:
        assert (await http.get(url("/status"))).status == 200


async def test_a_proxied_request_parses_each_address_once(
    monkeypatch: pytest.MonkeyPatch, captured_logs: LogReader
) -> None:
    """The mapped peer (our proxy) and the mapped hop it forwards for: two addresses, two parses (it was four:
    once for the key, once for the trust, of each)."""
    parsed: list[str] = []

    def counted(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        parsed.append(address)
        return parse_address(address)

    settings = settings_with(auth_settings(), trusted_proxies=("127.0.0.1",))
    async with serving(bare_app(settings, FakeClock())) as url, aiohttp.ClientSession() as http:
        monkeypatch.setattr(proxies, "parse_address", counted)
        headers = {**WRONG, "X-Forwarded-For": "::ffff:203.0.113.7"}
        assert (await http.get(url("/scim/v2/Users"), headers=headers)).status == 401
    assert parsed == ["::ffff:127.0.0.1", "::ffff:203.0.113.7"]
    rejected = [e["client_address"] for e in captured_logs() if e.get("event") == "auth.rejected"]
    assert rejected == ["203.0.113.7"]
