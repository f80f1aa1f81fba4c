"""SQL for the groups and group_members tables; each function runs inside a transaction the Store opened."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bridge.store.codec import group_from_row, json_array, member_from_row
from bridge.store.connections import ReaderConnection
from bridge.store.errors import NotFoundInStore
from bridge.store.pages import fetch_page
from bridge.store.records import GroupRecord, MemberRecord, UserRef

# Reads are plain functions over a reader connection, run whole on its thread (see connections._Reader);
# writes are in group_writes.py, run whole on the writer thread (see writer.py).
# One statement (so it may run as a lookup on the loop's thread): per asked id, a primary-key probe of the
# group's memberships (the group's pk found once by its unique scim_id) and one of the users' scim_id index.
_MEMBER_REFS_SQL = (
    "SELECT j.value, m.member_scim_id IS NOT NULL, u.det_id, u.user_name, u.tombstoned_at IS NULL"
    " FROM json_each(?) j"
    " LEFT JOIN group_members m"
    " ON m.group_pk = (SELECT pk FROM groups WHERE scim_id = ?) AND m.member_scim_id = j.value"
    " LEFT JOIN users u ON u.scim_id = j.value"
)


def fetch_group(conn: ReaderConnection, column: str, value: object) -> GroupRecord | None:
    """The group whose `column` (a trusted column name) equals value."""
    # Each column it is asked by is unique: the lookups cursor (see ReaderConnection).
    row = conn.lookups.execute(f"SELECT * FROM groups WHERE {column} = ?", (value,)).fetchone()  # noqa: S608 - trusted column
    return None if row is None else group_from_row(row)


def read_group_pk(conn: ReaderConnection, scim_id: str) -> int:
    """The group's row key on a reader; NotFoundInStore for an unknown group."""
    row = conn.execute("SELECT pk FROM groups WHERE scim_id = ?", (scim_id,)).fetchone()
    if row is None:
        raise NotFoundInStore(f"no group {scim_id}")
    return int(row[0])


def read_member_refs(
    conn: ReaderConnection, scim_id: str, ids: Iterable[str]
) -> tuple[set[str], dict[str, UserRef]]:
    """Which of `ids` are members of the group (none for an unknown group), and the users among `ids`,
    tombstoned ones too; O(len(ids)), never the whole membership."""
    present: set[str] = set()
    users: dict[str, UserRef] = {}
    rows = conn.lookups.execute(_MEMBER_REFS_SQL, (json_array(ids), scim_id)).fetchall()
    for member_id, is_member, det_id, user_name, live in rows:
        if is_member:
            present.add(member_id)
        if det_id is not None:
            users[member_id] = UserRef(det_id, user_name, bool(live))
    return present, users


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
