"""A master that refuses connections: retries, circuit breaker, health, logging (issue 7, master faults)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from bridge.determined import (
    DeterminedClient,
    MasterClientSettings,
    MasterUnavailable,
    calls_made,
    start_counting,
)
from bridge.determined.client import create_master_client
from tests.conftest import LogReader


def _closed_port() -> int:
    # Bind then close: the port is free and nothing listens on it, so connects are refused by the OS.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class FakeClock:
    """Monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[DeterminedClient]:
    settings = MasterClientSettings(
        url=f"http://127.0.0.1:{_closed_port()}",
        token="v2.public.bridge-token-SECRET",
        username=None,
        password=None,
        connect_timeout=2.0,
        request_timeout=2.0,
        login_timeout=2.0,
        retries=2,
        breaker_threshold=4,
        breaker_cooldown=30.0,
    )
    # rng() == 0 makes every backoff delay zero: retries happen without waiting.
    master = create_master_client(settings, clock=clock, rng=lambda: 0.0)
    yield master
    await master.close()


async def test_refused_get_is_retried_then_unavailable(client: DeterminedClient) -> None:
    start_counting()
    with pytest.raises(MasterUnavailable) as info:
        await client.get_user(7)
    assert calls_made() == 3  # first attempt + 2 retries
    assert info.value.http_status == 503
    assert not client.healthy


async def test_refused_write_is_retried_because_nothing_was_sent(client: DeterminedClient) -> None:
    start_counting()
    with pytest.raises(MasterUnavailable):
        await client.create_group("ml-team")
    assert calls_made() == 3


async def test_breaker_opens_then_fails_fast_and_half_opens(
    client: DeterminedClient, clock: FakeClock
) -> None:
    with pytest.raises(MasterUnavailable):
        await client.get_user(7)  # 3 failures
    with pytest.raises(MasterUnavailable):
        await client.delete_group(9)  # 4th failure opens the circuit after its first attempt
    start_counting()
    with pytest.raises(MasterUnavailable) as info:
        await client.get_user(7)
    assert calls_made() == 0  # refused without touching the network
    assert info.value.retry_after == pytest.approx(30.0)
    assert not await client.ping()
    clock.now += 31.0
    start_counting()
    assert not await client.ping()  # the trial call goes out, fails, and re-opens the circuit
    assert calls_made() == 1


async def test_each_attempt_is_logged_without_secrets(
    client: DeterminedClient, captured_logs: LogReader
) -> None:
    with pytest.raises(MasterUnavailable):
        await client.get_user_by_username("jane.doe")
    events = [e for e in captured_logs() if e["event"] == "master.call"]
    assert len(events) == 3
    assert {e["path"] for e in events} == {"/api/v1/users/{name}/by-username"}
    assert {e["failure"] for e in events} == {"connect"}
    assert all(e["status"] is None and "duration_ms" in e for e in events)
    raw = captured_logs.raw()
    assert "SECRET" not in raw
    assert "jane.doe" not in raw
