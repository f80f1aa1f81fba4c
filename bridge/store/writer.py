"""The single SQLite writer: one connection on one thread, committing queued units of work in groups.

A unit is a plain function over the writer's connection (a `WriterConnection`), run whole on the writer
thread: one thread hop per group of units instead of several per statement, so the write lock is never held
across event-loop turns (under load each turn is long, and hop-per-statement writes capped the bridge near
235 writes/s whatever the concurrency). Units that queue while a group runs form the next group and share one
transaction. The units of one loop turn are handed to the writer thread together, at the end of the turn: each hand-over can
wake the thread, and a wake-up made while the loop's thread holds the GIL costs context switches on both
threads (one wake per unit was ~11% of the GIL-holding samples of creates at c=32). A unit
that raises undoes only itself: the group runs once plainly and, only if a unit raised, is rolled back and
run again with each unit inside its own SAVEPOINT, so a unit must be its statements alone (no other effect,
and the same statements when run again on the same database). Every caller hears its outcome only after the
COMMIT that made it durable (or learns that the whole group failed, when BEGIN or COMMIT did). A caller that
is cancelled while waiting does not withdraw its unit: it still runs whole or not at all.

When its caller is the one operation under way (`Writer.operation`: every audited SCIM write marks itself
for as long as it runs), or the one in its journal stage (`Writer.stage`: intent, master call, store write)
while the others wait before theirs (several PATCHes of one group queue on its lock, one at a time), and the
writer is idle (nothing queued or running, no checkpoint due on its connection), a unit runs inline on the
event loop's thread instead, under the same lock, as a group of one with the same COMMIT and outcome.
Unmarked writers (reconcile, pruning, adoption) always queue.
At one request at a time the hops loop -> writer thread -> loop (queue, futex wake-up, GIL hand-over,
call_soon_threadsafe and another loop turn, twice per create) cost more than the unit. With two or more
operations under way the unit queues, so concurrent writers still share groups: each of them spends most of
its time waiting for the master, so whether units arrive in one loop turn says little (the same-turn rule of
4982b60 ran most c=32 units inline on uvloop, one transaction each). An inline BEGIN never waits (busy
timeout 0): when another process holds the write lock the unit queues and the writer thread waits for it.
The price: a COMMIT that meets a stalled disk stalls the loop, reads included, where on the writer thread
only writes would wait; a COMMIT is a write() into the WAL with no fsync (synchronous=NORMAL, checkpoints on
their own thread), so only a kernel throttling dirty pages or a hung filesystem can stall it.

The writer connection never checkpoints on COMMIT (wal_autocheckpoint 0): the Checkpointer does it on its
own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, SimpleQueue
from types import TracebackType
from typing import Any, Final, Generic, TypeVar, cast

from bridge.store.checkpointer import Checkpointer
from bridge.store.connections import LOCK_CODES, WriterConnection, open_writer_connection
from bridge.store.errors import StoreClosed
from bridge.store.scheduling import batch_scheduling

T = TypeVar("T")
SyncUnit = Callable[[WriterConnection], T]

# Bounds the latency one group adds to the units queued behind it (a group stops taking hand-overs at this
# size; the last one it took may carry it past, by at most one loop turn's units).
MAX_GROUP: Final = 128
# True in the task (and its children) of an operation marked with `Writer.operation`.
_MARKED: Final[ContextVar[bool]] = ContextVar("store_writer_marked", default=False)
# True in the task of an operation inside the stage marked with `Writer.stage`.
_STAGED: Final[ContextVar[bool]] = ContextVar("store_writer_staged", default=False)


@dataclass(frozen=True, slots=True)
class _Outcome(Generic[T]):
    value: T | None = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class _Job:
    unit: SyncUnit[Any]
    future: asyncio.Future[Any]


def _run_group(conn: WriterConnection, units: list[SyncUnit[Any]]) -> list[_Outcome[Any]]:
    """One transaction for all `units`: first all of them plainly, and only if one raises, again with each
    in a savepoint (`_run_savepointed`), so that only the units that fail are undone."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return [_Outcome(error=exc)] * len(units)
    if len(units) == 1:
        return [_run_alone(conn, units[0])]
    try:
        values = [unit(conn) for unit in units]
    except Exception:  # noqa: BLE001 - the savepointed run reports it to its own caller
        # Units almost never raise (the services check before they write), and a savepoint per unit costs
        # two statements and a copy of every page the unit changes into the statement journal (~10% of a
        # group's writer time). A unit is its statements alone, so its second run repeats its first.
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except BaseException as exc:  # noqa: BLE001 - reported to every caller of the group
            return [_Outcome(error=exc)] * len(units)
        return _run_savepointed(conn, units)
    except BaseException as exc:  # noqa: BLE001 - reported to every caller of the group
        return _fail_group(conn, units, exc)
    try:
        conn.execute("COMMIT")
    except BaseException as exc:  # noqa: BLE001 - reported to every caller of the group
        return _fail_group(conn, units, exc)
    return [_Outcome(value=value) for value in values]


