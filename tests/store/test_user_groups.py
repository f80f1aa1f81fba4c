"""A user's `groups` (RFC 7643 §4.1.2) as the store reads it, and the user versions every membership,
rename and delete of a group moves (kept renderings are validated by version: bridge/web/rendered.py)."""

from __future__ import annotations

from bridge.store import GroupAttributes, MemberRecord, MemberType, Store, UserFields, UserGroup, UserRecord
from bridge.store.codec import format_ts
from tests.store.conftest import ManualClock
from tests.store.factories import add_group, add_user, user_member, view_of


async def _user(store: Store, scim_id: str) -> UserRecord:
    record = await store.get_user_by_scim_id(scim_id)
    assert record is not None
    return record


async def _versions(store: Store, *scim_ids: str) -> list[int]:
    return [(await _user(store, i)).version for i in scim_ids]


async def test_every_user_read_that_serves_scim_carries_its_groups_sorted_by_display_name(
    store: Store,
) -> None:
    ada = await add_user(store, "ada")
    bob = await add_user(store, "bob")
    zeta = await add_group(store, "zeta", [ada.scim_id])
    alpha = await add_group(store, "Alpha", [ada.scim_id, bob.scim_id])
    await add_group(store, "empty")
    expected = (UserGroup(alpha.scim_id, "Alpha"), UserGroup(zeta.scim_id, "zeta"))

    record = await _user(store, ada.scim_id)
    assert record.groups == expected
    assert (await store.get_user_by_user_name("ADA")) == record
    assert (await store.get_user_by_det_id(ada.det_id)) == record
    assert await store.get_live_user_unless(ada.scim_id, None) == view_of(record)
    assert await store.get_live_user_unless(ada.scim_id, record.version) == record.version
    assert await store.get_live_user_unless(ada.scim_id, record.version - 1) == view_of(record)
    total, page = await store.list_users("1=1", [], limit=10)
    assert (total, [u.groups for u in page]) == (2, [expected, (UserGroup(alpha.scim_id, "Alpha"),)])
    updated = await store.update_user(
        ada.scim_id,
        fields=UserFields(user_name="ada", external_id="x", display_name=None, active=True, doc={}),
    )
    assert updated.groups == expected


async def test_membership_changes_bump_only_the_users_whose_groups_changed(
    store: Store, clock: ManualClock
) -> None:
    a, b, c = [await add_user(store, n) for n in ("a", "b", "c")]
    group = await add_group(store, "g", [a.scim_id])
    assert await _versions(store, a.scim_id, b.scim_id, c.scim_id) == [2, 1, 1]

    moved = clock.advance()
    assert await store.add_members(group.scim_id, [user_member(b.scim_id), user_member(a.scim_id)]) == [
        b.scim_id
    ]
    assert await _versions(store, a.scim_id, b.scim_id, c.scim_id) == [2, 2, 1]
    assert (await _user(store, b.scim_id)).last_modified == format_ts(moved)

    await store.remove_members(group.scim_id, [a.scim_id, c.scim_id])
    assert await _versions(store, a.scim_id, b.scim_id, c.scim_id) == [3, 2, 1]

    await store.replace_members(group.scim_id, [user_member(b.scim_id), user_member(c.scim_id)])
    assert await _versions(store, a.scim_id, b.scim_id, c.scim_id) == [3, 2, 2]

    await store.change_group(group.scim_id, add=[user_member(a.scim_id)], remove=[c.scim_id])
    assert await _versions(store, a.scim_id, b.scim_id, c.scim_id) == [4, 2, 3]

    # No-op deltas change nobody.
    await store.add_members(group.scim_id, [user_member(a.scim_id)])
    await store.remove_members(group.scim_id, [c.scim_id])
    await store.change_group(group.scim_id, add=[user_member(b.scim_id)])
    assert await _versions(store, a.scim_id, b.scim_id, c.scim_id) == [4, 2, 3]


async def test_a_rename_bumps_the_members_but_other_attribute_writes_do_not(store: Store) -> None:
    a = await add_user(store, "a")
    outsider = await add_user(store, "outsider")
    group = await add_group(store, "devs", [a.scim_id])
    await store.update_group(group.scim_id, display_name="devs", external_id="e1", doc={})
    await store.change_group(group.scim_id, attributes=GroupAttributes("devs", "e2", {}))
    assert await _versions(store, a.scim_id, outsider.scim_id) == [2, 1]

    await store.update_group(group.scim_id, display_name="Devs", external_id="e2", doc={})  # case only
    assert await _versions(store, a.scim_id, outsider.scim_id) == [3, 1]
    await store.change_group(group.scim_id, attributes=GroupAttributes("builders", None, {}))
    record = await _user(store, a.scim_id)
    assert (record.version, record.groups) == (4, (UserGroup(group.scim_id, "builders"),))


async def test_deleting_a_group_bumps_its_members_and_leaving_everywhere_bumps_the_user(
    store: Store,
) -> None:
    a = await add_user(store, "a")
    b = await add_user(store, "b")
    parent = await add_group(store, "parent", [b.scim_id])
    group = await add_group(store, "g", [a.scim_id])
    await store.add_members(parent.scim_id, [MemberRecord(group.scim_id, MemberType.GROUP)])
    await store.delete_group(group.scim_id)
    assert await _versions(store, a.scim_id, b.scim_id) == [3, 2]  # parent lost a member, b kept its groups
    assert (await _user(store, a.scim_id)).groups == ()

    assert await store.remove_member_everywhere(b.scim_id) == [parent.scim_id]
    record = await _user(store, b.scim_id)
    assert (record.version, record.groups) == (3, ())
    assert await store.remove_member_everywhere(b.scim_id) == []
    assert await _versions(store, b.scim_id) == [3]
