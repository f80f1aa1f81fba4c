"""The single SQLite writer: one connection, used by one thread at a time, committing units of work in groups.

A unit is a plain function over a `sqlite3.Connection`, run whole on the writer thread: one thread hop per
group of units instead of several per statement, so the write lock is never held across event-loop turns
(under load each turn is long, and hop-per-statement writes capped the bridge near 235 writes/s whatever
the concurrency). Units that queue while a group runs form the next group and share one transaction; each
runs inside its own SAVEPOINT, so a unit that raises undoes only itself, and every caller hears its outcome
only after the COMMIT that made it durable (or learns that the whole group failed, when BEGIN or COMMIT
did). A caller that is cancelled while waiting does not withdraw its unit: it still runs whole or not at all.

When the writer is idle (nothing queued, no group running, no checkpoint due) and no other unit came in the
same loop turn, a unit runs inline on the event loop's thread instead, as a group of one under the same
lock, with the same savepoint, COMMIT and outcome: at one request at a time the hops loop -> writer -> loop
cost more than the unit (creates at c=1, side by side: bridge CPU 1612 -> 1332 us/request, p50 2.22 ->
1.90 ms, p99 3.48 -> 2.79 ms; at c=32 no change, as units that come in one turn still queue and group).
The inline BEGIN never waits (busy_timeout 0): if another process holds the write lock the unit queues and
the writer thread waits for it. The price: a COMMIT that meets a stalled disk stalls the whole loop, reads
included, where on the writer thread only writes would wait. A COMMIT here is a write() into the WAL with
no fsync (synchronous=NORMAL, checkpoints on their own thread), so only a kernel throttling dirty pages or
a hung filesystem can stall it, and then every write waits anyway.

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
from typing import Any, Final, Generic, TypeVar, cast

from bridge.store.checkpointer import Checkpointer
from bridge.store.connections import LOCK_CODES, open_writer_connection
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
    """One transaction for all `units`, each in a savepoint."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return [_Outcome(error=exc)] * len(units)
    return _run_begun(conn, units)


def _run_begun(conn: sqlite3.Connection, units: list[SyncUnit[Any]]) -> list[_Outcome[Any]]:
    """`_run_group` once BEGIN IMMEDIATE has taken the write lock."""
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
    """Runs write units from the event loop: inline when idle, else queued and run in groups on its own thread."""

    __slots__ = (
        "_busy_timeout_ms",
        "_checkpointer",
        "_closed",
        "_conn",
        "_done",
        "_inline_turn",
        "_lock",
        "_queue",
        "_queued",
        "_thread",
        "_timeout_now",
    )

    def __init__(self, conn: sqlite3.Connection, checkpointer: Checkpointer, busy_timeout_ms: int) -> None:
        self._conn = conn
        self._checkpointer = checkpointer
        self._busy_timeout_ms = busy_timeout_ms
        self._timeout_now = busy_timeout_ms
        # Held by whichever thread uses the connection: the writer thread for a group, the loop for an inline unit.
        self._lock = threading.Lock()
        # Units queued (counted on the loop) and units run by the writer thread (counted under the lock).
        self._queued = 0
        self._done = 0
        self._inline_turn = False
        # None is the stop mark, queued behind every unit already submitted.
        self._queue: SimpleQueue[_Job | None] = SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="store-writer", daemon=True)
        self._thread.start()

    @classmethod
    async def open(cls, path: Path, busy_timeout_ms: int) -> Writer:
        """Open the connections off the loop (switching to WAL may wait for another process's lock)."""
        conn, checkpointer = await asyncio.to_thread(_open_connections, path, busy_timeout_ms)
        return cls(conn, Checkpointer(checkpointer), busy_timeout_ms)

    async def run(self, unit: SyncUnit[T]) -> T:
        """Run `unit` inline if the writer is idle, else in the next group; its result or exception once its
        COMMIT is done."""
        if self._closed:
            raise StoreClosed("store is closed")
        if not self._inline_turn and self._idle() and self._lock.acquire(blocking=False):
            try:
                outcome = self._run_inline(unit)
            finally:
                self._lock.release()
            if outcome is not None:
                # One loop turn before answering, as the queued path has, so a caller writing in a loop cannot
                # starve the others; a unit that comes in that same turn means concurrent writers: it queues.
                self._inline_turn = True
                try:
                    await asyncio.sleep(0)
                finally:
                    self._inline_turn = False
                if outcome.error is not None:
                    raise outcome.error
                return cast("T", outcome.value)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queued += 1
        self._queue.put(_Job(unit, future))
        return await future

    def _idle(self) -> bool:
        """Nothing queued or running on the writer thread, and no checkpoint due there."""
        return self._queued == self._done and not self._checkpointer.due

    def _set_busy_timeout(self, ms: int) -> None:
        if self._timeout_now != ms:
            self._conn.execute(f"PRAGMA busy_timeout = {ms:d}")
            self._timeout_now = ms

    def _run_inline(self, unit: SyncUnit[T]) -> _Outcome[T] | None:
        """Run `unit` as a group of one on the loop's thread, or None if another process holds the write lock."""
        self._set_busy_timeout(0)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in LOCK_CODES:
                return None
            return _Outcome(error=exc)
        outcome = _run_begun(self._conn, [unit])[0]
        self._checkpointer.committed()
        return outcome

    def _serve(self) -> None:
        """The writer thread: take what is queued (up to MAX_GROUP), run it as one group, answer, repeat."""
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            with self._lock:
                # Collected once the lock is held: units queued while an inline one ran join this group.
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
                self._set_busy_timeout(self._busy_timeout_ms)
                outcomes = _run_group(self._conn, [job.unit for job in group])
                self._done += len(group)
                self._checkpointer.committed()
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], _Outcome[Any]]]] = {}
            for job, outcome in zip(group, outcomes, strict=True):
                by_loop.setdefault(job.future.get_loop(), []).append((job.future, outcome))
            for loop, settled in by_loop.items():
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(_settle, settled)
            if self._checkpointer.due:
                with self._lock:
                    self._checkpointer.catch_up(self._conn)
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
