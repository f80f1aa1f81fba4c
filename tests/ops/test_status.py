"""GET /status (loopback or metrics.token) and the ``scim-bridge status`` command that formats it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge import __version__
from bridge.commands.status import format_status, instance_url, run_status
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.store import UserFields
from bridge.web.app import create_app
from bridge.web.keys import STORE
from bridge.web.metrics import METRICS
from bridge.web.operator_access import operator_allowed
from bridge.web.readiness import READINESS
from bridge.web.status import STATUS_COUNTS
from tests.determined.test_transport import redirecting, serving
from tests.ops.settings import METRICS_TOKEN, make_settings


async def _emulated_master(aiohttp_server: AiohttpServer) -> str:
    server = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password="Adm1n-password")))
    return str(server.make_url("")).rstrip("/")


async def test_status_summary(
    tmp_path: Path, aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer
) -> None:
    master_url = await _emulated_master(aiohttp_server)
    app = create_app(make_settings(tmp_path, master={"url": master_url}))

    async def users() -> int:
        return 42

    async def failing_check() -> str | None:
        return "database locked"

    app[STATUS_COUNTS]["extra"] = users
    app[METRICS].observe_reconcile("ok", {}, 1_767_225_600.0)
    client = await aiohttp_client(app)
    app[READINESS]["store"] = failing_check
    store = app[STORE]
    await store.insert_user(
        scim_id="u-1",
        det_id=7,
        fields=UserFields(user_name="jane", external_id=None, display_name=None, active=True, doc={}),
    )
    for target in ("u-1", "u-2"):
        await store.begin_intent(
            request_id="r", operation="patch", resource_type="User", target=target, payload_digest="d"
        )
    assert (await client.get("/healthz")).status == 200
    response = await client.get("/status")
    assert response.status == 200
    body = await response.json()
    assert body["version"] == __version__
    assert body["mode"] == "normal"
    assert body["uptime_seconds"] >= 0
    assert body["counts"] == {"users": 1, "groups": 0, "extra": 42}
    assert body["intents_pending"] == 2
    assert body["last_reconcile"] == "2026-01-01T00:00:00+00:00"
    assert body["requests_total"] == 1
    assert body["checks"] == {"database": "ok", "master": "ok", "store": "database locked"}
    assert body["master"]["url"] == master_url
    assert body["master"]["reachable"] is True
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", body["master"]["version"])


async def test_status_master_unreachable(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    body = await (await client.get("/status")).json()
    assert body["master"]["reachable"] is False
    assert body["master"]["error"] == "cannot connect to master: ConnectionRefusedError"


async def test_status_names_a_master_redirect(
    tmp_path: Path, aiohttp_server: AiohttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serving(redirecting()) as master:
        settings = make_settings(tmp_path, master={"url": master.url}, metrics={"token": METRICS_TOKEN})
        bridge = await aiohttp_server(create_app(settings))
        token_file = tmp_path / "metrics-token"
        token_file.write_text(METRICS_TOKEN + "\n")
        assert (
            await run_status(_args(url=str(bridge.make_url("")).rstrip("/"), token_file=str(token_file))) == 0
        )
        await bridge.close()
    out = capsys.readouterr().out
    assert (
        f"master           {master.url} UNREACHABLE (master answered 301 redirect to "
        "https://master.example:8443/api/v1/master; the bridge does not follow redirects: "
        "set master.url to https://master.example:8443)"
    ) in out


async def test_status_token(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(make_settings(tmp_path, metrics={"token": METRICS_TOKEN})))
    assert (await client.get("/status")).status == 401
    ok = await client.get("/status", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert ok.status == 200


@pytest.mark.parametrize(
    ("peer", "token", "header", "open_without_token", "allowed"),
    [
        ("127.0.0.1", None, None, False, True),
        ("::1", None, None, False, True),
        ("192.0.2.7", None, None, False, False),
        ("192.0.2.7", None, None, True, True),
        ("192.0.2.7", METRICS_TOKEN, f"Bearer {METRICS_TOKEN}", False, True),
        ("127.0.0.1", METRICS_TOKEN, None, False, False),
        ("127.0.0.1", METRICS_TOKEN, f"Basic {METRICS_TOKEN}", True, False),
    ],
)
def test_operator_access_rule(
    tmp_path: Path, peer: str, token: str | None, header: str | None, open_without_token: bool, allowed: bool
) -> None:
    settings = make_settings(tmp_path, metrics={"token": token} if token else {})
    # A non-loopback peer cannot be produced on this machine's sockets; the transport is faked for it.
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 4242) if name == "peername" else default
    )
    headers = {"Authorization": header} if header else {}
    request = make_mocked_request("GET", "/status", headers=headers, transport=transport)
    assert operator_allowed(request, settings.metrics, open_without_token=open_without_token) is allowed


def test_format_status() -> None:
    text = format_status(
        {
            "version": "1.2.3",
            "mode": "shadow",
            "started_at": "2026-12-04T10:00:00+00:00",
            "uptime_seconds": 93784.2,
            "counts": {"users": 10, "groups": 3},
            "intents_pending": 0,
            "last_reconcile": None,
            "reconcile_interval": 0,
            "requests_total": 17,
            "checks": {"master": "ok"},
            "master": {"url": "https://det.example", "reachable": False, "error": "ClientConnectorError"},
        }
    )
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in text.splitlines())
    assert lines["version"] == "1.2.3"
    assert lines["uptime"] == "1d 2h 3m (since 2026-12-04T10:00:00+00:00)"
    assert lines["counts"] == "groups 3, users 10"
    assert lines["last reconcile"] == "disabled (reconcile.interval is 0)"
    assert lines["master"] == "https://det.example UNREACHABLE (ClientConnectorError)"


def test_instance_url(tmp_path: Path) -> None:
    wildcard = make_settings(tmp_path, server={"host": "0.0.0.0", "port": 8443})  # noqa: S104
    assert instance_url(wildcard) == "http://127.0.0.1:8443"
    assert instance_url(make_settings(tmp_path, metrics={"port": 9102})) == "http://127.0.0.1:9102"


def _args(**values: object) -> argparse.Namespace:
    defaults: dict[str, object] = {
        "config": None,
        "url": None,
        "token_file": None,
        "ca_file": None,
        "insecure": False,
    }
    return argparse.Namespace(**{**defaults, **values})


async def test_status_command(
    tmp_path: Path, aiohttp_server: AiohttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = await aiohttp_server(create_app(make_settings(tmp_path, metrics={"token": METRICS_TOKEN})))
    url = str(server.make_url("")).rstrip("/")
    token_file = tmp_path / "metrics-token"
    token_file.write_text(METRICS_TOKEN + "\n")
    assert await run_status(_args(url=url, token_file=str(token_file))) == 0
    out = capsys.readouterr().out
    assert f"version          {__version__}" in out
    assert "master           http://127.0.0.1:9 UNREACHABLE" in out
    assert await run_status(_args(url=url)) == 1
    assert "answered 401" in capsys.readouterr().err
    assert await run_status(_args(url="http://127.0.0.1:9")) == 1
    assert "cannot reach" in capsys.readouterr().err
