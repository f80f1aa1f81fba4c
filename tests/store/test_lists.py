"""Lists: trusted WHERE fragments, ordering, paging and totals, including filters compiled by the SCIM core."""

from __future__ import annotations

import pytest

from bridge.scim.filters import MultiValuedSql, SqlMapping, compile_sql, parse_filter, sort_sql
from bridge.scim.schemas import GROUP_SCHEMA, USER_SCHEMA
from bridge.store import Store, sql_mapping
from tests.store.factories import add_group, add_user, user_member

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


async def _people(store: Store) -> None:
    await add_user(store, "carol", display_name="Carol", external_id="e3", emails=[{"value": "c@x.org"}])
    await add_user(
        store,
        "alice",
        display_name="alice",
        external_id="e1",
        emails=[{"value": "a@x.org", "type": "work", "primary": True}, {"value": "alt@y.org"}],
    )
    await add_user(store, "Bob", display_name=None, external_id="e2", active=False)
    await add_user(store, "dave", display_name="Dave", external_id="e4")


async def _filter_users(
    store: Store, text: str, *, order_by: str | None = None, descending: bool = False
) -> tuple[int, list[str]]:
    where, params = compile_sql(parse_filter(text), USER_SCHEMA, USERS)
    total, records = await store.list_users(
        where, params, order_by=order_by, descending=descending, limit=100
    )
    return total, [r.user_name for r in records]


async def test_no_filter_lists_in_creation_order_with_total(store: Store) -> None:
    await _people(store)
    assert await _filter_users(store, "userName pr") == (4, ["carol", "alice", "Bob", "dave"])
    total, page = await store.list_users("1=1", [], offset=1, limit=2)
    assert total == 4
    assert [u.user_name for u in page] == ["alice", "Bob"]
    total, page = await store.list_users("1=1", [], descending=True, limit=1)
    assert [u.user_name for u in page] == ["dave"]


async def test_limit_zero_and_offset_past_the_end_only_count(store: Store) -> None:
    await _people(store)
    assert await store.list_users("1=1", [], limit=0) == (4, [])
    assert await store.list_users("1=1", [], offset=10, limit=5) == (4, [])
    with pytest.raises(ValueError, match=">= 0"):
        await store.list_users("1=1", [], offset=-1, limit=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "ALICE"', ["alice"]),
        ('externalId eq "e2"', ["Bob"]),
        ('externalId eq "E2"', []),
        ('emails.value eq "ALT@Y.ORG"', ["alice"]),
        ('emails[type eq "work" and primary eq true]', ["alice"]),
        ("active eq false", ["Bob"]),
        ('displayName sw "a"', ["alice"]),
        ('not (userName eq "bob") and displayName pr', ["carol", "alice", "dave"]),
        ('meta.created ge "2026-01-01T00:00:00Z"', ["carol", "alice", "Bob", "dave"]),
    ],
)
async def test_compiled_scim_filters_run_against_the_published_mapping(
    store: Store, text: str, expected: list[str]
) -> None:
    await _people(store)
    assert await _filter_users(store, text) == (len(expected), expected)


async def test_sorting_uses_the_order_expression_with_missing_values_last(store: Store) -> None:
    await _people(store)
    order = sort_sql("displayName", USER_SCHEMA, USERS)
    assert await _filter_users(store, "userName pr", order_by=order) == (4, ["alice", "carol", "dave", "Bob"])
    assert await _filter_users(store, "userName pr", order_by=order, descending=True) == (
        4,
        ["dave", "carol", "alice", "Bob"],
    )
    by_email = sort_sql("emails.value", USER_SCHEMA, USERS)
    # Users without emails tie on NULL and fall back to creation order.
    assert await _filter_users(store, "userName pr", order_by=by_email) == (
        4,
        ["alice", "carol", "Bob", "dave"],
    )


async def test_tombstoned_users_are_never_listed(store: Store) -> None:
    await _people(store)
    bob = await store.get_user_by_user_name("bob")
    assert bob is not None
    await store.tombstone_user(bob.scim_id)
    assert await _filter_users(store, 'userName eq "bob"') == (0, [])
    assert (await store.list_users("1=1", [], limit=0))[0] == 3


async def test_group_filters_on_display_name_and_members(store: Store) -> None:
    user = await add_user(store, "m")
    await add_group(store, "Admins", [user.scim_id])
    await add_group(store, "users")
    await add_group(store, "Auditors")
    for text, expected in [
        ('displayName eq "admins"', ["Admins"]),
        (f'members.value eq "{user.scim_id}"', ["Admins"]),
        ('members[value eq "nobody"]', []),
        ("members pr", ["Admins"]),
    ]:
        where, params = compile_sql(parse_filter(text), GROUP_SCHEMA, GROUPS)
        total, page = await store.list_groups(where, params, limit=10)
        assert (total, [g.display_name for g in page]) == (len(expected), expected), text
    order = sort_sql("displayName", GROUP_SCHEMA, GROUPS)
    total, page = await store.list_groups("1=1", [], order_by=order, offset=1, limit=1)
    assert (total, [g.display_name for g in page]) == (3, ["Auditors"])
    assert await store.add_members(page[0].scim_id, [user_member(user.scim_id)]) == [user.scim_id]
