"""The client against the emulator's fault injection (``app[EMULATOR_STATE].faults``): issue 7, master faults."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from bridge.determined import (
    DeterminedClient,
    MasterInternal,
    MasterThrottled,
    MasterUnavailable,
    calls_made,
    start_counting,
)
from bridge.emulator import EMULATOR_STATE, Faults
from tests.determined.conftest import ClientFactory


def faults(emulator: TestServer) -> Faults:
    return emulator.app[EMULATOR_STATE].faults


async def test_latency_beyond_the_timeout_is_unavailable_and_gets_are_retried(
    emulator: TestServer, make_client: ClientFactory
) -> None:
    client = make_client(request_timeout=0.1)
    await client.me()  # log in before the master slows down
    faults(emulator).configure(latency_ms=400)
    start_counting()
    with pytest.raises(MasterUnavailable) as info:
        await client.get_user(1)
    assert info.value.message == "master call timed out"
    assert calls_made() == 3


async def test_latency_on_a_write_is_not_retried(emulator: TestServer, make_client: ClientFactory) -> None:
    client = make_client(request_timeout=0.1)
    await client.me()
    faults(emulator).configure(latency_ms=400)
    start_counting()
    with pytest.raises(MasterUnavailable):
        await client.create_group("slow-team")
    assert calls_made() == 1


async def test_throttling_is_reported_with_retry_after(emulator: TestServer, admin: DeterminedClient) -> None:
    await admin.me()
    faults(emulator).configure(throttle_rate=1.0, retry_after=3)
    start_counting()
    with pytest.raises(MasterThrottled) as info:
        await admin.get_user(1)
    assert info.value.retry_after == 3.0
    assert info.value.grpc_code == 8
    assert calls_made() == 1


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_retry_gets_but_not_posts(
    emulator: TestServer, admin: DeterminedClient, status: int
) -> None:
    await admin.me()
    faults(emulator).configure(error_rate=1.0, error_status=status)
    start_counting()
    with pytest.raises(MasterUnavailable) as info:
        await admin.list_users()
    assert info.value.http_status == status
    assert calls_made() == 3
    start_counting()
    with pytest.raises(MasterUnavailable):
        await admin.create_user("never", "", active=True)
    assert calls_made() == 1


async def test_injected_500_is_internal_and_not_retried(
    emulator: TestServer, admin: DeterminedClient
) -> None:
    await admin.me()
    faults(emulator).configure(error_rate=1.0, error_status=500)
    start_counting()
    with pytest.raises(MasterInternal):
        await admin.get_user(1)
    assert calls_made() == 1


async def test_resets_retry_gets_but_not_patches(emulator: TestServer, admin: DeterminedClient) -> None:
    await admin.me()
    faults(emulator).configure(reset_rate=1.0)
    start_counting()
    with pytest.raises(MasterUnavailable):
        await admin.get_group(5)
    assert calls_made() == 3
    start_counting()
    with pytest.raises(MasterUnavailable):
        await admin.patch_user(2, active=True)
    assert calls_made() == 1


def _healthy(client: DeterminedClient) -> bool:
    # A call, so mypy does not narrow the property between assertions.
    return client.healthy


class FakeClock:
    """Monotonic clock advanced by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_outage_opens_the_circuit_and_recovery_closes_it(
    emulator: TestServer, make_client: ClientFactory
) -> None:
    clock = FakeClock()
    client = make_client(breaker_threshold=3, breaker_cooldown=20.0, retries=0, clock=clock)
    assert await client.ping()
    faults(emulator).configure(outage=True)
    for _ in range(3):
        with pytest.raises(MasterUnavailable):
            await client.get_user(1)
    assert not _healthy(client)
    start_counting()
    with pytest.raises(MasterUnavailable) as info:
        await client.get_user(1)
    assert calls_made() == 0
    assert info.value.retry_after == pytest.approx(20.0)
    faults(emulator).clear()
    assert not await client.ping()  # still cooling down: refused locally
    clock.now += 21.0
    assert await client.ping()
    assert _healthy(client)
    assert (await client.get_user(1)).username == "admin"
