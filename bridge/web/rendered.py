"""Encoded user bodies as a read without projection returns them, kept by version to skip decode and render.

One entry per user: the version it was rendered from, the base URL its ``meta.location`` names, and the
encoded JSON. An entry is only served after the store confirmed, in the same read, that the user's row is
still at that version (``Store.get_live_user_unless``); every write to a user row bumps its version
(bridge/store/user_writes.py), and so does every group write that changes the user's ``groups``
(bridge/store/user_groups.py), whoever makes it: this process, ``scim-bridge reconcile``, another one.
So a write is never hidden by an entry, and entries need no invalidation.

Only reads add entries (bridge/web/users.py). A write's answer replaces the entry of a user that has one (an
IdP reads a user right before and after writing it), so the read that follows finds the written version kept.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

# Bounded by bytes, so larger documents mean fewer entries: 24 MiB keep ~27k users at the bench's ~0.5 KB
# bodies (a uniform read over 20k users then renders each once; with 4096 entries 80% of its reads missed,
# at ~1.7x the CPU of a kept read). The count bound only stops a flood of tiny bodies.
DEFAULT_CAPACITY: Final = 65_536
DEFAULT_MAX_BYTES: Final = 24 * 2**20
# Beyond its body, what one entry holds (tracemalloc): the id, its tuple, the base URL, the dict slot.
ENTRY_OVERHEAD: Final = 360


class RenderedUsers:
    """An LRU of (version, base URL, encoded body) per SCIM id, bounded in entries and in bytes."""

    __slots__ = ("_bytes", "_capacity", "_entries", "_max_bytes")

    def __init__(self, capacity: int = DEFAULT_CAPACITY, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[int, str, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, scim_id: str, base: str) -> tuple[int, bytes] | None:
        """The version and body kept for this user under this base URL, if any."""
        entry = self._entries.get(scim_id)
        if entry is None or entry[1] != base:
            return None
        self._entries.move_to_end(scim_id)
        return entry[0], entry[2]

    def refresh(self, scim_id: str, base: str, version: int, body: bytes) -> None:
        """`put`, only when a body of this user is kept under this base: a write's answer, which adds no entry
        (see bridge/web/users.py's `_one`)."""
        entry = self._entries.get(scim_id)
        if entry is not None and entry[1] == base:
            self.put(scim_id, base, version, body)

    def put(self, scim_id: str, base: str, version: int, body: bytes) -> None:
        """Keep `body`, the rendering of `version`, unless a newer version's is kept already."""
        entry = self._entries.get(scim_id)
        if entry is not None and entry[0] > version and entry[1] == base:
            return  # a slower reader of an older version finished last
        if entry is not None:
            self._bytes -= len(entry[2]) + ENTRY_OVERHEAD
        # A copy of exactly its length: orjson's bytes keep the whole buffer it encoded into (4 KiB for a
        # 0.5 KiB user body, tracemalloc), which a response lets go at once but an entry would hold.
        body = memoryview(body).tobytes()
        self._entries[scim_id] = (version, base, body)
        self._entries.move_to_end(scim_id)
        self._bytes += len(body) + ENTRY_OVERHEAD
        while len(self._entries) > self._capacity or self._bytes > self._max_bytes:
            _, (_, _, dropped) = self._entries.popitem(last=False)
            self._bytes -= len(dropped) + ENTRY_OVERHEAD
