"""Client-side password salting exactly as the master, its SDK and web UI do it (master-api.md §5.2)."""

from __future__ import annotations

import hashlib
from typing import Final

# The constant salt shared by the master, the Python SDK and the web UI; not a secret (§5.2).
CLIENT_SALT: Final = "GubPEmmotfiK9TMD6Zdw"


def salt_and_hash(password: str) -> str:
    """``hex(sha512(salt + password))``; the empty password stays empty (§5.2)."""
    if password == "":
        return ""
    return hashlib.sha512((CLIENT_SALT + password).encode("utf-8")).hexdigest()
