"""Opening SQLite connections with the store's pragmas: migrations' connection (aiosqlite) and the pool of readers."""

from __future__ import annotations

import asyncio
import enum
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

import aiosqlite

from bridge.store.errors import StoreClosed
from bridge.store.pages import PageIndexes

T = TypeVar("T")

BUSY_TIMEOUT_MS: Final = 5000
# A burst of writes can grow the WAL far past its steady size (checkpoints race the writer); when the WAL
# next restarts from its start, SQLite truncates the file to this size instead of keeping it at its peak.
JOURNAL_SIZE_LIMIT_BYTES: Final = 64 * 1024 * 1024


class WriterConnection(sqlite3.Connection):
    """A connection that writes, plus a cursor kept for the statements every write runs (the intent's INSERT,
    its finish and audit line, a user's INSERT or UPDATE): Connection.execute makes a cursor per call (~1.5k
    instructions). Only for statements whose result is read at once (a rowcount, a lastrowid, a fetchone by a
    unique key, which steps the statement to its end); its rows are plain tuples, read by position (made before
    the connection's row factory is set)."""

    statements: sqlite3.Cursor

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statements = self.cursor()


def open_writer_connection(path: Path, busy_timeout_ms: int) -> WriterConnection:
    """An autocommit connection (we issue BEGIN/COMMIT ourselves) with WAL, foreign keys and busy timeout.

    The writer thread's connection and the checkpointer's (writer.Writer) and, wrapped by aiosqlite, the
    migrations' one.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=WriterConnection)
    try:
        conn.row_factory = sqlite3.Row
        # busy_timeout first, so the journal-mode switch itself waits for another process's lock.
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms:d}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch {path} to WAL mode")
        conn.execute("PRAGMA foreign_keys = ON")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT_BYTES:d}")
    except BaseException:
        conn.close()
        raise
    return conn


async def connect_writer(path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> aiosqlite.Connection:
    """The migrations' connection: `open_writer_connection`, then handed to aiosqlite's thread."""
    # Opened before that thread starts: when aiosqlite's own connector fails it stops the thread without
    # waiting, and the thread then reports to an event loop that a CLI command has closed meanwhile (an
    # "Exception in thread ... Event loop is closed" traceback after the command's own message).
    conn = await asyncio.to_thread(open_writer_connection, path, busy_timeout_ms)
    return await aiosqlite.Connection(lambda: conn, iter_chunk_size=64)


class ReaderConnection(sqlite3.Connection):
    """A read-only connection plus the state only its own thread touches: the cache of listing indexes, and
    a cursor for lookups by a unique key."""

    pages: PageIndexes
    lookups: sqlite3.Cursor

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages = PageIndexes()
        # Connection.execute makes a cursor per call (~1.8k instructions; every GET makes a lookup). Only
        # for statements that return at most one row, read with fetchone (the step after that row ends the
        # statement), or whose rows are read at once with fetchall: the kept cursor holds no read
        # transaction open between lookups.
        self.lookups = self.cursor()


def _open_reader(path: Path, busy_timeout_ms: int) -> ReaderConnection:
    conn = sqlite3.connect(path, isolation_level=None, factory=ReaderConnection)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms:d}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    return conn


class _Reader:
    """One read connection owned by one thread: every job runs there whole, so a read is one thread hop.

    (aiosqlite hops to its thread once per statement, fetch and cursor close: five or more per read.)
    A job queued or running when its caller is cancelled still runs to the end, so the connection is
    never left inside a transaction; jobs on one connection run one after another in order.
    """

    __slots__ = ("_conn", "_executor", "in_flight")

    def __init__(self, conn: ReaderConnection, executor: ThreadPoolExecutor) -> None:
        self._conn = conn
        self._executor = executor
        self.in_flight = 0

    @classmethod
    async def open(cls, path: Path, busy_timeout_ms: int) -> _Reader:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-reader")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(
                executor, _open_reader, path, busy_timeout_ms
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(conn, executor)

    async def run(self, job: Callable[[ReaderConnection], T]) -> T:
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, job, self._conn)
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        # Queued behind every job already submitted, so in-flight reads finish first.
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown(wait=False)


# Primary result codes of a lock that another connection holds (the low byte of the extended code).
LOCK_CODES: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class Locked(enum.Enum):
    """`ReaderPool.inline`'s answer when SQLite met a lock."""

    LOCKED = "locked"


class ReaderPool:
    """Read connections, each with its own thread; a read goes to the least busy one.

    Plus one connection used on the event loop's own thread for lookups by a unique key (``lookup``).
    """

    __slots__ = ("_closed", "_inline", "_readers")

    def __init__(self, readers: list[_Reader], inline: ReaderConnection) -> None:
        self._readers = tuple(readers)
        self._inline = inline
        self._closed = False

    @classmethod
    async def open(cls, path: Path, count: int, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> ReaderPool:
        """Open `count` read connections on `path`, plus the inline one."""
        readers: list[_Reader] = []
        try:
            for _ in range(count):
                readers.append(await _Reader.open(path, busy_timeout_ms))
            # busy_timeout 0: the inline connection must never wait for a lock on the event loop's thread.
            inline = _open_reader(path, 0)
        except BaseException:
            for reader in readers:
                await reader.close()
            raise
        return cls(readers, inline)

    async def lookup(self, job: Callable[[ReaderConnection], T]) -> T:
        """Run a one-statement read by a unique key on the calling (event loop) thread; a thread if busy.

        Such a read is an index probe of a few microseconds, cheaper than the hop to a reader thread and
        back. Its answer must come from a single statement (its own snapshot) over an index; a cheaper probe
        may come first (fetch_live_user_unless reads a version alone). In WAL mode a reader almost
        never meets a lock; when it does (e.g. during WAL recovery) the read goes to a reader thread,
        which may wait for it, instead of blocking the loop.
        """
        found = self.inline(job)
        if found is Locked.LOCKED:
            return await self.run(job)
        return found

    def inline(self, job: Callable[[ReaderConnection], T]) -> T | Locked:
        """`lookup` on the calling thread alone: `Locked.LOCKED` instead of the answer when SQLite met a lock (the
        caller then runs `job` on a reader thread). Its callers save `lookup`'s coroutine (every GET makes
        one lookup)."""
        if self._closed:
            raise StoreClosed("store is closed")
        try:
            return job(self._inline)
        except sqlite3.OperationalError as exc:
            if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) not in LOCK_CODES:
                raise
        return Locked.LOCKED

    async def run(self, job: Callable[[ReaderConnection], T]) -> T:
        """Run `job(connection)` on a reader thread and return its result (or raise its exception)."""
        if self._closed:
            raise StoreClosed("store is closed")
        return await min(self._readers, key=lambda r: r.in_flight).run(job)

    async def close(self) -> None:
        """Let queued reads finish, then close every connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._inline.close()
        for reader in self._readers:
            await reader.close()
