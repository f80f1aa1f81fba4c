"""Per-resource asyncio locks: the master has no ETags, so read-modify-write must be serialised (§7.3 item 1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager


class KeyedLocks:
    """One asyncio.Lock per key, created on demand and dropped when nobody holds or awaits it."""

    __slots__ = ("_locks", "_users")

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock for `key` for the duration of the block."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                # Nobody else waits on this lock, so dropping it keeps the map O(active resources).
                del self._users[key]
                del self._locks[key]

    @asynccontextmanager
    async def hold_all(self, keys: Iterable[str]) -> AsyncIterator[None]:
        """Hold the locks for all `keys`, taken in sorted order so two holders of overlapping sets cannot
        deadlock."""
        async with AsyncExitStack() as stack:
            for key in sorted(set(keys)):
                await stack.enter_async_context(self.hold(key))
            yield

    def __len__(self) -> int:
        """How many keys currently have a lock (held or awaited)."""
        return len(self._locks)
