"""WAL checkpoints run on the checkpointer's thread, not in the writer's COMMIT; close checkpoints; failures
never fail a write."""

from __future__ import annotations

import asyncio
import sqlite3
import struct
import threading
from collections.abc import AsyncIterator, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bridge.store import Store
from bridge.store.checkpointer import CATCH_UP_AFTER_GROUPS, WAL_LIMIT_FRAMES, Checkpointer
from bridge.store.connections import JOURNAL_SIZE_LIMIT_BYTES, open_writer_connection
from bridge.store.writer import Writer
from tests.polling import until
from tests.store.factories import add_user

# The checkpointer works on its own thread: polled (tests/polling.py), with this failure.
NEVER = "the checkpointer never got there"


def _wal_index(db: Path) -> tuple[int, int]:
    """(frames in the WAL, frames copied back into the database) from the -shm file.

    Read straight from the wal-index (https://www.sqlite.org/walformat.html: mxFrame at byte 16 of the
    header, nBackfill at byte 96, native byte order) because asking SQLite would checkpoint by itself.
    """
    shm = db.with_name(db.name + "-shm").read_bytes()
    return struct.unpack_from("=I", shm, 16)[0], struct.unpack_from("=I", shm, 96)[0]


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
    await until(lambda: _wal_index(db)[1] == _wal_index(db)[0], NEVER)
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
    await until(lambda: _wal_index(db)[1] == _wal_index(db)[0], NEVER)
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
    def read_only() -> sqlite3.Connection:
        return sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)

    writer = Writer(conn, Checkpointer(read_only(), read_only))
    with capture_logs() as logs:
        await writer.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
        assert await writer.run(_insert("before")) == 1
        await until(lambda: any(e["event"] == "store.checkpoint_failed" for e in logs), NEVER)
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
    writer = Writer(conn, Checkpointer(failing, lambda: failing))
    with capture_logs() as logs:
        await writer.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
        for i in range(CATCH_UP_AFTER_GROUPS + 10):
            await writer.run(_insert(f"v{i}"))
        # Every commit appends at least one frame: without a restart the WAL would hold more than this.
        assert _wal_index(db)[0] < CATCH_UP_AFTER_GROUPS
        await writer.close()
    assert not [e for e in logs if e["event"] == "store.checkpoint_failed" and e["by"] == "writer"]


async def test_a_checkpointer_whose_connection_failed_reopens_it_and_checkpoints_again(db: Path) -> None:
    """The connection fails once (here: closed under it); the next try opens a new one, and one warning and
    one recovery line say so."""
    conn = open_writer_connection(db, 5000)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    broken = sqlite3.connect(db, check_same_thread=False)
    broken.close()
    writer = Writer(conn, Checkpointer(broken, lambda: open_writer_connection(db, 5000)))
    with capture_logs() as logs:
        await writer.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
        for i in range(20):
            await writer.run(_insert(f"v{i}"))
        await until(lambda: any(e["event"] == "store.checkpointer_recovered" for e in logs), NEVER)
        # The reopened connection copied the whole WAL back, so the next write restarts it.
        frames, copied = _wal_index(db)
        assert frames > 0
        assert copied == frames
        await writer.run(_insert("after"))
        assert _wal_index(db)[0] < frames
        await writer.close()
    failures = [e for e in logs if e["event"] == "store.checkpoint_failed"]
    assert [(e["by"], e["failures"], e["log_level"]) for e in failures] == [("checkpointer", 1, "warning")]
    recovered = [e for e in logs if e["event"] == "store.checkpointer_recovered"]
    assert [(e["failures"], e["log_level"]) for e in recovered] == [(1, "info")]


async def test_a_checkpointer_that_cannot_reopen_backs_off_logs_each_failure_once_and_fails_no_write(
    db: Path, tmp_path: Path
) -> None:
    conn = open_writer_connection(db, 5000)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    broken = sqlite3.connect(db, check_same_thread=False)
    broken.close()

    def cannot_open() -> sqlite3.Connection:
        return sqlite3.connect(tmp_path / "no such directory" / "w.db", check_same_thread=False)

    checkpointer = Checkpointer(broken, cannot_open)
    writer = Writer(conn, checkpointer)
    with capture_logs() as logs:
        await writer.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
        i = 0

        def failures() -> list[MutableMapping[str, Any]]:
            return [e for e in logs if e["event"] == "store.checkpoint_failed"]

        async def wrote_while_it_failed_twice() -> bool:
            nonlocal i
            assert await writer.run(_insert(f"v{i}")) == 1  # writes go on while the checkpointer fails
            i += 1
            return len(failures()) >= 2

        await until(wrote_while_it_failed_twice, NEVER)
        # Each failed try is one line, and the wait before the next one doubles.
        assert [(e["failures"], e["retry_in_s"]) for e in failures()[:2]] == [(1, 1.0), (2, 2.0)]
        assert await writer.run(_insert("after")) == 1
        await writer.close()  # its last checkpoint cannot reopen either, and close still succeeds
    check = sqlite3.connect(db)
    try:
        assert check.execute("SELECT count(*) FROM t").fetchone()[0] == i + 1
    finally:
        check.close()


class _GatedConnection(sqlite3.Connection):
    """The checkpointer's connection, whose checkpoints wait for the test's leave (`gate`) and report what
    they found (`results`): it checkpoints exactly when the test says, and never while the test looks."""

    gate: threading.Semaphore
    results: list[tuple[int, int, int]]

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if not sql.startswith("PRAGMA wal_checkpoint"):
            return super().execute(sql, *args)
        self.gate.acquire()
        row = super().execute(sql, *args).fetchone()
        self.results.append(tuple(row))
        return super().execute("SELECT ?, ?, ?", tuple(row))


@pytest.mark.parametrize(("blobs", "behind"), [(18, True), (6, False)], ids=["past-limit", "under-limit"])
async def test_the_writer_checkpoints_itself_once_a_checkpoint_found_the_wal_past_the_limit(
    db: Path, blobs: int, behind: bool
) -> None:
    """WAL_LIMIT_FRAMES: when a checkpoint could not keep the WAL under it (here a reader's snapshot held
    every frame back), the writer checkpoints between its next two groups, without waiting for the
    checkpointer (parked here), so the write after that restarts the WAL. Under the limit it does not."""
    conn = open_writer_connection(db, 5000)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    gated = sqlite3.connect(db, factory=_GatedConnection, isolation_level=None, check_same_thread=False)
    gated.gate = threading.Semaphore(0)
    gated.results = []
    writer = Writer(conn, Checkpointer(gated, lambda: gated))
    reader = sqlite3.connect(db, isolation_level=None)
    try:
        await writer.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchone()  # its snapshot keeps every later frame in the WAL
        for i in range(blobs):
            await writer.run(_insert(f"{i}-" + "x" * 1_000_000))  # about 250 pages each
        gated.gate.release()
        await until(lambda: len(gated.results) == 1, NEVER)
        _busy, frames, copied = gated.results[0]
        assert (frames >= WAL_LIMIT_FRAMES) is behind
        assert copied < frames
        reader.execute("COMMIT")
        await writer.run(_insert("first"))
        before = _wal_index(db)[0]
        await writer.run(_insert("second"))
        if behind:
            assert _wal_index(db)[0] < before  # the writer had copied it all back: the WAL restarted
        else:
            assert _wal_index(db)[0] > before
        assert len(gated.results) == 1  # the checkpointer did not do it
    finally:
        reader.close()
        gated.gate.release(100)
        await writer.close()
