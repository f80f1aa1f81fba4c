"""The background reconciliation of a serving bridge (``reconcile.interval`` > 0, ``adopt_on_start``): what
an operator sees of it in /metrics and the log when the master answers, and when it does not."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.config import ReconcileSettings
from bridge.determined import DeterminedClient
from bridge.web.app import create_app
from tests.conftest import LogReader
from tests.provisioning.faults import Rule, start_proxy
from tests.reliability.passes import deactivate, metric, periodic, until_metric
from tests.reliability.test_retried_post import AUTH, _settings

HEADERS = {"Authorization": "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()}


@pytest.fixture
async def unanswering_url(aiohttp_server: AiohttpServer, emulator_url: str) -> str:
    """A proxy in front of the emulator that answers ``GET /api/v1/me`` 503, always: a pass, and adoption at
    start-up, begin by asking the master who the bridge is (its own account is never drift)."""
    proxy, server = await start_proxy(aiohttp_server, emulator_url)
    proxy.rules.append(Rule("GET", "/api/v1/me", status=503, times=10_000))
    return str(server.make_url("")).rstrip("/")


async def test_a_periodic_pass_repairs_drift_and_publishes_its_outcome(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient, admin: DeterminedClient
) -> None:
    bridge = await aiohttp_client(create_app(periodic(_settings(emulator_url, tmp_path / "bridge.db"))))
    async with bridge.post(
        "/scim/v2/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob", "active": True},
        headers=HEADERS,
    ) as created:
        assert created.status == 201
    bob = await deactivate(admin, "bob")
    assert await until_metric(bridge, "scim_bridge_reconcile_drift_total", kind="user.deactivated") == 1
    assert (await admin.get_user(bob.id)).active is True
    assert await until_metric(bridge, "scim_bridge_reconcile_runs_total", outcome="ok") >= 1
    assert await metric(bridge, "scim_bridge_reconcile_runs_total", outcome="failed") == 0
    assert await metric(bridge, "scim_bridge_reconcile_last_success_timestamp_seconds") > 0


async def test_a_periodic_pass_the_master_cannot_answer_is_counted_failed_and_the_bridge_serves_on(
    unanswering_url: str, tmp_path: Path, aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    bridge = await aiohttp_client(create_app(periodic(_settings(unanswering_url, tmp_path / "bridge.db"))))
    assert await until_metric(bridge, "scim_bridge_reconcile_runs_total", outcome="failed") >= 1
    assert await metric(bridge, "scim_bridge_reconcile_runs_total", outcome="ok") == 0
    assert await metric(bridge, "scim_bridge_reconcile_last_success_timestamp_seconds") == 0
    failures = [e for e in captured_logs() if e["event"] == "reconcile.pass_failed"]
    assert failures
    assert failures[0]["error"] == "MasterUnavailable"
    async with bridge.get("/scim/v2/Users", headers=HEADERS) as listed:
        assert listed.status == 200


async def test_adoption_at_start_up_that_the_master_cannot_answer_is_logged_and_the_bridge_serves(
    unanswering_url: str,
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    admin: DeterminedClient,
    captured_logs: LogReader,
) -> None:
    await admin.create_user("stranger", "Stranger", True)
    settings = _settings(unanswering_url, tmp_path / "bridge.db")
    settings = dataclasses.replace(settings, reconcile=ReconcileSettings(adopt_on_start=True))
    bridge = await aiohttp_client(create_app(settings))
    [failed] = [e for e in captured_logs() if e["event"] == "adoption.failed"]
    assert failed["error"] == "MasterUnavailable"
    assert not [e for e in captured_logs() if e["event"] == "adoption.report"]
    async with bridge.get('/scim/v2/Users?filter=userName eq "stranger"', headers=HEADERS) as found:
        assert found.status == 200
        assert (await found.json(content_type=None))["totalResults"] == 0
