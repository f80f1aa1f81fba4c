"""The single SQLite writer: one connection on one thread, committing queued units of work in groups.

A unit is a plain function over a `sqlite3.Connection`, run whole on the writer thread: one thread hop per
group of units instead of several per statement, so the write lock is never held across event-loop turns
(under load each turn is long, and hop-per-statement writes capped the bridge near 235 writes/s whatever
the concurrency). Units that queue while a group runs form the next group and share one transaction; each
runs inside its own SAVEPOINT (a group of one needs none), so a unit that raises undoes only itself, and
every caller hears its outcome only after the COMMIT that made it durable (or learns that the whole group
failed, when BEGIN or COMMIT did). A caller that is cancelled while waiting does not withdraw its unit: it
still runs whole or not at all.

The writer connection never checkpoints on COMMIT (wal_autocheckpoint 0): the Checkpointer does it on its
own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, Final, Generic, TypeVar

from bridge.store.checkpointer import Checkpointer
from bridge.store.connections import open_writer_connection
from bridge.store.errors import StoreClosed

T = TypeVar("T")
SyncUnit = Callable[[sqlite3.Connection], T]

# Bounds the latency one group adds to the units queued behind it.
MAX_GROUP: Final = 128


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
    if len(units) == 1:
        return [_run_alone(conn, units[0])]
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


def _run_alone(conn: sqlite3.Connection, unit: SyncUnit[T]) -> _Outcome[T]:
    """A group of one, BEGIN done: no savepoint, as a failure rolls back the whole transaction anyway.

    Inside a savepoint SQLite copies every page the unit changes into a statement journal first (about 16
    pages for a create, spilled to a temporary file past 64 KiB), and a group of one is every write at low
    concurrency.
    """
    try:
        value = unit(conn)
        conn.execute("COMMIT")
    except BaseException as exc:  # noqa: BLE001 - reported to the unit's caller, as in a larger group
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return _Outcome(error=exc)
    return _Outcome(value=value)


def _settle(settled: list[tuple[asyncio.Future[Any], _Outcome[Any]]]) -> None:
    """On the event loop: hand each caller its outcome (a cancelled caller's unit ran all the same)."""
    for future, outcome in settled:
        if future.done():
            continue
        if outcome.error is not None:
            future.set_exception(outcome.error)
        else:
            future.set_result(outcome.value)


def _open_connections(path: Path, busy_timeout_ms: int) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """The writer's connection, without automatic checkpoints, and the checkpointer's."""
    writer = open_writer_connection(path, busy_timeout_ms)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        return writer, open_writer_connection(path, busy_timeout_ms)
    except BaseException:
        writer.close()
        raise


class Writer:
    """Queues write units from the event loop and runs them in groups on its own thread."""

    __slots__ = ("_checkpointer", "_closed", "_conn", "_queue", "_thread")

    def __init__(self, conn: sqlite3.Connection, checkpointer: Checkpointer) -> None:
        self._conn = conn
        self._checkpointer = checkpointer
        # None is the stop mark, queued behind every unit already submitted.
        self._queue: SimpleQueue[_Job | None] = SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="store-writer", daemon=True)
        self._thread.start()

    @classmethod
    async def open(cls, path: Path, busy_timeout_ms: int) -> Writer:
        """Open the connections off the loop (switching to WAL may wait for another process's lock)."""
        conn, checkpointer = await asyncio.to_thread(_open_connections, path, busy_timeout_ms)
        return cls(conn, Checkpointer(checkpointer, lambda: open_writer_connection(path, busy_timeout_ms)))

    async def run(self, unit: SyncUnit[T]) -> T:
        """Run `unit` in the next group; its result or exception once that group's COMMIT is done."""
        if self._closed:
            raise StoreClosed("store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(unit, future))
        return await future

    def _serve(self) -> None:
        """The writer thread: take what is queued (up to MAX_GROUP), run it as one group, answer, repeat."""
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    job = self._queue.get_nowait()
                except Empty:
                    break
                if job is None:
                    stopping = True
                    break
                group.append(job)
            outcomes = _run_group(self._conn, [job.unit for job in group])
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], _Outcome[Any]]]] = {}
            for job, outcome in zip(group, outcomes, strict=True):
                by_loop.setdefault(job.future.get_loop(), []).append((job.future, outcome))
            for loop, settled in by_loop.items():
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(_settle, settled)
            self._checkpointer.after_group(self._conn)
        self._checkpointer.close()
        self._conn.close()

    async def close(self) -> None:
        """Refuse new units, let queued ones finish, checkpoint, close the connections and stop the threads;
        idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
