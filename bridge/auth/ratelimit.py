"""Per-address token buckets for failed authentication attempts; successes never spend budget.

Each address may fail ``per_minute`` times in a burst, refilled continuously at ``per_minute``/60 s.
The table keeps at most ``max_addresses`` entries, least recently seen evicted first.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from bridge.auth.failures import TooManyFailures
from bridge.auth.principal import Clock

DEFAULT_MAX_ADDRESSES: Final = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class FailedAttemptLimiter:
    """Blocks an address once it has spent its failure budget; ``per_minute <= 0`` disables it."""

    def __init__(self, per_minute: int, clock: Clock, max_addresses: int = DEFAULT_MAX_ADDRESSES) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max = max_addresses
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, address: str) -> None:
        """Raise TooManyFailures if ``address`` has no failure budget left; otherwise do nothing."""
        # An address without failures has no bucket (every successful request asks): no refill to compute.
        if self._capacity <= 0 or address not in self._buckets:
            return
        bucket = self._refill(address)
        if bucket is None:
            return
        if bucket.tokens < 1.0:
            raise TooManyFailures(max(1, math.ceil((1.0 - bucket.tokens) / self._rate)))

    def record_failure(self, address: str) -> None:
        """Spend one unit of ``address``'s budget."""
        if self._capacity <= 0:
            return
        bucket = self._refill(address)
        if bucket is None:
            bucket = _Bucket(self._capacity, self._now())
            self._buckets[address] = bucket
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        bucket.tokens = max(0.0, bucket.tokens - 1.0)

    def _refill(self, address: str) -> _Bucket | None:
        bucket = self._buckets.get(address)
        if bucket is None:
            return None
        now = self._now()
        bucket.tokens = min(self._capacity, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= self._capacity:
            # A full bucket is the same as no bucket: forget it so idle addresses cost no memory.
            del self._buckets[address]
            return None
        self._buckets.move_to_end(address)
        return bucket

    def _now(self) -> float:
        return self._clock().timestamp()
