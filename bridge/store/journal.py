"""SQL for the intent journal and the audit log (issue 7 intent journal; issue 5 audit log).

Writes are plain functions run inside the writer's transaction (writer.py); reads run whole on a reader thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from bridge.store.codec import audit_from_row, intent_from_row
from bridge.store.connections import ReaderConnection, WriterConnection
from bridge.store.errors import IntentNotPending, NotFoundInStore
from bridge.store.records import AuditEntry, AuditLine, IntentRecord, IntentState


def begin_intent(
    conn: WriterConnection,
    now: str,
    *,
    request_id: str,
    operation: str,
    resource_type: str,
    target: str,
    payload_digest: str,
) -> int:
    """Journal a pending intention; returns its id."""
    return _inserted(
        conn.statements.execute(
            "INSERT INTO intents (request_id, operation, resource_type, target, payload_digest, state, created)"
            " VALUES (?, ?, ?, ?, ?, 'pending', ?)",
            (request_id, operation, resource_type, target, payload_digest, now),
        )
    )


def _inserted(cursor: sqlite3.Cursor) -> int:
    """The rowid an INSERT just made: read from the cursor, where `RETURNING id` and a fetch would step the
    statement once more (2-3 us, and one more release of the GIL on the writer thread, per row)."""
    rowid = cursor.lastrowid
    assert rowid is not None
    return rowid


def finish_intent(conn: sqlite3.Connection, now: str, intent_id: int, state: IntentState) -> None:
    """Move a pending intent to done or rolled_back; repeating the same finish is a no-op."""
    if state is IntentState.PENDING:
        raise ValueError("an intent can only be finished as done or rolled_back")
    changed = conn.execute(
        "UPDATE intents SET state = ?, finished = ? WHERE id = ? AND state = 'pending'",
        (state.value, now, intent_id),
    ).rowcount
    if changed:
        return
    row = conn.execute("SELECT state FROM intents WHERE id = ?", (intent_id,)).fetchone()
    if row is None:
        raise NotFoundInStore(f"no intent {intent_id}")
    if row[0] != state.value:
        raise IntentNotPending(f"intent {intent_id} is already {row[0]}")


def require_pending(conn: WriterConnection, now: str, intent_id: int) -> None:
    """Finish an intent as done inside a larger unit; it must still be pending, else the unit rolls back."""
    changed = conn.statements.execute(
        "UPDATE intents SET state = 'done', finished = ? WHERE id = ? AND state = 'pending'", (now, intent_id)
    ).rowcount
    if not changed:
        raise IntentNotPending(f"intent {intent_id} is not pending")


def get_intent(conn: ReaderConnection, intent_id: int) -> IntentRecord | None:
    """One intent by id (on a reader, like every read here)."""
    row = conn.execute("SELECT * FROM intents WHERE id = ?", (intent_id,)).fetchone()
    return None if row is None else intent_from_row(row)


def pending_intents(conn: ReaderConnection) -> list[IntentRecord]:
    """Unfinished intents, oldest first (what start-up recovery resolves)."""
    return [
        intent_from_row(r) for r in conn.execute("SELECT * FROM intents WHERE state = 'pending' ORDER BY id")
    ]


def newer_pending_intent(conn: ReaderConnection, intent_id: int, target: str) -> bool:
    """Whether a pending intent newer than `intent_id` names the same target (a request still in flight)."""
    row = conn.execute(
        "SELECT 1 FROM intents WHERE state = 'pending' AND id > ? AND target = ? LIMIT 1", (intent_id, target)
    ).fetchone()
    return row is not None


def prunable_intents(conn: ReaderConnection, before: str, limit: int) -> list[int]:
    """Up to `limit` ids of intents finished before `before`, oldest first, never the newest intent.

    `finished` has no index (one would cost every write an update of it), so this scans: on a reader, where it
    holds no write lock. The newest row stays because ids are rowids, not AUTOINCREMENT: deleting the highest
    would let the next intent take its id again, and a resolver still holding the old one finish the new one.
    """
    return [
        r[0]
        for r in conn.execute(
            "SELECT id FROM intents WHERE state <> 'pending' AND finished < ?"
            " AND id < (SELECT max(id) FROM intents) ORDER BY id LIMIT ?",
            (before, limit),
        )
    ]


def count_prunable(
    conn: ReaderConnection, intents_before: str | None, audit_before: str | None
) -> tuple[int, int]:
    """How many intents and audit lines pruning at these cut-offs would delete (None: that table is kept)."""
    intents = audit = 0
    if intents_before is not None:
        intents = conn.execute(
            "SELECT count(*) FROM intents WHERE state <> 'pending' AND finished < ?"
            " AND id < (SELECT max(id) FROM intents)",
            (intents_before,),
        ).fetchone()[0]
    if audit_before is not None:
        audit = conn.execute("SELECT count(*) FROM audit_log WHERE ts < ?", (audit_before,)).fetchone()[0]
    return intents, audit


def prune_intents(conn: sqlite3.Connection, ids: Sequence[int], before: str) -> int:
    """Delete those of `ids` that are still finished before `before` (by primary key); returns how many."""
    marks = ",".join("?" * len(ids))
    return conn.execute(
        f"DELETE FROM intents WHERE id IN ({marks}) AND state <> 'pending' AND finished < ?",  # noqa: S608 - placeholders only
        (*ids, before),
    ).rowcount


def append_audit(conn: WriterConnection, now: str, line: AuditLine) -> int:
    """Append one audit line; returns its id."""
    return _inserted(
        conn.statements.execute(
            "INSERT INTO audit_log (ts, request_id, client, operation, resource_type, resource_id, master_calls,"
            " outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now,
                line.request_id,
                line.client,
                line.operation,
                line.resource_type,
                line.resource_id,
                line.master_calls,
                line.outcome,
            ),
        )
    )


def recent_audit(conn: ReaderConnection, limit: int) -> list[AuditEntry]:
    """The newest `limit` audit lines, newest first."""
    return [
        audit_from_row(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
    ]


def prune_audit(conn: sqlite3.Connection, before: str, limit: int) -> int:
    """Delete up to `limit` audit lines older than `before`, oldest first (found by the `ts` index); returns
    how many."""
    return conn.execute(
        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE ts < ? ORDER BY ts LIMIT ?)",
        (before, limit),
    ).rowcount
