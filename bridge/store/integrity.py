"""`db check`: SQLite integrity plus mapping consistency (issue 7, data safety)."""

from __future__ import annotations

from typing import Final

from bridge.store.connections import ReaderConnection

# Each query yields one text column per problem found; all are read-only and use existing indexes.
_CONSISTENCY: Final[tuple[str, ...]] = (
    "SELECT 'users: Determined id ' || det_id || ' is mapped ' || count(*) || ' times'"
    " FROM users GROUP BY det_id HAVING count(*) > 1",
    "SELECT 'groups: Determined id ' || det_id || ' is mapped ' || count(*) || ' times'"
    " FROM groups GROUP BY det_id HAVING count(*) > 1",
    "SELECT 'users: userName ' || quote(lower(user_name)) || ' is held by ' || count(*) || ' users'"
    " FROM users GROUP BY lower(user_name) HAVING count(*) > 1",
    "SELECT 'scim id ' || u.scim_id || ' is both a user and a group'"
    " FROM users u JOIN groups g ON g.scim_id = u.scim_id",
    # master-api.md §7.3.5: built-in accounts (admin id 1, determined id 2) must never be IdP-managed.
    "SELECT 'users: ' || scim_id || ' is mapped to built-in Determined user ' || det_id"
    " FROM users WHERE det_id IN (1, 2)",
    "SELECT 'users: ' || scim_id || ' document holds a password'"
    " FROM users WHERE json_extract(doc, '$.password') IS NOT NULL",
    "SELECT 'users: ' || scim_id || ' has ' || rows || ' email rows for ' || objects || ' emails in its document'"
    " FROM (SELECT u.scim_id, (SELECT count(*) FROM user_emails e WHERE e.user_pk = u.pk) AS rows,"
    " (SELECT count(*) FROM json_each(u.doc, '$.emails') j WHERE j.type = 'object') AS objects FROM users u)"
    " WHERE rows <> objects",
    "SELECT 'group ' || g.scim_id || ': member ' || m.member_scim_id || ' is not a known user'"
    " FROM group_members m JOIN groups g ON g.pk = m.group_pk"
    " WHERE m.member_type = 'User' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.scim_id = m.member_scim_id)",
    "SELECT 'group ' || g.scim_id || ': member ' || m.member_scim_id || ' is a deleted (tombstoned) user'"
    " FROM group_members m JOIN groups g ON g.pk = m.group_pk JOIN users u ON u.scim_id = m.member_scim_id"
    " WHERE m.member_type = 'User' AND u.tombstoned_at IS NOT NULL",
    "SELECT 'group ' || g.scim_id || ': member ' || m.member_scim_id || ' is not a known group'"
    " FROM group_members m JOIN groups g ON g.pk = m.group_pk"
    " WHERE m.member_type = 'Group' AND NOT EXISTS (SELECT 1 FROM groups x WHERE x.scim_id = m.member_scim_id)",
)


def check(conn: ReaderConnection) -> list[str]:
    """Every problem found, as readable lines; an empty list means the file is sound."""
    problems = [f"integrity: {r[0]}" for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
    if problems:
        # The queries below would read the damaged pages and stop at the first, losing this list.
        return problems
    problems.extend(
        f"foreign key: {r[0]} row {r[1]} points to missing {r[2]}"
        for r in conn.execute("PRAGMA foreign_key_check")
    )
    for query in _CONSISTENCY:
        problems.extend(str(r[0]) for r in conn.execute(query))
    return problems
