"""Ids of new SCIM resources: random (RFC 4122 version 4) UUIDs from the OS random source, drawn in batches."""

from __future__ import annotations

import os
from typing import Final

# Ids per os.urandom call.
BATCH: Final = 256
_SIZE: Final = 16
# The RFC 4122 variant: the top two bits of the 9th byte are 10, so its high hex digit d becomes 8 + (d & 3).
_VARIANT_DIGIT: Final = {f"{d:x}": f"{8 + (d & 3):x}" for d in range(16)}


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
        start = self._offset
        self._offset += _SIZE
        # The text of str(uuid.UUID(bytes=..., version=4)) for these bytes, without its ~17k-instruction
        # constructor: the version digit is 4 and the variant digit 8, 9, a or b.
        h = self._pool[start : start + _SIZE].hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:]}"
