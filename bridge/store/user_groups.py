"""The User `groups` attribute (RFC 7643 §4.1.2) over the membership table: read with the user row, and
kept behind the user's version.

Users' rendered bodies are kept by version (bridge/web/rendered.py), so every write that changes what a
user's `groups` shows (a membership added or removed, a group renamed or deleted) bumps the version and
lastModified of exactly the users it affects, in the same transaction as the change itself.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Final

from bridge.store.codec import json_array
from bridge.store.records import UserGroup

# A user's direct memberships as one JSON text of [scim_id, displayName] pairs, from the member index; the
# caller appends the member's SCIM id expression (`u.scim_id` in a correlated subquery, or `?`).
_GROUPS_OF: Final = (
    "SELECT json_group_array(json_array(g.scim_id, g.display_name)) FROM group_members m"
    " JOIN groups g ON g.pk = m.group_pk WHERE m.member_type = 'User' AND m.member_scim_id = "
)
# A scalar subquery for `SELECT u.*, ... FROM users u`, decoded by decode_groups.
GROUPS_OF_U: Final = f"({_GROUPS_OF}u.scim_id)"
_PAGE_SQL: Final = (
    "SELECT m.member_scim_id, g.scim_id, g.display_name FROM group_members m JOIN groups g ON g.pk = m.group_pk"
    " WHERE m.member_type = 'User' AND m.member_scim_id IN (SELECT value FROM json_each(?))"
)
_BUMP_USERS: Final = (
    "UPDATE users SET version = version + 1, last_modified = ?"
    " WHERE scim_id IN (SELECT value FROM json_each(?)) AND tombstoned_at IS NULL"
)
_BUMP_MEMBERS: Final = (
    "UPDATE users SET version = version + 1, last_modified = ? WHERE tombstoned_at IS NULL AND scim_id IN"
    " (SELECT member_scim_id FROM group_members WHERE group_pk = ? AND member_type = 'User')"
)


def _sorted(groups: Iterable[UserGroup]) -> tuple[UserGroup, ...]:
    # displayName is unique case-insensitively; the id only settles the impossible tie.
    return tuple(sorted(groups, key=lambda g: (g.display_name.casefold(), g.scim_id)))


def decode_groups(text: str | None) -> tuple[UserGroup, ...]:
    """The groups of a GROUPS_OF_U value."""
    if not text or text == "[]":
        return ()
    return _sorted(UserGroup(scim_id, display) for scim_id, display in json.loads(text))


def read_groups(conn: sqlite3.Connection, scim_id: str) -> tuple[UserGroup, ...]:
    """The groups of one user: one statement over the member index."""
    row = conn.execute(_GROUPS_OF + "?", (scim_id,)).fetchone()
    return decode_groups(row[0])


def read_groups_of_page(
    conn: sqlite3.Connection, scim_ids: Sequence[str]
) -> dict[str, tuple[UserGroup, ...]]:
    """The groups of each of `scim_ids` (absent: none), in one statement for a whole list page."""
    if not scim_ids:
        return {}
    found: dict[str, list[UserGroup]] = {}
    for member, scim_id, display in conn.execute(_PAGE_SQL, (json_array(scim_ids),)):
        found.setdefault(member, []).append(UserGroup(scim_id, display))
    return {member: _sorted(groups) for member, groups in found.items()}


def bump_users(conn: sqlite3.Connection, now: str, scim_ids: Sequence[str]) -> None:
    """A membership of these members changed: new version for those that are live users (O(len(ids)),
    by the unique scim_id index; group ids among them match no user row)."""
    if scim_ids:
        conn.execute(_BUMP_USERS, (now, json_array(scim_ids)))


def bump_members(conn: sqlite3.Connection, now: str, group_pk: int) -> None:
    """The group's displayName changed or it is being deleted: every user member shows it. O(group members),
    acceptable for a rename or a delete (membership changes bump only their delta, see bump_users)."""
    conn.execute(_BUMP_MEMBERS, (now, group_pk))
