"""The single SQLite writer: one connection on one thread, committing queued units of work in groups.

A unit is a plain function over a `sqlite3.Connection`, run whole on the writer thread: one thread hop per
group of units instead of several per statement, so the write lock is never held across event-loop turns
(under load each turn is long, and hop-per-statement writes capped the bridge near 235 writes/s whatever
the concurrency). Units that queue while a group runs form the next group and share one transaction; each
runs inside its own SAVEPOINT, so a unit that raises undoes only itself, and every caller hears its outcome
only after the COMMIT that made it durable (or learns that the whole group failed, when BEGIN or COMMIT
did). A caller that is cancelled while waiting does not withdraw its unit: it still runs whole or not at all.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from bridge.store.errors import StoreClosed

T = TypeVar("T")
SyncUnit = Callable[[sqlite3.Connection], T]

# Bounds the latency one group adds to the units queued behind it.
MAX_GROUP: Final = 128


def open_writer_connection(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """An autocommit connection with the store's pragmas (the same as `connections.connect` for writers)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms:d}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch {path} to WAL mode")
        conn.execute("PRAGMA foreign_keys = ON")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


@dataclass(frozen=True, slots=True)
class _Outcome(Generic[T]):
    value: T | None = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class _Job:
    unit: SyncUnit[Any]
    future: asyncio.Future[Any]


def _run_group(conn: sqlite3.Connection, units: list[SyncUnit[Any]]) -> list[_Outcome[Any]]:
    """One transaction for all `units`, each in a savepoint; on the writer thread."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return [_Outcome(error=exc)] * len(units)
    outcomes: list[_Outcome[Any]] = []
    try:
        for unit in units:
            conn.execute("SAVEPOINT unit")
            try:
                value = unit(conn)
            except Exception as exc:
                if not conn.in_transaction:
                    raise  # SQLite itself rolled the whole transaction back (e.g. disk full)
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append(_Outcome(error=exc))
            else:
                conn.execute("RELEASE unit")
                outcomes.append(_Outcome(value=value))
        conn.execute("COMMIT")
    except BaseException as exc:  # noqa: BLE001 - reported to every caller of the group
        # BEGIN held, but a savepoint step or COMMIT failed (disk full, I/O error): nothing of the group is
        # durable, so every unit fails, including the ones that had succeeded inside it.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return [_Outcome(error=exc)] * len(units)
    return outcomes


class Writer:
    """Queues write units from the event loop and runs them in groups on a dedicated thread."""

    __slots__ = ("_closed", "_conn", "_executor", "_idle", "_pending", "_running")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._pending: list[_Job] = []
        self._running = False
        self._closed = False
        self._idle: asyncio.Event | None = None

    @classmethod
    async def open(cls, path: Path, busy_timeout_ms: int) -> Writer:
        """Open the connection off the loop (switching to WAL may wait for another process's lock)."""
        return cls(await asyncio.to_thread(open_writer_connection, path, busy_timeout_ms))

    async def run(self, unit: SyncUnit[T]) -> T:
        """Run `unit` in the next group; its result or exception once that group's COMMIT is done."""
        if self._closed:
            raise StoreClosed("store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append(_Job(unit, future))
        if not self._running:
            self._start()
        return await future

    def _start(self) -> None:
        group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
        self._running = True
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(self._executor, _run_group, self._conn, [job.unit for job in group])
        done.add_done_callback(lambda finished: self._finish(group, finished))

    def _finish(self, group: list[_Job], finished: asyncio.Future[list[_Outcome[Any]]]) -> None:
        self._running = False
        if finished.cancelled():
            outcomes: list[_Outcome[Any]] = [_Outcome(error=StoreClosed("writer stopped"))] * len(group)
        elif (failure := finished.exception()) is not None:
            outcomes = [_Outcome(error=failure)] * len(group)
        else:
            outcomes = finished.result()
        for job, outcome in zip(group, outcomes, strict=True):
            if job.future.done():
                continue  # the caller was cancelled; the unit ran all the same
            if outcome.error is not None:
                job.future.set_exception(outcome.error)
            else:
                job.future.set_result(outcome.value)
        if self._pending:
            self._start()
        elif self._idle is not None:
            self._idle.set()

    async def close(self) -> None:
        """Refuse new units, let queued ones finish, then close the connection and stop the thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._running or self._pending:
            self._idle = asyncio.Event()
            await self._idle.wait()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=False)
