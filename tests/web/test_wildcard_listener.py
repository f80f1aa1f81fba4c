"""``server.host: "::"`` (and ``metrics.host``) listens on every address of both families, as operators of
dual-stack hosts mean it: an IPv4 client reaches it, and the failed-attempts key and ``client_address`` are
its IPv4 address (real sockets, the runner's own listener, the real authentication middleware)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bridge.runner import Listener, start
from bridge.web.app import create_app
from bridge.web.metrics import OPERATOR_ENDPOINT
from tests.auth.apps import bare_app, settings_with
from tests.auth.fakes import FakeClock, auth_settings
from tests.conftest import LogReader
from tests.ops.settings import make_settings

WRONG = {"Authorization": "Bearer wrong-guess-token-abcdef123456"}


@pytest.fixture
def ipv6() -> None:
    """Skips where the host has no IPv6 at all: no IPv6 socket, or no ::1 to bind it to."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 on this host: {exc}")


@asynccontextmanager
async def listening(app: web.Application, host: str) -> AsyncIterator[int]:
    """`app` on the runner's listener for `host`, any free port; yields the port."""
    runner, started = await start(Listener(app, host, 0), shutdown_timeout=1)
    try:
        port = int(started.url.rsplit(":", 1)[1])
        assert started.url == f"http://[{host}]:{port}"
        yield port
    finally:
        await runner.cleanup()


@pytest.mark.usefixtures("ipv6")
async def test_an_ipv4_client_reaches_an_every_address_ipv6_listener(captured_logs: LogReader) -> None:
    app = bare_app(settings_with(auth_settings(limit=1)), FakeClock())
    async with listening(app, "::") as port, aiohttp.ClientSession() as http:
        users = "/scim/v2/Users"
        assert (await http.get(f"http://127.0.0.1:{port}{users}", headers=WRONG)).status == 401
        assert (await http.get(f"http://127.0.0.1:{port}{users}", headers=WRONG)).status == 429
        # An IPv6 client is another client, with a budget of its own.
        assert (await http.get(f"http://[::1]:{port}{users}", headers=WRONG)).status == 401
        assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status == 200
    events = captured_logs()
    assert [e["client_address"] for e in events if e.get("event") == "auth.rejected"] == ["127.0.0.1", "::1"]
    assert [e["client_address"] for e in events if e.get("event") == "auth.rate_limited"] == ["127.0.0.1"]


@pytest.mark.usefixtures("ipv6")
async def test_an_ipv6_literal_host_other_than_every_address_stays_ipv6_only() -> None:
    app = bare_app(settings_with(auth_settings()), FakeClock())
    async with listening(app, "::1") as port, aiohttp.ClientSession() as http:
        assert (await http.get(f"http://[::1]:{port}/healthz")).status == 200
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://127.0.0.1:{port}/healthz")


@pytest.mark.usefixtures("ipv6")
async def test_the_operator_listener_on_every_address_takes_ipv4_clients(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, metrics={"host": "::", "port": 0}))
    runner = web.AppRunner(app)
    await runner.setup()  # the operator listener starts with the app
    try:
        url = app[OPERATOR_ENDPOINT].url
        assert url is not None
        assert url.startswith("http://[::]:")
        port = url.rsplit(":", 1)[1]
        async with aiohttp.ClientSession() as http:
            response = await http.get(f"http://127.0.0.1:{port}/metrics")
            assert response.status == 200
            assert "scim_bridge_requests_total" in await response.text()
    finally:
        await runner.cleanup()
