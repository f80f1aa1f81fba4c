"""Groups and memberships: uniqueness, idempotent member deltas that report what changed, versions."""

from __future__ import annotations

import pytest

from bridge.store import (
    DuplicateDeterminedId,
    DuplicateDisplayName,
    GroupAttributes,
    IntentNotPending,
    IntentState,
    InvalidDocument,
    MemberDiff,
    MemberRecord,
    MemberType,
    NotFoundInStore,
    Store,
    UserFields,
    UserRef,
    VersionConflict,
)
from bridge.store.codec import format_ts
from tests.store.conftest import ManualClock
from tests.store.factories import add_group, add_user, new_id, user_member


async def _version(store: Store, scim_id: str) -> int:
    group = await store.get_group_by_scim_id(scim_id)
    assert group is not None
    return group.version


async def test_group_lookups_and_case_insensitive_display_name(store: Store) -> None:
    group = await add_group(store, "Engineering", external_id="g-ext")
    assert await store.get_group_by_display_name("ENGINEERING") == group
    assert await store.get_group_by_det_id(group.det_id) == group
    with pytest.raises(DuplicateDisplayName):
        await add_group(store, "engineering")


async def test_members_are_not_in_the_document(store: Store) -> None:
    with pytest.raises(InvalidDocument, match="members"):
        await store.insert_group(
            scim_id=new_id(), det_id=1000, display_name="x", external_id=None, doc={"members": []}
        )


async def test_add_members_reports_only_what_was_added(store: Store, clock: ManualClock) -> None:
    a, b, c = new_id(), new_id(), new_id()
    group = await add_group(store, "g", [a])
    later = clock.advance()
    added = await store.add_members(group.scim_id, [user_member(a), user_member(b), user_member(b, "dup")])
    assert added == [b]
    assert await _version(store, group.scim_id) == 2
    assert await store.add_members(group.scim_id, [user_member(a), user_member(b)]) == []
    assert await _version(store, group.scim_id) == 2, "a no-op must not bump the version"
    assert await store.add_members(group.scim_id, [user_member(c, "Cee")]) == [c]
    members = await store.list_members(group.scim_id)
    assert {m.member_scim_id for m in members} == {a, b, c}
    assert MemberRecord(c, MemberType.USER, "Cee") in members
    assert await store.count_members(group.scim_id) == 3
    refreshed = await store.get_group_by_scim_id(group.scim_id)
    assert refreshed is not None
    assert refreshed.last_modified == format_ts(later)


async def test_remove_members_reports_only_what_was_removed(store: Store) -> None:
    a, b, absent = new_id(), new_id(), new_id()
    group = await add_group(store, "g", [a, b])
    assert await store.remove_members(group.scim_id, [absent]) == []
    assert await _version(store, group.scim_id) == 1
    assert await store.remove_members(group.scim_id, [b, absent, b]) == [b]
    assert await store.remove_members(group.scim_id, [b]) == []
    assert [m.member_scim_id for m in await store.list_members(group.scim_id)] == [a]
    assert await _version(store, group.scim_id) == 2


async def test_replace_members_returns_the_diff(store: Store) -> None:
    a, b, c = sorted([new_id(), new_id(), new_id()])
    group = await add_group(store, "g", [a, b])
    diff = await store.replace_members(group.scim_id, [user_member(b), user_member(c), user_member(c)])
    assert diff == MemberDiff(added=(c,), removed=(a,))
    assert await store.replace_members(group.scim_id, [user_member(c), user_member(b)]) == MemberDiff((), ())
    assert await _version(store, group.scim_id) == 2
    assert (await store.get_member_refs(group.scim_id, [a, b, c]))[0] == {b, c}


async def test_membership_writes_honour_expected_version(store: Store) -> None:
    group = await add_group(store, "g")
    with pytest.raises(VersionConflict):
        await store.add_members(group.scim_id, [user_member(new_id())], expected_version=5)
    assert await store.count_members(group.scim_id) == 0
    assert await store.add_members(group.scim_id, [user_member("m")], expected_version=1) == ["m"]


async def test_unknown_group_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundInStore):
        await store.add_members(new_id(), [user_member("m")])
    with pytest.raises(NotFoundInStore):
        await store.list_members(new_id())
    with pytest.raises(NotFoundInStore):
        await store.delete_group(new_id())


async def test_groups_of_member_and_remove_everywhere(store: Store) -> None:
    user = await add_user(store, "u")
    g1 = await add_group(store, "b-group", [user.scim_id])
    g2 = await add_group(store, "a-group", [user.scim_id])
    await add_group(store, "other")
    assert [g.scim_id for g in await store.groups_of_member(user.scim_id)] == [g2.scim_id, g1.scim_id]
    assert await store.remove_member_everywhere(user.scim_id) == sorted([g1.scim_id, g2.scim_id])
    assert await store.groups_of_member(user.scim_id) == []
    assert await store.remove_member_everywhere(user.scim_id) == []


