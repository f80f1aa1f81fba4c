"""WAL checkpoints off the commit path: a thread with its own connection copies the WAL into the database.

With SQLite's automatic checkpoint the COMMIT that takes the WAL past 1000 pages also copies it back and
fsyncs the database file, on the writer's thread: 35 of 2,000 c=1 creates took over 5 ms with it (p99
5.9-6.9 ms), 2 without (p99 3.1 ms). Here the writer connection has wal_autocheckpoint 0 and this thread runs a
PASSIVE checkpoint (it never takes the write lock, so the writer goes on appending meanwhile) once a second
when there were commits, and sooner after WAKE_AFTER_GROUPS of them.

A passive checkpoint racing a busy writer rarely finds the moment when every frame is copied back and no
write has begun, and only then can the next write restart the WAL from its start: under sustained writes
the file grew by 1 GB in 8 s (32 writers on a bare Writer). So the writer checkpoints once itself between
two groups (`after_group`), as autocheckpoint would have, when a checkpoint found the WAL past
WAL_LIMIT_FRAMES or when no checkpoint has copied the WAL back for CATCH_UP_AFTER_GROUPS groups (a slow or
failing checkpointer); the write after that restarts the WAL unless a reader still holds an old snapshot.

A failed checkpoint never fails a write, and nothing it raises stops the writer or this thread. The thread
logs each failure once, closes its connection and opens a new one for the next try (a connection SQLite
gave up on stays broken), waiting twice as long after each failure in a row, up to RETRY_MAX_SECONDS;
meanwhile the writer's own catch-up bounds the WAL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import structlog

_log = structlog.get_logger("bridge.store")

# Not a setting: an operator has nothing to trade with it. Shorter costs a checkpoint's fsync more often
# under light writes, longer only lets the WAL grow between checkpoints (WAKE_AFTER_GROUPS bounds it anyway).
INTERVAL_SECONDS: Final = 1.0
# Groups committed before the checkpointer is woken early: about 100 small transactions, a few hundred
# pages, well under autocheckpoint's 1000.
WAKE_AFTER_GROUPS: Final = 100
# 4 KiB pages: 16 MiB, four times what autocheckpoint lets the WAL reach.
WAL_LIMIT_FRAMES: Final = 4000
CATCH_UP_AFTER_GROUPS: Final = 10 * WAKE_AFTER_GROUPS
# A checkpointer that keeps failing (disk full, a lost file) tries and logs at most once a minute.
RETRY_MAX_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class _Result:
    busy: bool  # another connection was checkpointing: nothing was done
    frames: int  # in the WAL
    copied: int  # of them, now in the database file


def _passive(conn: sqlite3.Connection) -> _Result:
    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return _Result(bool(busy), int(frames), int(copied))


class Checkpointer:
    """Checkpoints the WAL on its own thread and connection, when the writer has committed since the last time."""

    __slots__ = (
        "_behind",
        "_committed",
        "_conn",
        "_copied",
        "_failures",
        "_reopen",
        "_retry_at",
        "_stopping",
        "_thread",
        "_wake",
    )

    def __init__(self, conn: sqlite3.Connection, reopen: Callable[[], sqlite3.Connection]) -> None:
        """`conn` is the first connection; `reopen` makes the next one after a failure (on this thread)."""
        self._conn: sqlite3.Connection | None = conn
        self._reopen = reopen
        # Groups run, counted by whoever holds the writer connection; read here without a lock (an int read
        # is atomic), as the other two below are written by both sides: a lost update costs one checkpoint
        # too many or too late, never a wrong one.
        self._committed = 0
        # What _committed was when a checkpoint last began that then copied the whole WAL back.
        self._copied = 0
        # The last checkpoint found the WAL past WAL_LIMIT_FRAMES.
        self._behind = False
        # Failures in a row on this thread, and the monotonic time before which it does not try again.
        self._failures = 0
        self._retry_at = 0.0
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="store-checkpointer", daemon=True)
        self._thread.start()

    @property
    def due(self) -> bool:
        """The writer thread should checkpoint on its own connection after its next group (`after_group`)."""
        return self._behind or self._committed - self._copied > CATCH_UP_AFTER_GROUPS

    def committed(self) -> None:
        """Count a group the writer connection committed, on whichever thread held it (writer.py)."""
        self._committed += 1
        if self._committed % WAKE_AFTER_GROUPS == 0:
            self._wake.set()

    def after_group(self, writer: sqlite3.Connection) -> None:
        """The writer thread ran a group and answered its callers: count it, checkpoint on `writer` if behind."""
        self.committed()
        if self.due:
            try:
                busy = _passive(writer).busy
            except Exception as exc:  # noqa: BLE001 - a checkpoint must never stop the writer thread
                _log.warning("store.checkpoint_failed", by="writer", error=str(exc))
                busy = False  # a failure waits its turn like a success
            # busy: the checkpointer is at it, so again after the next group.
            if not busy:
                self._behind = False
                self._copied = self._committed

    def _serve(self) -> None:
        while True:
            self._wake.wait(INTERVAL_SECONDS)
            self._wake.clear()
            stopping = self._stopping
            seen = self._committed
            due = stopping or time.monotonic() >= self._retry_at
            if (seen != self._copied or stopping) and due:
                self._checkpoint(seen)
            if stopping:
                break
        self._drop()

    def _checkpoint(self, seen: int) -> None:
        """One PASSIVE checkpoint on this thread's connection, reopened first if the last try failed."""
        try:
            if self._conn is None:
                self._conn = self._reopen()
            result = _passive(self._conn)
        except Exception as exc:  # noqa: BLE001 - logged; this thread must outlive any failure to come back
            self._failures += 1
            delay = min(RETRY_MAX_SECONDS, INTERVAL_SECONDS * 2 ** min(self._failures - 1, 16))
            self._retry_at = time.monotonic() + delay
            _log.warning(
                "store.checkpoint_failed",
                by="checkpointer",
                error=str(exc),
                failures=self._failures,
                retry_in_s=delay,
            )
            self._drop()
            return
        if self._failures:
            _log.info("store.checkpointer_recovered", failures=self._failures)
            self._failures = 0
            self._retry_at = 0.0
        if not result.busy:
            self._behind = result.frames >= WAL_LIMIT_FRAMES
            if result.copied == result.frames:  # else a reader's snapshot held frames back
                self._copied = seen

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A connection that failed may fail to close as well; it is let go either way.
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def close(self) -> None:
        """A last checkpoint, then close the connection and end the thread; blocks (call it off the loop)."""
        self._stopping = True
        self._wake.set()
        self._thread.join()
