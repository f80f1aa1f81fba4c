"""Adaptive bound on concurrent master calls: AIMD, like TCP congestion control (issue 7, master faults).

The limit starts at ``maximum``, halves when the master shows overload (timeout, 429, 502/503/504) and grows
back by about one per limit's worth of successful calls, never below ``minimum`` or above ``maximum``.
"""

from __future__ import annotations

import asyncio


class AdaptiveLimiter:
    """Counts calls in flight and makes callers wait while the current limit is reached."""

    def __init__(self, maximum: int, minimum: int = 1) -> None:
        self._maximum = max(1, maximum)
        self._minimum = max(1, min(minimum, self._maximum))
        self._limit = float(self._maximum)
        self._in_flight = 0
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def limit(self) -> int:
        """Calls currently allowed at once."""
        return int(self._limit)

    @property
    def in_flight(self) -> int:
        """Calls currently holding a slot."""
        return self._in_flight

    def try_acquire(self) -> bool:
        """Take a free slot now if there is one, without a coroutine (the common case of every call)."""
        if self._in_flight >= int(self._limit):
            return False
        self._in_flight += 1
        return True

    async def acquire(self) -> None:
        """Wait for a free slot under the current limit."""
        while not self.try_acquire():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def release(self, *, overloaded: bool) -> None:
        """Free a slot and adapt: halve on overload, else grow by 1/limit. Synchronous, so safe in ``finally``."""
        self._in_flight -= 1
        if overloaded:
            self._limit = max(float(self._minimum), self._limit / 2)
        else:
            self._limit = min(float(self._maximum), self._limit + 1 / self._limit)
        # Wake everyone waiting; each re-checks the limit, so at most the free slots proceed.
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
