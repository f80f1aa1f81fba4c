"""Circuit breaker: after N consecutive connection failures, fail fast for a cool-down (issue 7, master faults)."""

from __future__ import annotations

from collections.abc import Callable


class CircuitBreaker:
    """Closed → open after ``threshold`` consecutive failures; after ``cooldown`` one trial call is let through."""

    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float]) -> None:
        self._threshold = max(1, threshold)
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        """True while calls are being refused (the cool-down has not elapsed)."""
        return self.retry_after() is not None

    def retry_after(self) -> float | None:
        """Seconds left in the cool-down, or None if a call may proceed."""
        if self._opened_at is None:
            return None
        remaining = self._opened_at + self._cooldown - self._clock()
        return remaining if remaining > 0 else None

    def record_success(self) -> None:
        """The master answered; close the circuit."""
        self._failures = 0
        self._opened_at = None

    def record_failure(self) -> None:
        """The master could not be reached; open the circuit at the threshold (or re-open after a failed trial)."""
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = self._clock()
