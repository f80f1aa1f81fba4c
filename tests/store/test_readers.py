"""The reader pool: lookups on the loop's thread never wait for a lock; reads on reader threads do."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bridge.store import StoreClosed
from bridge.store.connections import ReaderConnection, ReaderPool


def _value(conn: ReaderConnection) -> int:
    return int(conn.execute("SELECT x FROM t").fetchone()[0])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "readers.db"
    conn = sqlite3.connect(path, isolation_level=None)
    # Rollback-journal mode, where a writer's exclusive lock shuts readers out (WAL almost never does).
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    return path


async def test_a_locked_lookup_moves_to_a_reader_thread_instead_of_blocking_the_loop(db_path: Path) -> None:
    pool = await ReaderPool.open(db_path, 1, busy_timeout_ms=10_000)
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert await pool.lookup(_value) == 1
        other.execute("BEGIN EXCLUSIVE")
        other.execute("UPDATE t SET x = 2")
        lookup = asyncio.ensure_future(pool.lookup(_value))
        # The loop keeps turning while the lookup waits on its reader thread for the lock.
        for _ in range(20):
            await asyncio.sleep(0)
        assert not lookup.done()
        other.execute("COMMIT")
        assert await lookup == 2
    finally:
        other.close()
        await pool.close()


async def test_other_errors_are_raised_and_a_closed_pool_refuses(db_path: Path) -> None:
    pool = await ReaderPool.open(db_path, 2)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await pool.lookup(lambda conn: conn.execute("SELECT * FROM missing").fetchone())
    assert await pool.run(_value) == 1
    await pool.close()
    await pool.close()
    with pytest.raises(StoreClosed):
        await pool.lookup(_value)
    with pytest.raises(StoreClosed):
        await pool.run(_value)


async def test_a_lookup_through_the_kept_cursor_leaves_no_lock_behind(db_path: Path) -> None:
    # A statement left unfinished on the kept cursor would hold its read lock (in WAL mode, its snapshot)
    # until the next lookup: a writer that cannot wait would then be refused.
    pool = await ReaderPool.open(db_path, 1)
    other = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        assert await pool.lookup(lambda conn: int(conn.lookups.execute("SELECT x FROM t").fetchone()[0])) == 1
        other.execute("BEGIN EXCLUSIVE")
        other.execute("UPDATE t SET x = 3")
        other.execute("COMMIT")
        assert await pool.lookup(lambda conn: int(conn.lookups.execute("SELECT x FROM t").fetchone()[0])) == 3
    finally:
        other.close()
        await pool.close()
