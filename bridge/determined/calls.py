"""Per-request count of master calls, for the canonical request log line (conventions §4.4).

Call ``start_counting()`` at the start of an inbound request; ``calls_made()`` reads the count. The counter is
a mutable box held in a ContextVar, so tasks spawned by the request (which copy the context) add to the same
box, while concurrent requests each have their own.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class _Counter:
    value: int = 0


_COUNTER: ContextVar[_Counter | None] = ContextVar("master_call_counter", default=None)


def start_counting() -> None:
    """Begin a fresh count of master calls in the current context."""
    _COUNTER.set(_Counter())


def calls_made() -> int:
    """Master calls (HTTP attempts, logins included) since ``start_counting()``; 0 if never started."""
    counter = _COUNTER.get()
    return 0 if counter is None else counter.value


def record_call() -> None:
    """Count one HTTP attempt against the master; no-op outside a counted context."""
    counter = _COUNTER.get()
    if counter is not None:
        counter.value += 1


class MasterCallObserver(Protocol):
    """Receives one observation per HTTP attempt to the master (e.g. the Prometheus recorder)."""

    def observe_master_call(self, method: str, path_template: str, outcome: str, seconds: float) -> None:
        """``outcome`` is the HTTP status as text, or the failure kind (connect, timeout, ...)."""
