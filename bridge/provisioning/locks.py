"""Per-resource asyncio locks: the master has no ETags, so read-modify-write must be serialised (§7.3 item 1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType


# The keys of the resources' locks. A write's retry settles under the lock it holds (ended.py), and the two
# services lock each other's resources (a user delete leaves its groups, a group write retires a stale
# member), so every lock and retry key is made here.
def user_key(scim_id: str) -> str:
    """A user's writes (PUT, PATCH, DELETE, retirement)."""
    return f"user:{scim_id}"


def group_key(scim_id: str) -> str:
    """A group's writes (PUT, PATCH, DELETE) and the member diffs of a user delete leaving it."""
    return f"group:{scim_id}"


def user_name_key(user_name: str) -> str:
    """A create (or relink) of this userName; case-insensitive, as the master's usernames are."""
    return f"user-name:{user_name.lower()}"


def group_name_key(name: str) -> str:
    """A create of a group with this displayName; case-insensitive, as the store's uniqueness is."""
    return f"group-name:{name.lower()}"


class KeyedLocks:
    """One asyncio.Lock per key, created on demand and dropped when nobody holds or awaits it."""

    __slots__ = ("_locks", "_users")

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def hold(self, key: str) -> _Hold:
        """Hold the lock for `key` for the duration of an ``async with`` block."""
        return _Hold(self, key)

    def _join(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        self._users[key] = self._users.get(key, 0) + 1
        return lock

    def _leave(self, key: str) -> None:
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


class _Hold:
    """The ``async with`` of one `KeyedLocks.hold`: a class, not an async generator (every write takes one,
    and a generator-based context manager costs several times more per use)."""

    __slots__ = ("_key", "_lock", "_owner")

    def __init__(self, owner: KeyedLocks, key: str) -> None:
        self._owner = owner
        self._key = key
        self._lock: asyncio.Lock | None = None

    async def __aenter__(self) -> None:
        lock = self._owner._join(self._key)
        try:
            await lock.acquire()
        except BaseException:
            self._owner._leave(self._key)
            raise
        self._lock = lock

    async def __aexit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        assert self._lock is not None
        self._lock.release()
        self._owner._leave(self._key)