def _run_savepointed(conn: WriterConnection, units: list[SyncUnit[Any]]) -> list[_Outcome[Any]]:
    """One transaction for all `units`, each in a savepoint: a unit that raises undoes only itself."""
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
        return _fail_group(conn, units, exc)
    return outcomes


def _fail_group(
    conn: WriterConnection, units: list[SyncUnit[Any]], exc: BaseException
) -> list[_Outcome[Any]]:
    """BEGIN held, but a savepoint step or COMMIT failed (disk full, I/O error): nothing of the group is
    durable, so every unit fails, including the ones that had succeeded inside it."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    return [_Outcome(error=exc)] * len(units)


def _run_alone(conn: WriterConnection, unit: SyncUnit[T]) -> _Outcome[T]:
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


def _open_connections(path: Path, busy_timeout_ms: int) -> tuple[WriterConnection, WriterConnection]:
    """The writer's connection, without automatic checkpoints, and the checkpointer's."""
    writer = open_writer_connection(path, busy_timeout_ms)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        return writer, open_writer_connection(path, busy_timeout_ms)
    except BaseException:
        writer.close()
        raise


class _Mark:
    """Marked operations under way (counted on the loop) and the flag their tasks carry (`var`)."""

    __slots__ = ("count", "var")

    def __init__(self, var: ContextVar[bool]) -> None:
        self.count = 0
        self.var = var


class _Marking:
    """The ``with`` of `Writer.operation` and `Writer.stage` (a class: entered twice per SCIM write, cheaper
    than a generator)."""

    __slots__ = ("_mark", "_token")

    def __init__(self, mark: _Mark) -> None:
        self._mark = mark
        self._token: Token[bool] | None = None

    def __enter__(self) -> None:
        self._mark.count += 1
        self._token = self._mark.var.set(True)

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._mark.count -= 1
        assert self._token is not None
        self._mark.var.reset(self._token)


class Writer:
    """Runs write units from the event loop: queued and run in groups on its own thread, or inline when alone."""

    __slots__ = (
        "_busy_timeout_ms",
        "_checkpointer",
        "_closed",
        "_conn",
        "_done",
        "_lock",
        "_operations",
        "_pending",
        "_queue",
        "_queued",
        "_staged",
        "_thread",
        "_timeout_now",
    )

    def __init__(self, conn: WriterConnection, checkpointer: Checkpointer) -> None:
        self._conn = conn
        self._checkpointer = checkpointer
        # The connection's own busy timeout, for groups on the writer thread; an inline unit sets 0.
        self._busy_timeout_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
        self._timeout_now = self._busy_timeout_ms
        # Held by whichever thread uses the connection: the writer thread for a group (and its catch-up
        # checkpoint), the loop's thread for an inline unit.
        self._lock = threading.Lock()
        # Units queued (counted on the loop) and units the writer thread ran (counted under the lock).
        self._queued = 0
        self._done = 0
        # Operations under way that write (see `operation`).
        self._operations = _Mark(_MARKED)
        # Marked operations inside their journal stage (see `stage`).
        self._staged = _Mark(_STAGED)
        # None is the stop mark, queued behind every unit already submitted.
        self._queue: SimpleQueue[list[_Job] | None] = SimpleQueue()
        # Units of the current loop turn, not yet handed over (touched on the loop's thread only, as `_queued`).
        self._pending: list[_Job] = []
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="store-writer", daemon=True)
        self._thread.start()

    @classmethod
    async def open(cls, path: Path, busy_timeout_ms: int) -> Writer:
        """Open the connections off the loop (switching to WAL may wait for another process's lock)."""
        conn, checkpointer = await asyncio.to_thread(_open_connections, path, busy_timeout_ms)
        return cls(conn, Checkpointer(checkpointer, lambda: open_writer_connection(path, busy_timeout_ms)))

    def operation(self) -> _Marking:
        """Mark an operation that writes, for as long as it runs (``with``, in its own task): while it is the
        only one marked, its units may run inline."""
        return _Marking(self._operations)

    def stage(self) -> _Marking:
        """Mark the stage of a marked operation that writes (``with``, inside `operation`): while it is the only
        one in that stage, its units may run inline even though other marked operations wait before theirs."""
        return _Marking(self._staged)

    async def run(self, unit: SyncUnit[T]) -> T:
        """Run `unit` inline when alone, else in the next group; its result or exception once its COMMIT is done."""
        if self._closed:
            raise StoreClosed("store is closed")
        if self._inline_allowed() and self._lock.acquire(blocking=False):
            try:
                outcome = self._run_inline(unit)
            finally:
                self._lock.release()
            if outcome is not None:
                # One loop turn before answering, as the queued path has: a caller writing in a loop (a
                # reconcile pass) cannot keep the loop from everything else.
                await asyncio.sleep(0)
                if outcome.error is not None:
                    raise outcome.error
                return cast("T", outcome.value)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queued += 1
        if not self._pending:
            loop.call_soon(self._hand_over)
        self._pending.append(_Job(unit, future))
        return await future

    def _hand_over(self) -> None:
        """Queue the units of this loop turn for the writer thread at once."""
        if self._pending:
            jobs, self._pending = self._pending, []
            self._queue.put(jobs)

    def _inline_allowed(self) -> bool:
        """The caller's is the one marked operation (or the one in its stage), nothing is queued or running on
        the writer thread, and no checkpoint is due there."""
        return (
            _MARKED.get()
            and (self._operations.count == 1 or (self._staged.count == 1 and _STAGED.get()))
            and self._queued == self._done
            and not self._checkpointer.due
        )

    def _set_busy_timeout(self, ms: int) -> None:
        if self._timeout_now != ms:
            self._conn.execute(f"PRAGMA busy_timeout = {ms:d}")
            self._timeout_now = ms

    def _run_inline(self, unit: SyncUnit[T]) -> _Outcome[T] | None:
        """`unit` as a group of one on the loop's thread, or None if another process holds the write lock."""
        self._set_busy_timeout(0)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in LOCK_CODES:
                return None
            return _Outcome(error=exc)
        outcome = _run_alone(self._conn, unit)
        self._checkpointer.committed()
        return outcome

    def _serve(self) -> None:
        """The writer thread: take what is queued (up to MAX_GROUP), run it as one group, answer, repeat."""
        batch_scheduling()
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            with self._lock:
                # Collected once the lock is held: units queued while an inline one ran join this group.
                group = first
                while len(group) < MAX_GROUP:
                    try:
                        jobs = self._queue.get_nowait()
                    except Empty:
                        break
                    if jobs is None:
                        stopping = True
                        break
                    group += jobs
                self._set_busy_timeout(self._busy_timeout_ms)
                outcomes = _run_group(self._conn, [job.unit for job in group])
                self._done += len(group)
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], _Outcome[Any]]]] = {}
            for job, outcome in zip(group, outcomes, strict=True):
                by_loop.setdefault(job.future.get_loop(), []).append((job.future, outcome))
            for loop, settled in by_loop.items():
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(_settle, settled)
            with self._lock:
                self._checkpointer.after_group(self._conn)
        self._checkpointer.close()
        self._conn.close()

    async def close(self) -> None:
        """Refuse new units, let queued ones finish, checkpoint, close the connections and stop the threads;
        idempotent."""
        if self._closed:
            return
        self._closed = True
        self._hand_over()
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
