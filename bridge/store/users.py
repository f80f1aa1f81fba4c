"""SQL for the users and user_emails tables; each function runs inside a transaction the Store opened."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from bridge.store.codec import USER_ROW, decode_doc, json_array, stored_ts, user_from_row
from bridge.store.connections import ReaderConnection
from bridge.store.pages import fetch_page
from bridge.store.records import UserRecord, UserRef, UserView
from bridge.store.user_groups import GROUPS_OF_U, decode_groups, read_groups_of_page

_LIVE_VERSION_SQL: Final = "SELECT version FROM users WHERE scim_id = ? AND tombstoned_at IS NULL"
# What a read without projection renders (UserView), in its order: 6 columns of the row's 12, ~15k instructions
# fewer than `SELECT u.*` (SQLite's and the sqlite3 module's work per column returned).
_LIVE_VIEW_SQL: Final = (
    f"SELECT doc, active, version, created, last_modified, {GROUPS_OF_U} FROM users u"  # noqa: S608 - constant text
    " WHERE u.scim_id = ? AND u.tombstoned_at IS NULL"
)
_USER_NAME_LIVE_SQL: Final = "SELECT tombstoned_at IS NULL FROM users WHERE user_name = ?"
_REFS_SQL: Final = (
    "SELECT scim_id, det_id, user_name, tombstoned_at IS NULL FROM users"
    " WHERE scim_id IN (SELECT value FROM json_each(?))"
)

# Reads are plain functions over a reader connection, run whole on its thread (see connections._Reader);
# writes are in user_writes.py, run whole on the writer thread (see writer.py).


def fetch_user(
    conn: ReaderConnection, column: str, value: object, *, include_tombstoned: bool
) -> UserRecord | None:
    """The user whose `column` (a trusted column name) equals value, with its groups (one statement);
    tombstoned ones only if asked."""
    live = "" if include_tombstoned else " AND u.tombstoned_at IS NULL"
    row = conn.lookups.execute(
        f"SELECT u.*, {GROUPS_OF_U} AS groups FROM users u WHERE u.{column} = ?{live}",  # noqa: S608 - trusted column
        (value,),
    ).fetchone()
    return None if row is None else user_from_row(row, decode_groups(row[len(USER_ROW)]))


def user_name_live(conn: ReaderConnection, user_name: str) -> bool | None:
    """Whether the user holding this userName (compared as `fetch_user` does) is live; None if none holds it.

    One column: Python's sqlite3 builds a result's description (a name and a 7-tuple per column) on every
    execute, ~750 instructions a column, so this costs ~11k fewer than `fetch_user` even when no row is found.
    """
    row = conn.lookups.execute(_USER_NAME_LIVE_SQL, (user_name,)).fetchone()
    return None if row is None else bool(row[0])


def fetch_live_user_unless(
    conn: ReaderConnection, scim_id: str, known_version: int | None
) -> UserView | int | None:
    """What a read without projection renders of the live user with this SCIM id, None if there is none;
    only its version (an int) when that is still `known_version`, so a caller that keeps renderings by
    version skips decoding the stored document.

    With a known version, a first statement reads the version alone: that is the usual answer, and it
    costs half of reading the row (12 columns, the stored document among them, ~2.3 us saved per read).
    When the version moved on, the user is read whole by a second statement, consistent on its own (row
    and groups in one snapshot); what it returns is the newer state, which is what a read should see.
    """
    if known_version is not None:
        row = conn.lookups.execute(_LIVE_VERSION_SQL, (scim_id,)).fetchone()
        if row is None:
            return None
        if row[0] == known_version:
            return known_version
    row = conn.lookups.execute(_LIVE_VIEW_SQL, (scim_id,)).fetchone()
    if row is None:
        return None
    doc, active, version, created, modified, groups = row
    created = stored_ts(created)
    return UserView(
        scim_id,
        decode_doc(doc),
        bool(active),
        version,
        created,
        created if modified == created else stored_ts(modified),
        decode_groups(groups),
    )


def fetch_user_refs(
    conn: ReaderConnection, scim_ids: Sequence[str], *, include_tombstoned: bool
) -> dict[str, UserRef]:
    """The users among `scim_ids` (absent: no such user) by SCIM id, without their documents or groups: one
    statement, one probe of the scim_id index per id."""
    live = "" if include_tombstoned else " AND tombstoned_at IS NULL"
    rows = conn.execute(_REFS_SQL + live, (json_array(scim_ids),))
    return {scim_id: UserRef(det_id, user_name, bool(live)) for scim_id, det_id, user_name, live in rows}


def fetch_users_by_external_id(conn: ReaderConnection, external_id: str) -> list[UserRecord]:
    """Live users with this externalId (not unique in SCIM, RFC 7643 §3.1)."""
    rows = conn.execute(
        "SELECT * FROM users WHERE external_id = ? AND tombstoned_at IS NULL ORDER BY pk", (external_id,)
    )
    return [user_from_row(r) for r in rows]


def fetch_all_users(conn: ReaderConnection, *, include_tombstoned: bool) -> list[UserRecord]:
    """Every mapped user in creation order (reconciliation walks the whole mapping)."""
    live = "" if include_tombstoned else " WHERE tombstoned_at IS NULL"
    return [user_from_row(r) for r in conn.execute(f"SELECT * FROM users{live} ORDER BY pk")]  # noqa: S608 - constant text


def list_users(
    conn: ReaderConnection,
    where: str,
    params: Sequence[object],
    *,
    order_by: str | None,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[int, list[UserRecord]]:
    """Total live users matching `where` and one page of them, with their groups (one more statement per
    page); `where`/`order_by` are trusted SQL over alias u."""
    total, rows = fetch_page(
        conn,
        conn.pages,
        f"FROM users u WHERE u.tombstoned_at IS NULL AND ({where})",
        "u",
        params,
        order_by=order_by,
        descending=descending,
        offset=offset,
        limit=limit,
        from_row=_row,
    )
    groups = read_groups_of_page(conn, [r["scim_id"] for r in rows])
    return total, [user_from_row(r, groups.get(r["scim_id"], ())) for r in rows]


def _row(row: sqlite3.Row) -> sqlite3.Row:
    return row
