"""Schema migrations: fresh database, idempotent re-open, refusal of newer schemas, rollback of failures."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bridge.store import IntentState, MigrationFailed, SchemaTooNew, journal, open_store
from bridge.store.connections import WriterConnection, connect_writer
from bridge.store.migrations import Migration, load_migrations, migrate, schema_version, split_statements


def _pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_fresh_database_gets_every_migration_and_wal(db_path: Path) -> None:
    store = await open_store(db_path)
    await store.close()
    assert _pragma(db_path, "user_version") == len(load_migrations())
    assert _pragma(db_path, "journal_mode") == "wal"
    assert {"users", "user_emails", "groups", "group_members", "intents", "audit_log"} <= _tables(db_path)


async def test_reopen_is_idempotent_and_keeps_data(db_path: Path) -> None:
    store = await open_store(db_path)
    intent = await store.begin_intent(
        request_id="r1", operation="create", resource_type="User", target="bob", payload_digest="d"
    )
    await store.close()
    again = await open_store(db_path)
    try:
        assert [i.id for i in await again.pending_intents()] == [intent]
    finally:
        await again.close()
    assert _pragma(db_path, "user_version") == len(load_migrations())


async def test_newer_schema_is_refused_and_left_alone(db_path: Path) -> None:
    store = await open_store(db_path)
    await store.close()
    newer = len(load_migrations()) + 1
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(SchemaTooNew, match="newer than this scim-bridge supports") as caught:
        await open_store(db_path)
    assert caught.value.found == newer
    assert _pragma(db_path, "user_version") == newer


async def test_failing_migration_is_rolled_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    steps = (
        Migration(1, "0001_ok.sql", ("CREATE TABLE a (x INTEGER);",)),
        Migration(2, "0002_bad.sql", ("CREATE TABLE b (x INTEGER);", "INSERT INTO missing VALUES (1);")),
    )
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        with pytest.raises(MigrationFailed, match=r"0002_bad\.sql"):
            await migrate(conn, steps)
        assert await schema_version(conn) == 1
    assert _tables(path) == {"a"}


async def test_migrate_skips_steps_already_applied(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    steps = (Migration(1, "0001_ok.sql", ("CREATE TABLE a (x INTEGER);",)),)
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await migrate(conn, steps) == 1
        assert await migrate(conn, steps) == 1


def test_split_statements_keeps_comments_and_triggers_whole() -> None:
    script = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (x INTEGER);\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET x = 1;\nEND;\n"
        "-- trailing comment\n"
    )
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END;")


def test_split_statements_rejects_an_unfinished_statement() -> None:
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE t (x INTEGER)")


def test_packaged_migrations_are_numbered_from_one() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.statements for m in migrations)


STEPS = (
    Migration(1, "0001_a.sql", ("CREATE TABLE a (x INTEGER);",)),
    Migration(2, "0002_b.sql", ("CREATE TABLE b (x INTEGER);",)),
)


async def _migrate_while_another_process_commits(path: Path, version: int) -> int:
    """migrate(STEPS) that reads version 0, then waits for the lock of another process, which creates table
    `a`, sets user_version to `version` and commits."""
    other = sqlite3.connect(path, isolation_level=None)
    conn = await connect_writer(path, busy_timeout_ms=30_000)
    try:
        other.execute("PRAGMA journal_mode = WAL")
        other.execute("BEGIN IMMEDIATE")
        other.execute("CREATE TABLE a (x INTEGER)")
        other.execute(f"PRAGMA user_version = {version:d}")
        loop = asyncio.get_running_loop()
        waiting = asyncio.Event()

        def traced(sql: str) -> None:
            if sql.startswith("BEGIN IMMEDIATE"):
                loop.call_soon_threadsafe(waiting.set)

        await conn.set_trace_callback(traced)
        migrating = asyncio.ensure_future(migrate(conn, STEPS))
        await waiting.wait()  # it read version 0 and now asks for the lock the other process holds
        other.execute("COMMIT")
        return await migrating
    finally:
        await conn.close()
        other.close()


async def test_a_step_another_process_applied_meanwhile_is_skipped_not_repeated(tmp_path: Path) -> None:
    """Two processes starting on one file: the one that waited for the other's lock re-reads the version
    under its own lock, skips the step the other applied and applies the next one (re-running step 1 would
    fail, its table exists, and roll back as MigrationFailed)."""
    path = tmp_path / "m.db"
    assert await _migrate_while_another_process_commits(path, 1) == 2
    assert _tables(path) == {"a", "b"}
    assert _pragma(path, "user_version") == 2


async def test_a_newer_process_that_migrated_meanwhile_is_refused_under_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with pytest.raises(SchemaTooNew) as caught:
        await _migrate_while_another_process_commits(path, 3)
    assert caught.value.found == 3
    assert _tables(path) == {"a"}
    assert _pragma(path, "user_version") == 3


_STATES = ("pending", "done", "rolled_back")


async def test_the_intents_rebuild_keeps_every_intent_and_the_states_it_allows(tmp_path: Path) -> None:
    """Migration 0004 rebuilds the intents table with its state CHECK as comparisons: the intents of a version-3
    database stay as they were (ids, states, the pending index), and a state outside the three is refused."""
    path = tmp_path / "m.db"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await migrate(conn, load_migrations()[:3]) == 3
        for n, state in enumerate(_STATES * 2, start=7):
            await conn.execute(
                "INSERT INTO intents VALUES (?, ?, 'create', 'User', ?, 'd', ?, 't0', ?)",
                (n, f"r{n}", f"t{n}", state, None if state == "pending" else "t1"),
            )
        before = list(await conn.execute_fetchall("SELECT * FROM intents ORDER BY id"))
        assert await migrate(conn, load_migrations()) == len(load_migrations())
        assert list(await conn.execute_fetchall("SELECT * FROM intents ORDER BY id")) == before
        pending = "SELECT id FROM intents WHERE state = 'pending' ORDER BY id"
        assert [r[0] for r in await conn.execute_fetchall(pending)] == [7, 10]
        assert "intents_pending" in str(list(await conn.execute_fetchall("EXPLAIN QUERY PLAN " + pending)))
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            await conn.execute("UPDATE intents SET state = 'gone' WHERE id = 7")
        added = await conn.execute(
            "INSERT INTO intents (request_id, operation, resource_type, target, payload_digest, state, created)"
            " VALUES ('r', 'create', 'User', 't', 'd', 'pending', 't2')"
        )
        assert added.lastrowid == 13


_INTENT = {
    "request_id": "r",
    "operation": "create",
    "resource_type": "User",
    "target": "t",
    "payload_digest": "d",
}


async def test_journalling_an_intent_builds_no_temporary_index(db_path: Path) -> None:
    """Beginning and finishing an intent (two per write) run without an ephemeral table: SQLite built one per
    statement to check `state IN (...)` (~60k instructions per write)."""
    store = await open_store(db_path)
    await store.close()
    traced: list[str] = []
    conn = sqlite3.connect(db_path, isolation_level=None, factory=WriterConnection)
    try:
        conn.set_trace_callback(traced.append)
        conn.execute("BEGIN IMMEDIATE")
        intent = journal.begin_intent(conn, "t0", **_INTENT)
        journal.require_pending(conn, "t1", intent)
        second = journal.begin_intent(conn, "t0", **_INTENT)
        journal.finish_intent(conn, "t1", second, IntentState.ROLLED_BACK)
        conn.execute("ROLLBACK")
        conn.set_trace_callback(None)
        statements = [s for s in traced if "intents" in s]
        assert len(statements) == 4
        for statement in statements:
            assert "OpenEphemeral" not in {r[1] for r in conn.execute("EXPLAIN " + statement)}, statement
    finally:
        conn.close()
