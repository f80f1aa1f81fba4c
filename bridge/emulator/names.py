"""Username and display-name validation, as the master's clearUsername does it (contract §5.1)."""

from __future__ import annotations

from bridge.emulator.errors import invalid

_ALLOWED_WHITESPACE = frozenset(" \t\n\f\r")


def clean_name(value: str, *, min_length: int, target_admin: bool, target_username: str) -> str:
    """Trim and validate a username or display name; raise the master's 400 texts."""
    cleaned = value.strip(" \t\n\v\f\r\x85\xa0")
    for ch in cleaned:
        if not ("!" <= ch <= "~" or ch in _ALLOWED_WHITESPACE):
            raise invalid("Display name and username cannot contain non-ASCII characters.")
    if len(cleaned) < min_length:
        raise invalid("Display name or username value has minimum length.")
    lowered = cleaned.lower()
    if not target_admin and lowered == "admin":
        raise invalid("Non-admin user cannot be renamed 'admin'")
    if lowered == "determined" and target_username != "determined":
        raise invalid("User cannot be renamed 'determined'")
    return cleaned
