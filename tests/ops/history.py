"""A month of intent journal and audit log written straight into a bridge's SQLite file, for retention tests."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from bridge.store import open_store
from bridge.store.codec import format_ts

OLD = 1201  # more than two batches of PRUNE_BATCH (500)


async def seed_history(db: Path, now: datetime) -> None:
    """A month of history written straight into the file: finished intents and audit lines a month old, one
    pending intent as old, and a day-old finished intent and audit line."""
    await (await open_store(db)).close()  # the schema
    month_ago = format_ts(now - timedelta(days=30))
    day_ago = format_ts(now - timedelta(days=1))
    intent = "INSERT INTO intents (request_id, operation, resource_type, target, payload_digest, state, created, finished) VALUES (?, 'create', 'User', ?, 'd', ?, ?, ?)"
    audit = "INSERT INTO audit_log (ts, request_id, client, operation, resource_type, resource_id, master_calls, outcome) VALUES (?, ?, 'okta', 'create', 'User', NULL, 1, 'ok')"
    with sqlite3.connect(db) as conn:
        conn.executemany(
            intent,
            [
                (f"old-{i}", f"t{i}", "done" if i % 2 else "rolled_back", month_ago, month_ago)
                for i in range(OLD)
            ],
        )
        conn.execute(intent, ("old-pending", "tp", "pending", month_ago, None))
        conn.execute(intent, ("recent", "tr", "done", day_ago, day_ago))
        conn.executemany(audit, [(month_ago, f"old-{i}") for i in range(OLD)])
        conn.execute(audit, (day_ago, "recent"))
    conn.close()


def table_rows(db: Path) -> tuple[list[str], list[str]]:
    """The request ids of the intents and of the audit lines, oldest first."""
    with sqlite3.connect(db) as conn:
        intents = [r[0] for r in conn.execute("SELECT request_id FROM intents ORDER BY id")]
        audit = [r[0] for r in conn.execute("SELECT request_id FROM audit_log ORDER BY id")]
    conn.close()
    return intents, audit
