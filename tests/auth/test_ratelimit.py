"""The failed-attempt limiter alone, on a fake clock."""

from __future__ import annotations

import pytest

from bridge.auth.failures import TooManyFailures
from bridge.auth.ratelimit import FailedAttemptLimiter
from tests.auth.fakes import FakeClock


def fail(limiter: FailedAttemptLimiter, address: str, times: int) -> None:
    for _ in range(times):
        limiter.check(address)
        limiter.record_failure(address)


def test_blocks_after_budget_with_retry_after() -> None:
    clock = FakeClock()
    limiter = FailedAttemptLimiter(6, clock)  # one unit refills every 10 s
    fail(limiter, "203.0.113.7", 6)
    with pytest.raises(TooManyFailures) as caught:
        limiter.check("203.0.113.7")
    assert caught.value.retry_after == 10
    clock.advance(4)
    with pytest.raises(TooManyFailures) as later:
        limiter.check("203.0.113.7")
    assert later.value.retry_after == 6


def test_other_addresses_are_unaffected() -> None:
    limiter = FailedAttemptLimiter(2, FakeClock())
    fail(limiter, "203.0.113.7", 2)
    limiter.check("198.51.100.1")
    with pytest.raises(TooManyFailures):
        limiter.check("203.0.113.7")


def test_budget_refills_over_time() -> None:
    clock = FakeClock()
    limiter = FailedAttemptLimiter(60, clock)
    fail(limiter, "a", 60)
    with pytest.raises(TooManyFailures):
        limiter.check("a")
    clock.advance(1)
    limiter.check("a")
    limiter.record_failure("a")
    with pytest.raises(TooManyFailures):
        limiter.check("a")
    clock.advance(60)
    fail(limiter, "a", 60)


def test_checks_alone_spend_nothing() -> None:
    limiter = FailedAttemptLimiter(1, FakeClock())
    for _ in range(100):
        limiter.check("a")
    assert len(limiter) == 0


def test_table_is_bounded_and_idle_entries_are_forgotten() -> None:
    clock = FakeClock()
    limiter = FailedAttemptLimiter(5, clock, max_addresses=3)
    for i in range(10):
        limiter.record_failure(f"10.0.0.{i}")
    assert len(limiter) == 3
    clock.advance(60)
    for i in range(7, 10):
        limiter.check(f"10.0.0.{i}")
    assert len(limiter) == 0


def test_zero_disables() -> None:
    limiter = FailedAttemptLimiter(0, FakeClock())
    fail(limiter, "a", 1000)
    assert len(limiter) == 0
