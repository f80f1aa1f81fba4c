"""Who an authenticated IdP request came from, and the clock type auth code is driven by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeAlias

Clock: TypeAlias = Callable[[], datetime]
AuthMethod: TypeAlias = Literal["basic", "bearer", "oauth"]


def utc_now() -> datetime:
    """The production clock: an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IdpPrincipal:
    """An authenticated IdP client: the configured credential's name and how it authenticated."""

    name: str
    method: AuthMethod
