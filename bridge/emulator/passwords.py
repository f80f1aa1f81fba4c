"""Password states and the client-side salt shared by master, SDK and web UI (contract §5.2)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

CLIENT_SALT: Final = "GubPEmmotfiK9TMD6Zdw"
# Stored-hash sentinel for remote users: non-NULL empty string, which no password matches.
NO_PASSWORD_LOGIN: Final = ""


def client_hash(password: str) -> str:
    """hex(sha512(salt + password)); an empty password stays empty."""
    if password == "":
        return ""
    return hashlib.sha512((CLIENT_SALT + password).encode()).hexdigest()


def store(client_side_hash: str) -> str | None:
    """Stored form of a client hash; empty means blank password (NULL).

    The master bcrypts the client hash (which only reads 72 bytes); a fast digest of the same 72
    bytes keeps the emulator quick while matching exactly the same inputs.
    """
    if client_side_hash == "":
        return None
    return hashlib.sha256(client_side_hash.encode()[:72]).hexdigest()


def matches(stored: str | None, client_side_hash: str) -> bool:
    """Password check: NULL accepts only the empty password; "" accepts nothing."""
    if stored is None:
        return client_side_hash == ""
    if stored == NO_PASSWORD_LOGIN or client_side_hash == "":
        return False
    candidate = store(client_side_hash)
    return candidate is not None and hmac.compare_digest(stored, candidate)
