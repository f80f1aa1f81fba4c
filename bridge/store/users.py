"""SQL for the users and user_emails tables; each function runs inside a transaction the Store opened."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aiosqlite

from bridge.store.codec import email_rows, encode_doc, user_from_row
from bridge.store.connections import ReaderConnection
from bridge.store.errors import NotFoundInStore, VersionConflict
from bridge.store.pages import fetch_page
from bridge.store.records import UserRecord

# Reads are plain functions over a reader connection, run whole on its thread (see connections._Reader);
# writes are coroutines over the aiosqlite writer.


def fetch_user(
    conn: ReaderConnection, column: str, value: object, *, include_tombstoned: bool
) -> UserRecord | None:
    """The user whose `column` (a trusted column name) equals value; tombstoned ones only if asked."""
    live = "" if include_tombstoned else " AND tombstoned_at IS NULL"
    row = conn.execute(f"SELECT * FROM users WHERE {column} = ?{live}", (value,)).fetchone()  # noqa: S608 - trusted column
    return None if row is None else user_from_row(row)


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


async def _replace_emails(conn: aiosqlite.Connection, pk: int, doc: Mapping[str, object]) -> None:
    await conn.execute("DELETE FROM user_emails WHERE user_pk = ?", (pk,))
    await conn.executemany(
        "INSERT INTO user_emails (user_pk, position, value, type, is_primary, display) VALUES (?, ?, ?, ?, ?, ?)",
        [(pk, *row) for row in email_rows(doc)],
    )


async def insert_user(
    conn: aiosqlite.Connection,
    now: str,
    *,
    scim_id: str,
    det_id: int,
    user_name: str,
    external_id: str | None,
    display_name: str | None,
    active: bool,
    doc: Mapping[str, object],
) -> UserRecord:
    """Insert a live user at version 1."""
    async with conn.execute(
        "INSERT INTO users (scim_id, det_id, user_name, external_id, display_name, active, doc, version,"
        " created, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING *",
        (
            scim_id,
            det_id,
            user_name,
            external_id,
            display_name,
            int(active),
            encode_doc(doc, group=False),
            now,
            now,
        ),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    await _replace_emails(conn, row["pk"], doc)
    return user_from_row(row)


async def _live_pk(conn: aiosqlite.Connection, scim_id: str, expected_version: int | None) -> int:
    async with conn.execute(
        "SELECT pk, version FROM users WHERE scim_id = ? AND tombstoned_at IS NULL", (scim_id,)
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        raise NotFoundInStore(f"no live user {scim_id}")
    if expected_version is not None and row["version"] != expected_version:
        raise VersionConflict(expected_version, row["version"])
    return int(row["pk"])


async def update_user(
    conn: aiosqlite.Connection,
    now: str,
    scim_id: str,
    *,
    user_name: str,
    external_id: str | None,
    display_name: str | None,
    active: bool,
    doc: Mapping[str, object],
    expected_version: int | None,
) -> UserRecord:
    """Replace a live user's attributes; bumps version and last_modified."""
    pk = await _live_pk(conn, scim_id, expected_version)
    async with conn.execute(
        "UPDATE users SET user_name = ?, external_id = ?, display_name = ?, active = ?, doc = ?,"
        " version = version + 1, last_modified = ? WHERE pk = ? RETURNING *",
        (user_name, external_id, display_name, int(active), encode_doc(doc, group=False), now, pk),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    await _replace_emails(conn, pk, doc)
    return user_from_row(row)


async def tombstone_user(
    conn: aiosqlite.Connection, now: str, scim_id: str, *, expected_version: int | None
) -> UserRecord:
    """Mark a live user deleted (inactive, tombstoned, out of every group); the mapping row stays."""
    pk = await _live_pk(conn, scim_id, expected_version)
    async with conn.execute(
        "UPDATE users SET active = 0, tombstoned_at = ?, version = version + 1, last_modified = ?"
        " WHERE pk = ? RETURNING *",
        (now, now, pk),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return user_from_row(row)


async def relink_user(
    conn: aiosqlite.Connection,
    now: str,
    scim_id: str,
    *,
    new_scim_id: str | None,
    user_name: str,
    external_id: str | None,
    display_name: str | None,
    active: bool,
    doc: Mapping[str, object],
) -> UserRecord:
    """Bring a tombstoned user back as a new SCIM resource on the same Determined user."""
    async with conn.execute(
        "SELECT pk FROM users WHERE scim_id = ? AND tombstoned_at IS NOT NULL", (scim_id,)
    ) as cur:
        found = await cur.fetchone()
    if found is None:
        raise NotFoundInStore(f"no tombstoned user {scim_id}")
    # version keeps counting up (never reset) so an ETag from before the delete can never match again.
    async with conn.execute(
        "UPDATE users SET scim_id = ?, user_name = ?, external_id = ?, display_name = ?, active = ?, doc = ?,"
        " version = version + 1, created = ?, last_modified = ?, tombstoned_at = NULL WHERE pk = ? RETURNING *",
        (
            new_scim_id or scim_id,
            user_name,
            external_id,
            display_name,
            int(active),
            encode_doc(doc, group=False),
            now,
            now,
            found["pk"],
        ),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    await _replace_emails(conn, row["pk"], doc)
    return user_from_row(row)


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
    """Total live users matching `where` and one page of them; `where`/`order_by` are trusted SQL over alias u."""
    return fetch_page(
        conn,
        conn.pages,
        f"FROM users u WHERE u.tombstoned_at IS NULL AND ({where})",
        "u",
        params,
        order_by=order_by,
        descending=descending,
        offset=offset,
        limit=limit,
        from_row=user_from_row,
    )
