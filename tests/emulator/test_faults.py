"""Fault injection: latency, error rate, resets, outage, 429 + Retry-After, seeded and over HTTP."""

from __future__ import annotations

import aiohttp
import pytest
from pytest_aiohttp import AiohttpClient

from bridge.emulator import EMULATOR_STATE, EmulatorConfig, Faults
from tests.emulator.conftest import Master, start_master


def test_decisions_replay_under_one_seed() -> None:
    first, second, other = Faults(seed=7), Faults(seed=7), Faults(seed=8)
    for faults in (first, second, other):
        faults.configure(
            latency_ms=5, latency_jitter_ms=20, error_rate=0.3, reset_rate=0.1, throttle_rate=0.2
        )
    runs = [[faults.decide() for _ in range(50)] for faults in (first, second, other)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {d.action for d in runs[0]} == {"pass", "error", "reset", "throttle"}
    assert all(0.005 <= d.delay_s <= 0.025 for d in runs[0])


def test_clear_restarts_the_sequence() -> None:
    faults = Faults(seed=3)
    faults.configure(error_rate=0.5)
    before = [faults.decide().action for _ in range(20)]
    faults.clear()
    assert faults.decide().action == "pass"
    faults.configure(error_rate=0.5, seed=3)
    assert [faults.decide().action for _ in range(20)] == before


def test_configure_rejects_nonsense() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="error_rate"):
        faults.configure(error_rate=1.5)
    with pytest.raises(ValueError, match="error_status"):
        faults.configure(error_status=200)


async def test_latency_still_answers(master: Master) -> None:
    master.state.faults.configure(latency_ms=1, latency_jitter_ms=2)
    assert (await master.call("GET", "/api/v1/master")).status == 200


async def test_error_rate_with_chosen_status(master: Master) -> None:
    master.state.faults.configure(error_rate=1.0, error_status=502)
    reply = await master.call("GET", "/api/v1/master")
    assert reply.status == 502
    assert reply.error == "emulated failure"


async def test_seeded_error_pattern_is_reproducible(aiohttp_client: AiohttpClient) -> None:
    patterns = []
    for _ in range(2):
        master = await start_master(aiohttp_client, EmulatorConfig(seed=42))
        master.state.faults.configure(error_rate=0.5)
        patterns.append([(await master.call("GET", "/api/v1/master")).status for _ in range(16)])
    assert patterns[0] == patterns[1]
    assert set(patterns[0]) == {200, 503}


async def test_connection_reset(master: Master) -> None:
    master.state.faults.configure(reset_rate=1.0)
    with pytest.raises(aiohttp.ClientConnectionError):
        await master.call("GET", "/api/v1/master")
    master.state.faults.clear()
    assert (await master.call("GET", "/api/v1/master")).status == 200


async def test_outage_window(master: Master) -> None:
    master.state.faults.configure(outage=True)
    reply = await master.call("POST", "/api/v1/auth/login", json={"username": "admin"})
    assert (reply.status, reply.body["error"]["reason"]) == (503, "Unavailable")
    master.state.faults.configure(outage=False)
    assert (await master.call("POST", "/api/v1/auth/login", json={"username": "admin"})).status == 200


async def test_throttle_with_retry_after(master: Master) -> None:
    master.state.faults.configure(throttle_rate=1.0, retry_after=7)
    reply = await master.call("GET", "/api/v1/master")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "7"
    assert reply.body["error"]["reason"] == "ResourceExhausted"


async def test_admin_endpoint_when_enabled(aiohttp_client: AiohttpClient) -> None:
    master = await start_master(aiohttp_client, EmulatorConfig(admin_endpoint=True, seed=5))
    put = await master.call("PUT", "/emulator/faults", json={"throttle_rate": 1, "retry_after": 3})
    assert put.status == 200
    assert put.body["throttle_rate"] == 1
    assert master.client.app[EMULATOR_STATE].faults.plan.retry_after == 3
    assert (await master.call("GET", "/api/v1/master")).status == 429
    # The control endpoint itself is never faulted.
    assert (await master.call("GET", "/emulator/faults")).body["seed"] == 5
    bad = await master.call("PUT", "/emulator/faults", json={"bogus": 1})
    assert bad.status == 400
    assert (await master.call("DELETE", "/emulator/faults")).status == 200
    assert (await master.call("GET", "/api/v1/master")).status == 200


async def test_admin_endpoint_off_by_default(master: Master) -> None:
    reply = await master.call("PUT", "/emulator/faults", json={"outage": True})
    assert (reply.status, reply.error) == (501, "Not Implemented")
    assert master.state.faults.plan.outage is False
