"""Retry policy for master calls: jittered exponential backoff and ``Retry-After`` parsing (conventions §4.7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

# The longest wait a master's Retry-After is taken for (a day): past it, no retry schedule would act on it anyway.
_LONGEST_WAIT: Final = 86_400.0


def backoff_delay(attempt: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Full-jitter delay before retry number ``attempt`` (0-based): uniform in [0, min(cap, base * 2**attempt)]."""
    return rng() * min(cap, base * (2.0**attempt))


def parse_retry_after(
    value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """Seconds (at most a day) from a ``Retry-After`` header (RFC 9110 §10.2.3: delta-seconds or an HTTP-date);
    None if absent or neither."""
    if value is None:
        return None
    text = value.strip()
    # ASCII only: str.isdigit() also takes "²" (the header is read as Latin-1), which float() refuses.
    if text.isascii() and text.isdigit():
        # A run of digits too long for a float is inf, which the IdP's Retry-After (an int) cannot carry.
        return min(float(text), _LONGEST_WAIT)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now()).total_seconds()), _LONGEST_WAIT)
