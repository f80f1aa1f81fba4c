"""Every filter IdPs send is answered through an index (issue 5); checked on SQLite's query plan, not timed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bridge.scim.filters import MultiValuedSql, SqlMapping, compile_sql, parse_filter
from bridge.scim.schemas import GROUP_SCHEMA, USER_SCHEMA, ResourceSchema
from bridge.store import Store, sql_mapping

USERS = SqlMapping(
    document=sql_mapping.USER_DOCUMENT_SQL,
    columns=sql_mapping.USER_COLUMNS,
    multi_valued={k: MultiValuedSql(*v) for k, v in sql_mapping.USER_MULTI_VALUED.items()},
)
GROUPS = SqlMapping(
    document=sql_mapping.GROUP_DOCUMENT_SQL,
    columns=sql_mapping.GROUP_COLUMNS,
    multi_valued={k: MultiValuedSql(*v) for k, v in sql_mapping.GROUP_MULTI_VALUED.items()},
)


@pytest.mark.parametrize(
    ("schema", "mapping", "source", "text", "index"),
    [
        (
            USER_SCHEMA,
            USERS,
            "users u WHERE u.tombstoned_at IS NULL AND",
            'userName eq "a"',
            "sqlite_autoindex_users",
        ),
        (
            USER_SCHEMA,
            USERS,
            "users u WHERE u.tombstoned_at IS NULL AND",
            'externalId eq "a"',
            "users_external_id",
        ),
        (
            USER_SCHEMA,
            USERS,
            "users u WHERE u.tombstoned_at IS NULL AND",
            'displayName eq "a"',
            "users_display_name",
        ),
        (
            USER_SCHEMA,
            USERS,
            "users u WHERE u.tombstoned_at IS NULL AND",
            'emails.value eq "a"',
            "user_emails_value",
        ),
        (
            USER_SCHEMA,
            USERS,
            "users u WHERE u.tombstoned_at IS NULL AND",
            'groups.value eq "a"',
            "groups_scim_id_nocase",
        ),
        (
            USER_SCHEMA,
            USERS,
            "users u WHERE u.tombstoned_at IS NULL AND",
            'groups eq "a"',
            "groups_scim_id_nocase",
        ),
        (GROUP_SCHEMA, GROUPS, "groups g WHERE", 'displayName eq "a"', "sqlite_autoindex_groups"),
        (GROUP_SCHEMA, GROUPS, "groups g WHERE", 'externalId eq "a"', "groups_external_id"),
        (GROUP_SCHEMA, GROUPS, "groups g WHERE", 'members.value eq "a"', "group_members_member_nocase"),
    ],
)
async def test_idp_filters_use_an_index(
    store: Store,
    db_path: Path,
    schema: ResourceSchema,
    mapping: SqlMapping,
    source: str,
    text: str,
    index: str,
) -> None:
    where, params = compile_sql(parse_filter(text), schema, mapping)
    with sqlite3.connect(db_path) as conn:
        plan = " | ".join(
            r[3]
            for r in conn.execute(f"EXPLAIN QUERY PLAN SELECT count(*) FROM {source} ({where})", params)  # noqa: S608 - compiled by the SCIM core
        )
    assert f"INDEX {index}" in plan, plan
    # O(matches), not O(directory): the owner table is never scanned row by row.
    assert "SCAN u" not in plan, plan
    assert "SCAN g" not in plan, plan
