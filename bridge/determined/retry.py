"""Retry policy for master calls: jittered exponential backoff and ``Retry-After`` parsing (conventions §4.7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def backoff_delay(attempt: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Full-jitter delay before retry number ``attempt`` (0-based): uniform in [0, min(cap, base * 2**attempt)]."""
    return rng() * min(cap, base * (2.0**attempt))


def parse_retry_after(
    value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """Seconds from a ``Retry-After`` header (RFC 9110 §10.2.3: delta-seconds or an HTTP-date); None if absent."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())