async def test_update_group_keeps_members(store: Store) -> None:
    group = await add_group(store, "old", ["m1"])
    renamed = await store.update_group(
        group.scim_id, display_name="new", external_id="x", doc={"displayName": "new"}, expected_version=1
    )
    assert (renamed.display_name, renamed.external_id, renamed.version) == ("new", "x", 2)
    assert await store.count_members(group.scim_id) == 1
    with pytest.raises(VersionConflict):
        await store.update_group(
            group.scim_id, display_name="n2", external_id=None, doc={}, expected_version=1
        )


async def test_delete_group_removes_it_from_parent_groups(store: Store) -> None:
    child = await add_group(store, "child", ["m1"])
    parent = await add_group(store, "parent")
    await store.add_members(parent.scim_id, [MemberRecord(child.scim_id, MemberType.GROUP, "child")])
    await store.delete_group(child.scim_id)
    assert await store.get_group_by_scim_id(child.scim_id) is None
    assert await store.list_members(parent.scim_id) == []
    assert await store.check() == []


async def test_a_rename_refreshes_the_member_display_in_every_group(store: Store) -> None:
    user = await add_user(store, "u")
    g1, g2, other = await add_group(store, "g1"), await add_group(store, "g2"), await add_group(store, "g3")
    await store.add_members(g1.scim_id, [user_member(user.scim_id, "Old")])
    await store.add_members(g2.scim_id, [user_member(user.scim_id, "Old")])
    await store.update_user(
        user.scim_id,
        fields=UserFields(user_name="New", external_id=None, display_name=None, active=True, doc={}),
        renamed=True,
    )
    assert [m.display for m in await store.list_members(g1.scim_id)] == ["New"]
    assert [m.display for m in await store.list_members(g2.scim_id)] == ["New"]
    assert await store.list_members(other.scim_id) == []


async def test_large_membership_add_is_a_delta(store: Store) -> None:
    ids = [f"user-{i:05d}" for i in range(5000)]
    group = await add_group(store, "big")
    assert len(await store.add_members(group.scim_id, [user_member(i) for i in ids])) == 5000
    assert await store.add_members(group.scim_id, [user_member(ids[0]), user_member("late")]) == ["late"]
    assert await store.count_members(group.scim_id) == 5001
    assert (await store.get_member_refs(group.scim_id, ["late", "nobody"]))[0] == {"late"}


async def test_a_bulk_add_inserts_the_absent_members_and_reports_them_in_request_order(store: Store) -> None:
    present = await add_user(store, "present")
    zero, one, two = [(await add_user(store, f"new-{i}")).scim_id for i in range(3)]
    child = await add_group(store, "child")
    group = await add_group(store, "parent", [present.scim_id])
    added = await store.change_group(
        group.scim_id,
        add=[
            user_member(two, "Two"),
            user_member(present.scim_id, "not this display"),
            MemberRecord(child.scim_id, MemberType.GROUP, "child"),
            user_member(zero, "Zero"),
            user_member(two, "a repeat"),
            user_member(one),
        ],
    )
    assert added.version == 2
    members = {m.member_scim_id: m for m in await store.list_members(group.scim_id)}
    assert members == {
        present.scim_id: user_member(present.scim_id),  # a member already there is left as it was
        two: user_member(two, "Two"),  # the first of a repeated id
        child.scim_id: MemberRecord(child.scim_id, MemberType.GROUP, "child"),
        zero: user_member(zero, "Zero"),
        one: user_member(one),
    }
    assert await store.add_members(group.scim_id, [user_member(i) for i in ("late", zero, "later")]) == [
        "late",
        "later",
    ]
    # The users added are bumped (their `groups` changed); the one already there stays at the version its
    # first membership gave it.
    for user_id in (zero, one, two, present.scim_id):
        user = await store.get_user_by_scim_id(user_id)
        assert user is not None
        assert user.version == 2


async def test_change_group_applies_diff_and_attributes_in_one_version_step(
    store: Store, clock: ManualClock
) -> None:
    group = await add_group(store, "Team", ["a", "b"])
    clock.advance()
    changed = await store.change_group(
        group.scim_id,
        attributes=GroupAttributes("Team 2", "ext-2", {"displayName": "Team 2"}),
        add=[user_member("c"), user_member("a"), user_member("c")],
        remove=["b", "absent"],
    )
    assert (changed.display_name, changed.external_id, changed.version) == ("Team 2", "ext-2", 2)
    assert changed.last_modified > group.last_modified
    assert [m.member_scim_id for m in await store.list_members(group.scim_id)] == ["a", "c"]
    unchanged = await store.change_group(group.scim_id, add=[user_member("a")], remove=["b"])
    assert unchanged == changed
    clock.advance(1.5)
    members_only = await store.change_group(group.scim_id, remove=["a"])
    assert (members_only.display_name, members_only.version, members_only.last_modified) == (
        "Team 2",
        3,
        format_ts(clock.now),
    )
    assert members_only == await store.get_group_by_scim_id(group.scim_id)


