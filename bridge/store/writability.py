"""Whether the database file takes writes, said once per change: ``store.unwritable`` when a store call meets a
`StoreUnwritable` (or another condition than the last), ``store.recovered`` when a write succeeds after one;
``store.unwritable`` too when the file cannot be opened at all (`open_store`), the same line operators alert on.

A full disk or a read-only mount fails every write until an operator acts: one line per failed call would bury
the one that says which condition it is.
"""

from __future__ import annotations

import sqlite3

import structlog

from bridge.store.errors import StoreUnwritable

_log = structlog.get_logger("bridge.store")


def log_unwritable(error: StoreUnwritable, cause: sqlite3.Error) -> None:
    """The ``store.unwritable`` line for `error`: its condition and SQLite's message, which names the condition
    only ("database or disk is full"), never the file's path."""
    _log.error("store.unwritable", condition=error.condition, error=str(cause))


class Writability:
    """The condition the last failed store call met (None: none since the last write that succeeded)."""

    __slots__ = ("condition",)

    def __init__(self) -> None:
        self.condition: str | None = None

    def failed(self, error: StoreUnwritable, cause: sqlite3.Error) -> None:
        """A store call failed with `error`; logged when the condition is new."""
        if error.condition != self.condition:
            self.condition = error.condition
            log_unwritable(error, cause)

    def written(self) -> None:
        """A write committed: the file takes writes again."""
        if self.condition is not None:
            _log.info("store.recovered", error=StoreUnwritable.__name__, condition=self.condition)
            self.condition = None
