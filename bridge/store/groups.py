"""SQL for the groups and group_members tables; each function runs inside a transaction the Store opened."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import aiosqlite

from bridge.store.codec import encode_doc, group_from_row, member_from_row
from bridge.store.connections import ReaderConnection
from bridge.store.errors import NotFoundInStore, VersionConflict
from bridge.store.pages import fetch_page
from bridge.store.records import GroupRecord, MemberDiff, MemberRecord

# Reads are plain functions over a reader connection, run whole on its thread (see connections._Reader);
# writes are coroutines over the aiosqlite writer.
_PRESENT_SQL = (
    "SELECT member_scim_id FROM group_members WHERE group_pk = ?"
    " AND member_scim_id IN (SELECT value FROM json_each(?))"
)


def fetch_group(conn: ReaderConnection, column: str, value: object) -> GroupRecord | None:
    """The group whose `column` (a trusted column name) equals value."""
    row = conn.execute(f"SELECT * FROM groups WHERE {column} = ?", (value,)).fetchone()  # noqa: S608 - trusted column
    return None if row is None else group_from_row(row)


def read_group_pk(conn: ReaderConnection, scim_id: str) -> int:
    """The group's row key on a reader; NotFoundInStore for an unknown group."""
    row = conn.execute("SELECT pk FROM groups WHERE scim_id = ?", (scim_id,)).fetchone()
    if row is None:
        raise NotFoundInStore(f"no group {scim_id}")
    return int(row[0])


def read_present_ids(conn: ReaderConnection, scim_id: str, ids: Iterable[str]) -> set[str]:
    """Which of `ids` are members of the group, on a reader (O(len(ids)), never the whole membership)."""
    pk = read_group_pk(conn, scim_id)
    return {r[0] for r in conn.execute(_PRESENT_SQL, (pk, json.dumps(list(ids))))}