async def test_change_group_answers_from_the_known_group_only_while_the_row_is_at_its_version(
    store: Store, clock: ManualClock
) -> None:
    group = await add_group(store, "Team", external_id="ext")
    clock.advance()
    added = await store.change_group(group.scim_id, add=[user_member("a")], known=group)
    assert (added.version, added.last_modified) == (2, format_ts(clock.now))
    assert added == await store.get_group_by_scim_id(group.scim_id)
    assert await store.change_group(group.scim_id, add=[user_member("a")], known=added) is added
    # Written since the caller read it (by another process: this one's group lock does not hold that off).
    await store.update_group(
        group.scim_id, display_name="Team 2", external_id=None, doc={"displayName": "Team 2"}
    )
    clock.advance()
    answer = await store.change_group(group.scim_id, add=[user_member("b")], known=added)
    assert (answer.display_name, answer.external_id, answer.version) == ("Team 2", None, 4)
    assert answer == await store.get_group_by_scim_id(group.scim_id)
    # A move to another Determined group keeps the version: the det_id read in the transaction tells it.
    moved = await store.move_group(group.scim_id, old_det_id=answer.det_id, new_det_id=answer.det_id + 10_000)
    after_move = await store.change_group(group.scim_id, remove=["b"], known=answer)
    assert after_move.det_id == moved.det_id
    assert after_move == await store.get_group_by_scim_id(group.scim_id)
    assert await store.change_group(group.scim_id, remove=["b"], known=answer) == after_move


async def test_change_group_finishing_a_done_intent_changes_nothing(store: Store) -> None:
    group = await add_group(store, "Team", ["a"])
    intent = await store.begin_intent(
        request_id="r", operation="patch", resource_type="Group", target=group.scim_id, payload_digest="d"
    )
    await store.finish_intent(intent, IntentState.ROLLED_BACK)
    with pytest.raises(IntentNotPending):
        await store.change_group(group.scim_id, add=[user_member("b")], remove=["a"], finishing_intent=intent)
    assert [m.member_scim_id for m in await store.list_members(group.scim_id)] == ["a"]
    assert await _version(store, group.scim_id) == 1


async def test_member_refs_of_an_unknown_group_name_no_member(store: Store) -> None:
    user = await add_user(store, "a")
    await add_group(store, "Team", [user.scim_id])
    assert await store.get_member_refs(new_id(), [user.scim_id]) == (
        set(),
        {user.scim_id: UserRef(user.det_id, "a")},
    )
    assert await store.get_member_refs(new_id(), []) == (set(), {})


async def test_member_refs_are_presence_and_user_refs_in_one_read(store: Store) -> None:
    """What a PATCH's member change reads: per asked id, its membership of this group, and the user refs as
    get_user_refs(include_tombstoned=True) finds them (members that are groups, or no one, have none)."""
    kept = await add_user(store, "Kept")
    gone = await add_user(store, "gone")
    outside = await add_user(store, "outside")
    child = await add_group(store, "child")
    group = await add_group(store, "parent", [kept.scim_id, gone.scim_id])
    await store.add_members(group.scim_id, [MemberRecord(child.scim_id, MemberType.GROUP)])
    await store.tombstone_user(gone.scim_id)
    asked = [
        kept.scim_id,
        gone.scim_id,
        outside.scim_id,
        child.scim_id,
        "nobody",
        kept.scim_id.upper(),
        kept.scim_id,
    ]
    present, users = await store.get_member_refs(group.scim_id, asked)
    # Tombstoning took `gone` out of every group.
    assert present == {kept.scim_id, child.scim_id}
    assert users == await store.get_user_refs(asked, include_tombstoned=True)
    assert users == {
        kept.scim_id: UserRef(kept.det_id, "Kept"),
        gone.scim_id: UserRef(gone.det_id, "gone", live=False),
        outside.scim_id: UserRef(outside.det_id, "outside"),
    }


async def test_move_group_changes_only_the_determined_id(store: Store) -> None:
    """Reconcile's re-creation moves a mapping in place: the same row, version and memberships (its own in a
    parent group too); a move onto an id another mapping holds, or from an id it no longer holds, changes
    nothing."""
    child = await add_group(store, "child", [new_id()])
    parent = await add_group(store, "parent")
    await store.add_members(parent.scim_id, [MemberRecord(child.scim_id, MemberType.GROUP)])
    before = await store.get_group_by_scim_id(child.scim_id)
    assert before is not None

    moved = await store.move_group(child.scim_id, old_det_id=child.det_id, new_det_id=child.det_id + 100)
    assert moved == before._replace(det_id=child.det_id + 100)
    assert await store.list_members(parent.scim_id) == [MemberRecord(child.scim_id, MemberType.GROUP)]
    assert len(await store.list_members(child.scim_id)) == 1

    with pytest.raises(DuplicateDeterminedId):
        await store.move_group(child.scim_id, old_det_id=moved.det_id, new_det_id=parent.det_id)
    with pytest.raises(NotFoundInStore):
        await store.move_group(child.scim_id, old_det_id=child.det_id, new_det_id=child.det_id + 200)
    assert await store.get_group_by_scim_id(child.scim_id) == moved
