"""Encoded user bodies as a read without projection returns them, kept by version to skip decode and render.

One entry per user: the version it was rendered from, the base URL its ``meta.location`` names, and the
encoded JSON. An entry is only served after the store confirmed, in the same read, that the user's row is
still at that version (``Store.get_live_user_unless``); every write to a user row bumps its version
(bridge/store/user_writes.py), and so does every group write that changes the user's ``groups``
(bridge/store/user_groups.py), whoever makes it: this process, ``scim-bridge reconcile``, another one.
So a write is never hidden by an entry, and entries need no invalidation.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

# A user body is about 0.5-1 KB; 4096 of them stay within a few MB (kept at their exact length).
DEFAULT_CAPACITY: Final = 4096


class RenderedUsers:
    """A bounded LRU of (version, base URL, encoded body) per SCIM id."""

    __slots__ = ("_capacity", "_entries")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
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

    def put(self, scim_id: str, base: str, version: int, body: bytes) -> None:
        """Keep `body`, the rendering of `version`, unless a newer version's is kept already."""
        entry = self._entries.get(scim_id)
        if entry is not None and entry[0] > version and entry[1] == base:
            return  # a slower reader of an older version finished last
        # A copy of exactly its length: orjson's bytes keep the whole buffer it encoded into (4 KiB for a
        # 0.5 KiB user body, tracemalloc), which a response lets go at once but an entry would hold.
        self._entries[scim_id] = (version, base, memoryview(body).tobytes())
        self._entries.move_to_end(scim_id)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
