"""Opening SQLite connections with the store's pragmas, and the small pool of read connections."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Final

import aiosqlite

from bridge.store.errors import StoreClosed

BUSY_TIMEOUT_MS: Final = 5000


async def connect(
    path: Path, *, read_only: bool, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> aiosqlite.Connection:
    """An autocommit connection (we issue BEGIN/COMMIT ourselves) with WAL, foreign keys and busy timeout."""
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        conn.row_factory = aiosqlite.Row
        # busy_timeout first, so the journal-mode switch itself waits for another process's lock.
        await conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms:d}")
        if not read_only:
            async with conn.execute("PRAGMA journal_mode = WAL") as cur:
                row = await cur.fetchone()
            if row is None or str(row[0]).lower() != "wal":
                raise sqlite3.OperationalError(f"could not switch {path} to WAL mode")
        await conn.execute("PRAGMA foreign_keys = ON")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commits.
        await conn.execute("PRAGMA synchronous = NORMAL")
        if read_only:
            await conn.execute("PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


class ReaderPool:
    """Read connections handed out one coroutine at a time, so a multi-statement read sees one snapshot."""

    __slots__ = ("_all", "_closed", "_idle")

    def __init__(self, connections: list[aiosqlite.Connection]) -> None:
        self._all = tuple(connections)
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in connections:
            self._idle.put_nowait(conn)
        self._closed = False

    async def acquire(self) -> aiosqlite.Connection:
        """Wait for an idle read connection."""
        if self._closed:
            raise StoreClosed("store is closed")
        return await self._idle.get()

    def release(self, conn: aiosqlite.Connection) -> None:
        """Give a connection back."""
        self._idle.put_nowait(conn)

    async def close(self) -> None:
        """Wait until every connection is idle, then close them all."""
        self._closed = True
        for _ in self._all:
            await self._idle.get()
        for conn in self._all:
            await conn.close()
