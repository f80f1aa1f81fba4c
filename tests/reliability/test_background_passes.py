"""The background reconciliation of a serving bridge (``reconcile.interval`` > 0, ``adopt_on_start``): what
an operator sees of it in /metrics and the log when the master answers, and when it does not."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.config import ReconcileSettings, Settings
from bridge.determined import create_master_client
from bridge.web.app import create_app
from tests.conftest import LogReader
from tests.provisioning.faults import Rule, start_proxy
from tests.reliability.conftest import client_settings
from tests.reliability.test_retried_post import AUTH, _settings

HEADERS = {"Authorization": "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()}


def _periodic(settings: Settings) -> Settings:
    """A pass every 0.1 s, so a test sees one soon."""
    return dataclasses.replace(settings, reconcile=ReconcileSettings(interval=0.1))


async def _metric(bridge: TestClient[web.Request, web.Application], name: str, **labels: str) -> float:
    async with bridge.get("/metrics") as answer:
        text = await answer.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def _until_metric(bridge: TestClient[web.Request, web.Application], name: str, **labels: str) -> float:
    """The metric once a background pass has set it (the pass runs on this loop; nothing finer to await)."""
    for _ in range(400):
        value = await _metric(bridge, name, **labels)
        if value:
            return value
        await asyncio.sleep(0.05)
    return 0.0


async def test_a_periodic_pass_repairs_drift_and_publishes_its_outcome(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    bridge = await aiohttp_client(create_app(_periodic(_settings(emulator_url, tmp_path / "bridge.db"))))
    async with bridge.post(
        "/scim/v2/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob", "active": True},
        headers=HEADERS,
    ) as created:
        assert created.status == 201
    admin = create_master_client(client_settings(emulator_url))
    try:
        bob = await admin.get_user_by_username("bob")
        assert bob is not None
        await admin.patch_user(bob.id, active=False)  # behind the bridge's back
        assert await _until_metric(bridge, "scim_bridge_reconcile_drift_total", kind="user.deactivated") == 1
        assert (await admin.get_user(bob.id)).active is True
    finally:
        await admin.close()
    assert await _until_metric(bridge, "scim_bridge_reconcile_runs_total", outcome="ok") >= 1
    assert await _metric(bridge, "scim_bridge_reconcile_runs_total", outcome="failed") == 0
    assert await _metric(bridge, "scim_bridge_reconcile_last_success_timestamp_seconds") > 0


async def test_a_periodic_pass_the_master_cannot_answer_is_counted_failed_and_the_bridge_serves_on(
    emulator_url: str,
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    captured_logs: LogReader,
) -> None:
    proxy, server = await start_proxy(aiohttp_server, emulator_url)
    # A pass starts by asking the master who the bridge is (its own account is never drift).
    proxy.rules.append(Rule("GET", "/api/v1/me", status=503, times=10_000))
    settings = _periodic(_settings(str(server.make_url("")).rstrip("/"), tmp_path / "bridge.db"))
    bridge = await aiohttp_client(create_app(settings))
    assert await _until_metric(bridge, "scim_bridge_reconcile_runs_total", outcome="failed") >= 1
    assert await _metric(bridge, "scim_bridge_reconcile_runs_total", outcome="ok") == 0
    assert await _metric(bridge, "scim_bridge_reconcile_last_success_timestamp_seconds") == 0
    failures = [e for e in captured_logs() if e["event"] == "reconcile.pass_failed"]
    assert failures
    assert failures[0]["error"] == "MasterUnavailable"
    async with bridge.get("/scim/v2/Users", headers=HEADERS) as listed:
        assert listed.status == 200


async def test_adoption_at_start_up_that_the_master_cannot_answer_is_logged_and_the_bridge_serves(
    emulator_url: str,
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    captured_logs: LogReader,
) -> None:
    admin = create_master_client(client_settings(emulator_url))
    try:
        await admin.create_user("stranger", "Stranger", True)
    finally:
        await admin.close()
    proxy, server = await start_proxy(aiohttp_server, emulator_url)
    proxy.rules.append(Rule("GET", "/api/v1/me", status=503, times=10_000))
    settings = _settings(str(server.make_url("")).rstrip("/"), tmp_path / "bridge.db")
    settings = dataclasses.replace(settings, reconcile=ReconcileSettings(adopt_on_start=True))
    bridge = await aiohttp_client(create_app(settings))
    [failed] = [e for e in captured_logs() if e["event"] == "adoption.failed"]
    assert failed["error"] == "MasterUnavailable"
    assert not [e for e in captured_logs() if e["event"] == "adoption.report"]
    async with bridge.get('/scim/v2/Users?filter=userName eq "stranger"', headers=HEADERS) as found:
        assert found.status == 200
        assert (await found.json(content_type=None))["totalResults"] == 0
