"""Ids of new SCIM resources: random (RFC 4122 version 4) UUIDs from the OS random source, drawn in batches."""

from __future__ import annotations

import os
import uuid
from typing import Final

# Ids per os.urandom call.
BATCH: Final = 256
_SIZE: Final = 16


class ScimIds:
    """New resource ids, as `uuid.uuid4()` makes them but with one os.urandom call per `BATCH` ids.

    Each os.urandom call is a getrandom system call that releases the GIL: on the event loop's thread, in
    the middle of a create, that handed the GIL to the store's writer thread and waited to get it back. The
    bytes come from the same source; an id is an identifier, not a secret, so holding the next ones in
    memory exposes nothing.
    """

    __slots__ = ("_offset", "_pool")

    def __init__(self) -> None:
        self._pool = b""
        self._offset = 0

    def new(self) -> str:
        """A fresh id: 36 characters, lower-case hex with dashes (version 4, RFC 4122 variant)."""
        if self._offset >= len(self._pool):
            self._pool = os.urandom(_SIZE * BATCH)
            self._offset = 0
        raw = self._pool[self._offset : self._offset + _SIZE]
        self._offset += _SIZE
        return str(uuid.UUID(bytes=raw, version=4))
