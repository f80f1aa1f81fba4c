"""Retention (bridge/web/retention.py): a serving bridge prunes finished intents and old audit lines of its
real SQLite file in bounded batches, keeps pending intents and recent rows, and survives a busy database."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.config import DatabaseSettings
from bridge.retention import prune_once
from bridge.store import PRUNE_BATCH, StoreUnavailable, open_store
from bridge.web.keys import STORE
from bridge.web.metrics import METRICS
from bridge.web.retention import retention_context
from tests.conftest import LogReader
from tests.idp.harness import start_world
from tests.ops.history import OLD, seed_history, table_rows
from tests.polling import until
from tests.provisioning.scim import create_user


def _pruned(captured_logs: LogReader) -> list[dict[str, object]]:
    return [e for e in captured_logs() if e["event"] == "store.pruned"]


async def test_serve_prunes_old_finished_intents_and_audit_lines_at_start_up(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    db = tmp_path / "bridge.db"
    await seed_history(db, datetime.now(UTC))
    world = await start_world(
        aiohttp_server,
        aiohttp_client,
        tmp_path,
        database={"intent_retention_days": 7, "audit_retention_days": 20},
    )
    await until(lambda: bool(_pruned(captured_logs)), "no store.pruned line")
    [line] = _pruned(captured_logs)
    assert (line["level"], line["intents"], line["audit"]) == ("info", OLD, OLD)
    assert {"intents_before", "audit_before"} <= line.keys()
    intents, audit = table_rows(db)
    assert intents == ["old-pending", "recent"]
    assert audit == ["recent"]
    recorder = world.app[METRICS]
    for table in ("intents", "audit_log"):
        assert (
            recorder.registry.get_sample_value("scim_bridge_store_pruned_rows_total", {"table": table}) == OLD
        )
    # The bridge serves on; what its writes journal now is recent and stays.
    await create_user(world, "ada@example.com", "Ada")
    intents, audit = table_rows(db)
    assert intents[:2] == ["old-pending", "recent"]
    assert len(intents) > 2
    assert audit[0] == "recent"
    assert len(audit) > 1


async def test_nothing_is_pruned_with_retention_zero(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    db = tmp_path / "bridge.db"
    await seed_history(db, datetime.now(UTC))
    world = await start_world(
        aiohttp_server,
        aiohttp_client,
        tmp_path,
        database={"intent_retention_days": 0, "audit_retention_days": 0},
    )
    await create_user(world, "ada@example.com", "Ada")
    intents, audit = table_rows(db)
    assert (len(intents), len(audit)) == (OLD + 2 + 1, OLD + 1 + 1)
    assert not _pruned(captured_logs)


async def test_a_busy_database_fails_a_pass_which_the_next_one_retries(
    aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    db = tmp_path / "bridge.db"
    await seed_history(db, datetime.now(UTC))

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        app[STORE] = await open_store(db, busy_timeout_ms=0)
        yield
        await app[STORE].close()

    # Another process (an sqlite3 shell, a CLI pass) holds the write lock from before the bridge starts.
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    app = web.Application()
    app.cleanup_ctx.extend(
        [store_ctx, retention_context(DatabaseSettings(path=str(db), audit_retention_days=20), period=0.05)]
    )
    await aiohttp_client(app)
    failed = [("store.prune_failed", "warning", "StoreUnavailable")]
    await until(
        lambda: (
            [
                (e["event"], e["level"], e.get("error"))
                for e in captured_logs()
                if e["event"] == "store.prune_failed"
            ][:1]
            == failed
        ),
        "no store.prune_failed line",
    )
    blocker.execute("ROLLBACK")
    blocker.close()
    await until(lambda: bool(_pruned(captured_logs)), "the next pass pruned nothing")
    assert table_rows(db) == (["old-pending", "recent"], ["recent"])


async def test_a_pass_that_fails_part_way_logs_and_counts_what_it_deleted(
    tmp_path: Path, captured_logs: LogReader
) -> None:
    """The intents go, then another process takes the write lock before the audit lines' turn: the pass fails,
    and the intents it deleted are still logged and counted (they stay deleted)."""
    db = tmp_path / "bridge.db"
    await seed_history(db, datetime.now(UTC))
    store = await open_store(db, busy_timeout_ms=0)
    blocker = sqlite3.connect(db, isolation_level=None)
    counted: list[tuple[str, int]] = []

    def on_batch(table: str, rows: int) -> None:
        counted.append((table, rows))
        if table == "intents" and rows < PRUNE_BATCH:  # the intents' last batch: lock out the audit lines'
            blocker.execute("BEGIN IMMEDIATE")

    database = DatabaseSettings(path=str(db), intent_retention_days=7, audit_retention_days=20)
    try:
        with pytest.raises(StoreUnavailable):
            await prune_once(store, database, datetime.now(UTC), PRUNE_BATCH, on_batch)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        await store.close()
    assert sum(rows for table, rows in counted if table == "intents") == OLD
    assert all(table == "intents" for table, _ in counted)
    [line] = _pruned(captured_logs)
    assert (line["intents"], line["audit"]) == (OLD, 0)
    intents, audit = table_rows(db)
    assert intents == ["old-pending", "recent"]
    assert len(audit) == OLD + 1