async def group_pk(conn: aiosqlite.Connection, scim_id: str, expected_version: int | None = None) -> int:
    """The group's row key; NotFoundInStore / VersionConflict as the caller needs."""
    async with conn.execute("SELECT pk, version FROM groups WHERE scim_id = ?", (scim_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        raise NotFoundInStore(f"no group {scim_id}")
    if expected_version is not None and row["version"] != expected_version:
        raise VersionConflict(expected_version, row["version"])
    return int(row["pk"])


async def bump_group(conn: aiosqlite.Connection, now: str, pk: int) -> None:
    """A membership change modifies the group: new meta.version and meta.lastModified."""
    await conn.execute("UPDATE groups SET version = version + 1, last_modified = ? WHERE pk = ?", (now, pk))


def _unique(members: Iterable[MemberRecord]) -> dict[str, MemberRecord]:
    """Members by id, first occurrence wins, request order kept (IdPs repeat ids; see issue 5 Groups)."""
    unique: dict[str, MemberRecord] = {}
    for member in members:
        unique.setdefault(member.member_scim_id, member)
    return unique


async def present_ids(conn: aiosqlite.Connection, pk: int, ids: Iterable[str]) -> set[str]:
    """Which of `ids` are members of the group; one indexed probe per id via json_each."""
    async with conn.execute(_PRESENT_SQL, (pk, json.dumps(list(ids)))) as cur:
        return {r[0] for r in await cur.fetchall()}


async def insert_members(conn: aiosqlite.Connection, pk: int, members: Iterable[MemberRecord]) -> None:
    """Insert rows known to be absent."""
    await conn.executemany(
        "INSERT INTO group_members (group_pk, member_scim_id, member_type, display) VALUES (?, ?, ?, ?)",
        [(pk, m.member_scim_id, m.member_type.value, m.display) for m in members],
    )


async def delete_members(conn: aiosqlite.Connection, pk: int, ids: Iterable[str]) -> None:
    """Delete rows known to be present."""
    await conn.executemany(
        "DELETE FROM group_members WHERE group_pk = ? AND member_scim_id = ?", [(pk, i) for i in ids]
    )


async def insert_group(
    conn: aiosqlite.Connection,
    now: str,
    *,
    scim_id: str,
    det_id: int,
    display_name: str,
    external_id: str | None,
    doc: Mapping[str, object],
    members: Sequence[MemberRecord],
) -> GroupRecord:
    """Insert a group at version 1 with its initial members."""
    async with conn.execute(
        "INSERT INTO groups (scim_id, det_id, display_name, external_id, doc, version, created, last_modified)"
        " VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING *",
        (scim_id, det_id, display_name, external_id, encode_doc(doc, group=True), now, now),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    await insert_members(conn, row["pk"], _unique(members).values())
    return group_from_row(row)


async def update_group(
    conn: aiosqlite.Connection,
    now: str,
    scim_id: str,
    *,
    display_name: str,
    external_id: str | None,
    doc: Mapping[str, object],
    expected_version: int | None,
) -> GroupRecord:
    """Replace a group's own attributes (not its members); bumps version and last_modified."""
    pk = await group_pk(conn, scim_id, expected_version)
    async with conn.execute(
        "UPDATE groups SET display_name = ?, external_id = ?, doc = ?, version = version + 1,"
        " last_modified = ? WHERE pk = ? RETURNING *",
        (display_name, external_id, encode_doc(doc, group=True), now, pk),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return group_from_row(row)


async def remove_member_everywhere(conn: aiosqlite.Connection, now: str, member_scim_id: str) -> list[str]:
    """Drop `member_scim_id` from every group, bumping each; returns those groups' SCIM ids."""
    async with conn.execute(
        "UPDATE groups SET version = version + 1, last_modified = ?"
        " WHERE pk IN (SELECT group_pk FROM group_members WHERE member_scim_id = ?) RETURNING scim_id",
        (now, member_scim_id),
    ) as cur:
        affected = sorted(r[0] for r in await cur.fetchall())
    await conn.execute("DELETE FROM group_members WHERE member_scim_id = ?", (member_scim_id,))
    return affected


async def delete_group(
    conn: aiosqlite.Connection, now: str, scim_id: str, expected_version: int | None
) -> None:
    """Delete a group, its membership rows, and its own membership in other groups."""
    pk = await group_pk(conn, scim_id, expected_version)
    await remove_member_everywhere(conn, now, scim_id)
    await conn.execute("DELETE FROM groups WHERE pk = ?", (pk,))


async def add_members(
    conn: aiosqlite.Connection,
    now: str,
    scim_id: str,
    members: Sequence[MemberRecord],
    expected_version: int | None,
) -> list[str]:
    """Add the members not already present; returns the ids actually added, in request order."""
    pk = await group_pk(conn, scim_id, expected_version)
    wanted = _unique(members)
    present = await present_ids(conn, pk, wanted)
    new = [m for i, m in wanted.items() if i not in present]
    if new:
        await insert_members(conn, pk, new)
        await bump_group(conn, now, pk)
    return [m.member_scim_id for m in new]


async def remove_members(
    conn: aiosqlite.Connection, now: str, scim_id: str, ids: Sequence[str], expected_version: int | None
) -> list[str]:
    """Remove the given members that are present; returns the ids actually removed, in request order."""
    pk = await group_pk(conn, scim_id, expected_version)
    wanted = list(dict.fromkeys(ids))
    present = await present_ids(conn, pk, wanted)
    gone = [i for i in wanted if i in present]
    if gone:
        await delete_members(conn, pk, gone)
        await bump_group(conn, now, pk)
    return gone


async def replace_members(
    conn: aiosqlite.Connection,
    now: str,
    scim_id: str,
    members: Sequence[MemberRecord],
    expected_version: int | None,
) -> MemberDiff:
    """Make the membership exactly `members`; returns what was added and removed."""
    pk = await group_pk(conn, scim_id, expected_version)
    async with conn.execute(
        "SELECT member_scim_id FROM group_members WHERE group_pk = ? ORDER BY member_scim_id", (pk,)
    ) as cur:
        current = [r[0] for r in await cur.fetchall()]
    wanted = _unique(members)
    current_set = set(current)
    new = [m for i, m in wanted.items() if i not in current_set]
    gone = [i for i in current if i not in wanted]
    if gone:
        await delete_members(conn, pk, gone)
    if new:
        await insert_members(conn, pk, new)
    if new or gone:
        await bump_group(conn, now, pk)
    return MemberDiff(added=tuple(m.member_scim_id for m in new), removed=tuple(gone))


def list_members(conn: ReaderConnection, scim_id: str) -> list[MemberRecord]:
    """All members of a group, sorted by id for stable output."""
    pk = read_group_pk(conn, scim_id)
    rows = conn.execute("SELECT * FROM group_members WHERE group_pk = ? ORDER BY member_scim_id", (pk,))
    return [member_from_row(r) for r in rows]


def count_members(conn: ReaderConnection, scim_id: str) -> int:
    """How many members a group has."""
    pk = read_group_pk(conn, scim_id)
    return int(conn.execute("SELECT count(*) FROM group_members WHERE group_pk = ?", (pk,)).fetchone()[0])


def groups_of_member(conn: ReaderConnection, member_scim_id: str) -> list[GroupRecord]:
    """The groups `member_scim_id` belongs to, by displayName."""
    rows = conn.execute(
        "SELECT g.* FROM group_members m JOIN groups g ON g.pk = m.group_pk"
        " WHERE m.member_scim_id = ? ORDER BY g.display_name",
        (member_scim_id,),
    )
    return [group_from_row(r) for r in rows]


async def set_member_display(
    conn: aiosqlite.Connection, now: str, member_scim_id: str, display: str | None
) -> list[str]:
    """Refresh a member's cached `display` in every group (after a rename); returns the groups changed."""
    async with conn.execute(
        "UPDATE groups SET version = version + 1, last_modified = ? WHERE pk IN"
        " (SELECT group_pk FROM group_members WHERE member_scim_id = ? AND display IS NOT ?) RETURNING scim_id",
        (now, member_scim_id, display),
    ) as cur:
        affected = sorted(r[0] for r in await cur.fetchall())
    await conn.execute(
        "UPDATE group_members SET display = ? WHERE member_scim_id = ? AND display IS NOT ?",
        (display, member_scim_id, display),
    )
    return affected


def list_groups(
    conn: ReaderConnection,
    where: str,
    params: Sequence[object],
    *,
    order_by: str | None,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[int, list[GroupRecord]]:
    """Total groups matching `where` and one page of them; `where`/`order_by` are trusted SQL over alias g."""
    return fetch_page(
        conn,
        conn.pages,
        f"FROM groups g WHERE ({where})",
        "g",
        params,
        order_by=order_by,
        descending=descending,
        offset=offset,
        limit=limit,
        from_row=group_from_row,
    )
