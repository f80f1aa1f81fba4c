"""WAL checkpoints run on the checkpointer's thread, not in the writer's COMMIT; close checkpoints; failures
never fail a write."""

from __future__ import annotations

import asyncio
import sqlite3
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bridge.store import Store
from bridge.store.checkpointer import CATCH_UP_AFTER_GROUPS, Checkpointer
from bridge.store.connections import JOURNAL_SIZE_LIMIT_BYTES, open_writer_connection
from bridge.store.writer import Writer
from tests.store.factories import add_user


def _wal_index(db: Path) -> tuple[int, int]:
    """(frames in the WAL, frames copied back into the database) from the -shm file.

    Read straight from the wal-index (https://www.sqlite.org/walformat.html: mxFrame at byte 16 of the
    header, nBackfill at byte 96, native byte order) because asking SQLite would checkpoint by itself.
    """
    shm = db.with_name(db.name + "-shm").read_bytes()
    return struct.unpack_from("=I", shm, 16)[0], struct.unpack_from("=I", shm, 96)[0]


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for the checkpointer's thread to bring `condition` about (a guard against hanging, no timing)."""
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the checkpointer never got there")


def _insert(value: str) -> Callable[[sqlite3.Connection], object]:
    return lambda c: c.execute("INSERT INTO t (v) VALUES (?)", (value,)).rowcount


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "w.db"


@pytest.fixture
async def writer(db: Path) -> AsyncIterator[Writer]:
    opened = await Writer.open(db, 5000)
    await opened.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
    try:
        yield opened
    finally:
        await opened.close()


async def test_the_writer_connection_never_checkpoints_on_commit(writer: Writer) -> None:
    assert await writer.run(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0


async def test_a_restarted_wal_is_truncated_to_the_size_limit(writer: Writer, db: Path) -> None:
    # The limit applies when a restarted WAL is rewritten: a 2 MiB burst against a lowered limit shows it.
    await writer.run(lambda c: c.execute("PRAGMA journal_size_limit = 65536"))
    for i in range(40):
        await writer.run(_insert(f"{i}-" + "x" * 50_000))
    wal = db.with_name(db.name + "-wal")
    assert wal.stat().st_size > 1_000_000
    await _until(lambda: _wal_index(db)[1] == _wal_index(db)[0])
    await writer.run(_insert("after the checkpoint"))
    assert wal.stat().st_size <= 65536


async def test_writer_connections_cap_the_wal_file(writer: Writer) -> None:
    limit = await writer.run(lambda c: c.execute("PRAGMA journal_size_limit").fetchone()[0])
    assert limit == JOURNAL_SIZE_LIMIT_BYTES


async def test_the_checkpointer_copies_the_wal_back_and_the_next_write_restarts_it(
    writer: Writer, db: Path
) -> None:
    for i in range(20):
        await writer.run(_insert(f"v{i}"))
    await _until(lambda: _wal_index(db)[1] == _wal_index(db)[0])
    frames, _ = _wal_index(db)
    assert frames > 0
    await writer.run(_insert("after"))
    assert _wal_index(db)[0] < frames  # the WAL started again from its beginning


async def test_close_checkpoints_the_wal(db: Path) -> None:
    writer = await Writer.open(db, 5000)
    # Another connection stays open, so the copy is not the one SQLite makes when the last connection closes.
    observer = sqlite3.connect(db)
    try:
        observer.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the database file
        await writer.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
        await asyncio.gather(*(writer.run(_insert(f"v{i}")) for i in range(50)))
        await writer.close()
        frames, copied = _wal_index(db)
        assert frames > 0
        assert copied == frames
    finally:
        observer.close()


async def test_closing_the_store_leaves_no_wal_behind(store: Store, db_path: Path) -> None:
    await add_user(store, "someone")
    await store.close()
    assert not db_path.with_name(db_path.name + "-wal").exists()


async def test_a_failing_checkpoint_is_logged_retried_and_fails_no_write(db: Path) -> None:
    conn = open_writer_connection(db, 5000)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    # A checkpoint needs to write the database file: over a read-only connection it is an I/O error.
    writer = Writer(
        conn, Checkpointer(sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False))
    )
    with capture_logs() as logs:
        await writer.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
        assert await writer.run(_insert("before")) == 1
        await _until(lambda: any(e["event"] == "store.checkpoint_failed" for e in logs))
        assert await writer.run(_insert("after")) == 1
        await writer.close()  # its last checkpoint fails too, and close still succeeds
    failures = [e for e in logs if e["event"] == "store.checkpoint_failed"]
    assert len(failures) >= 2
    assert all(e["log_level"] == "warning" and e["error"] for e in failures)
    check = sqlite3.connect(db)
    try:
        assert [r[0] for r in check.execute("SELECT v FROM t ORDER BY v")] == ["after", "before"]
    finally:
        check.close()


async def test_when_no_checkpoint_succeeds_the_writer_checkpoints_itself_and_the_wal_restarts(
    db: Path,
) -> None:
    conn = open_writer_connection(db, 5000)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    # A closed connection fails every checkpoint (a read-only one could keep SQLite's checkpoint lock).
    failing = sqlite3.connect(db, check_same_thread=False)
    failing.close()
    writer = Writer(conn, Checkpointer(failing))
    with capture_logs() as logs:
        await writer.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
        for i in range(CATCH_UP_AFTER_GROUPS + 10):
            await writer.run(_insert(f"v{i}"))
        # Every commit appends at least one frame: without a restart the WAL would hold more than this.
        assert _wal_index(db)[0] < CATCH_UP_AFTER_GROUPS
        await writer.close()
    assert not [e for e in logs if e["event"] == "store.checkpoint_failed" and e["by"] == "writer"]
