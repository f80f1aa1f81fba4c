"""Each kind of pending intent a crash leaves behind, resolved against what the master says happened (yes, no,
or a state it can no longer reach); journal entries are made as provisioning makes them (docs/reliability.md,
"Resolving pending intents")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from bridge.reconcile import Resolution
from bridge.store import IntentState, MemberRecord, UserFields
from tests.reliability.conftest import World
from tests.reliability.test_intents import _intent, _resolver, _user_delete


async def _state(world: World, intent: int) -> IntentState:
    record = await world.store.get_intent(intent)
    assert record is not None
    return record.state


async def test_an_interrupted_group_create_the_master_made_is_mapped_with_its_members(world: World) -> None:
    alice = await world.user("alice")
    await world.admin.create_group("foreign")  # made by hand: never taken for the crashed create
    scim_id = str(uuid.uuid4())
    intent = await _intent(world, "create", "Group", scim_id, {"name": "team", "members": [alice.det_id]})
    created = await world.bridge.create_group("team", [alice.det_id])  # landed; then the crash
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (
        Resolution.COMPLETED,
        (f"group.mapped:{created.id}",),
    )
    record = await world.store.get_group_by_scim_id(scim_id)
    assert record is not None
    assert (record.det_id, record.display_name) == (created.id, "team")
    assert [m.member_scim_id for m in await world.store.list_members(scim_id)] == [alice.scim_id]
    assert await world.store.get_group_by_display_name("foreign") is None
    assert await _state(world, intent) is IntentState.DONE
    assert await world.store.check() == []


async def test_an_interrupted_group_create_the_master_never_made_is_rolled_back(world: World) -> None:
    await world.admin.create_group("team-by-hand")
    scim_id = str(uuid.uuid4())
    intent = await _intent(world, "create", "Group", scim_id, {"name": "team", "members": []})
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.ROLLED_BACK, ())
    assert await world.store.get_group_by_scim_id(scim_id) is None
    assert [g.name async for g in world.admin.iter_groups()] == ["team-by-hand"]
    assert await _state(world, intent) is IntentState.ROLLED_BACK


async def test_an_interrupted_user_create_is_mapped_and_given_the_activity_the_idp_asked_for(
    world: World,
) -> None:
    """The create landed, then something (the failed request's compensation) deactivated the user."""
    scim_id = str(uuid.uuid4())
    await _intent(world, "create", "User", scim_id, {"username": "zoe", "active": True, "remote": True})
    created = await world.bridge.create_user("zoe", "", True)
    await world.bridge.patch_user(created.id, active=False)
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.COMPLETED
    record = await world.store.get_user_by_scim_id(scim_id)
    assert record is not None
    assert (record.det_id, record.active, record.display_name) == (created.id, True, None)
    assert (await world.admin.get_user(created.id)).active is True


async def test_an_interrupted_user_create_whose_username_was_provisioned_since_leaves_that_user_alone(
    world: World,
) -> None:
    """The IdP's retry (or an adoption) mapped the userName meanwhile: the crashed create's user stays unmapped
    for reconcile to report, and the mapping made since is untouched."""
    scim_id = str(uuid.uuid4())
    intent = await _intent(
        world, "create", "User", scim_id, {"username": "Zoe", "active": True, "remote": True}
    )
    crashed = await world.bridge.create_user("Zoe", "Zoe", True)
    since = await world.user("zoe")  # userName is unique case-insensitively in the store
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.ROLLED_BACK, ())
    assert await world.store.get_user_by_scim_id(scim_id) is None
    mapped = await world.store.get_user_by_user_name("zoe")
    assert mapped is not None
    assert (mapped.scim_id, mapped.det_id) == (since.scim_id, since.det_id)
    assert (await world.admin.get_user(crashed.id)).active is True
    assert await _state(world, intent) is IntentState.ROLLED_BACK


async def _deleted(world: World, name: str) -> tuple[str, int]:
    """A user the IdP deleted: tombstoned in the store, deactivated on the master."""
    record = await world.user(name)
    await world.bridge.patch_user(record.det_id, active=False)
    await world.store.tombstone_user(record.scim_id)
    return record.scim_id, record.det_id


async def test_an_interrupted_relink_that_revived_the_user_puts_it_back_to_sleep(world: World) -> None:
    await world.user("live")
    await _deleted(world, "other")  # another tombstone: its Determined user is not the one the relink named
    scim_id, det_id = await _deleted(world, "erin")
    intent = await _intent(world, "relink", "User", str(uuid.uuid4()), {"det_id": det_id, "username": "erin"})
    await world.bridge.patch_user(det_id, active=True)  # the relink's master write; then the crash
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (
        Resolution.ROLLED_BACK,
        (f"user.deactivate:{det_id}",),
    )
    assert (await world.admin.get_user(det_id)).active is False
    tombstone = await world.store.get_user_by_scim_id(scim_id, include_tombstoned=True)
    assert tombstone is not None
    assert tombstone.tombstoned_at is not None
    assert await _state(world, intent) is IntentState.ROLLED_BACK


async def test_an_interrupted_relink_that_never_reached_the_master_changes_nothing(world: World) -> None:
    scim_id, det_id = await _deleted(world, "erin")
    await _intent(world, "relink", "User", str(uuid.uuid4()), {"det_id": det_id, "username": "erin"})
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.ROLLED_BACK, ())
    assert (await world.admin.get_user(det_id)).active is False
    assert await world.store.get_user_by_user_name("erin") is None
    tombstone = await world.store.get_user_by_scim_id(scim_id, include_tombstoned=True)
    assert tombstone is not None
    assert tombstone.tombstoned_at is not None


async def test_an_interrupted_group_delete_the_master_never_made_is_rolled_back(world: World) -> None:
    alice = await world.user("alice")
    group = await world.group("team", [alice])
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    await _intent(world, "delete", "Group", group, {"det_id": record.det_id})
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.ROLLED_BACK
    assert await world.store.get_group_by_scim_id(group) is not None
    assert {u.id for u in (await world.admin.get_group(record.det_id)).users} == {alice.det_id}


async def test_an_intent_its_request_finished_meanwhile_keeps_the_requests_outcome(world: World) -> None:
    """A periodic pass read the intent as pending; the slow request then recorded its store write."""
    alice = await world.user("alice")
    intent = await _intent(world, "patch", "User", alice.scim_id, {"det_id": alice.det_id, "active": False})
    read_by_the_pass = await world.store.get_intent(intent)
    assert read_by_the_pass is not None
    await world.store.finish_intent(intent, IntentState.DONE)
    outcome = await _resolver(world).resolve(read_by_the_pass)
    assert outcome.resolution is Resolution.DEFERRED
    assert await _state(world, intent) is IntentState.DONE


async def test_an_interrupted_patch_of_a_user_the_master_lost_is_rolled_back_without_retiring_it(
    world: World,
) -> None:
    """Nothing to put back: the mapping's Determined user is gone. Retiring it is reconcile's call, not the
    intent's (it is bounded by reconcile.max_retire there)."""
    ghost = await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=987_654,
        fields=UserFields("ghost", None, "Ghost", True, {"userName": "ghost", "active": True}),
    )
    await _intent(world, "patch", "User", ghost.scim_id, {"det_id": ghost.det_id, "active": False})
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.ROLLED_BACK, ())
    still = await world.store.get_user_by_scim_id(ghost.scim_id)
    assert still is not None
    assert still.tombstoned_at is None


async def test_an_interrupted_group_patch_puts_members_back_beside_one_the_master_lost(world: World) -> None:
    """The restore's add of the removed members names a user the master no longer has: the master refuses the
    whole call, so the others are added back on their own."""
    alice, bob = await world.user("alice"), await world.user("bob")
    group = await world.group("team", [alice, bob])
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    ghost = await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=987_654,
        fields=UserFields("ghost", None, "Ghost", True, {"userName": "ghost", "active": True}),
    )
    await world.store.add_members(group, [MemberRecord(ghost.scim_id, display="Ghost")])
    await _intent(world, "patch", "Group", group, {"det_id": record.det_id, "remove": [alice.det_id]})
    await world.bridge.remove_from_groups([alice.det_id], [record.det_id])  # landed; then the crash
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.ROLLED_BACK
    assert {u.id for u in (await world.admin.get_group(record.det_id)).users} == {alice.det_id, bob.det_id}


async def test_an_interrupted_group_patch_recreates_a_group_deleted_since_without_a_lost_member(
    world: World,
) -> None:
    alice = await world.user("alice")
    group = await world.group("team", [alice])
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    ghost = await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=987_654,
        fields=UserFields("ghost", None, "Ghost", True, {"userName": "ghost", "active": True}),
    )
    await world.store.add_members(group, [MemberRecord(ghost.scim_id, display="Ghost")])
    await _intent(world, "patch", "Group", group, {"det_id": record.det_id})
    await world.admin.delete_group(record.det_id)
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.ROLLED_BACK, ("group.deleted",))
    relinked = await world.store.get_group_by_scim_id(group)
    assert relinked is not None
    assert relinked.det_id != record.det_id
    assert {u.id for u in (await world.admin.get_group(relinked.det_id)).users} == {alice.det_id}
    assert {m.member_scim_id for m in await world.store.list_members(group)} == {alice.scim_id, ghost.scim_id}


async def test_an_interrupted_group_patch_of_a_group_deleted_since_changes_nothing(world: World) -> None:
    """The IdP deleted the group after the patch's 503; the patch's intent has nothing left to restore."""
    group = await world.group("team")
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    await _intent(world, "patch", "Group", group, {"det_id": record.det_id})
    await world.bridge.delete_group(record.det_id)
    await world.store.delete_group(group)
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.ROLLED_BACK, ())
    assert [g async for g in world.admin.iter_groups()] == []


# A resolution is itself two steps (the store write, then finishing the intent): a bridge killed between them
# leaves an intent whose outcome the store already shows. The next start-up must label it as what happened.


async def test_a_user_create_an_interrupted_resolution_already_mapped_is_completed(world: World) -> None:
    scim_id = str(uuid.uuid4())
    intent = await _intent(
        world, "create", "User", scim_id, {"username": "zoe", "active": True, "remote": True}
    )
    created = await world.bridge.create_user("zoe", "Zoe", True)
    await world.store.insert_user(
        scim_id=scim_id,
        det_id=created.id,
        fields=UserFields("zoe", None, "Zoe", True, {"userName": "zoe", "active": True}),
    )
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.COMPLETED, ())
    assert await _state(world, intent) is IntentState.DONE
    record = await world.store.get_user_by_user_name("zoe")
    assert record is not None
    assert (record.scim_id, record.det_id) == (scim_id, created.id)


async def test_a_group_create_an_interrupted_resolution_already_mapped_is_completed(world: World) -> None:
    scim_id = str(uuid.uuid4())
    intent = await _intent(world, "create", "Group", scim_id, {"name": "team", "members": []})
    created = await world.bridge.create_group("team")
    await world.store.insert_group(
        scim_id=scim_id,
        det_id=created.id,
        display_name="team",
        external_id=None,
        doc={"displayName": "team"},
        members=[],
    )
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.COMPLETED, ())
    assert await _state(world, intent) is IntentState.DONE
    assert [g.id async for g in world.admin.iter_groups()] == [created.id]


async def test_a_user_delete_an_interrupted_resolution_already_recorded_is_completed(world: World) -> None:
    gone = await world.user("gone")
    intent = await _user_delete(world, gone.scim_id)
    await world.bridge.patch_user(gone.det_id, active=False)
    await world.store.tombstone_user(gone.scim_id)
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.COMPLETED
    assert await _state(world, intent) is IntentState.DONE
    assert (await world.admin.get_user(gone.det_id)).active is False


async def test_a_group_delete_an_interrupted_resolution_already_recorded_is_completed(world: World) -> None:
    group = await world.group("doomed")
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    intent = await _intent(world, "delete", "Group", group, {"det_id": record.det_id})
    await world.bridge.delete_group(record.det_id)
    await world.store.delete_group(group)
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.COMPLETED
    assert await _state(world, intent) is IntentState.DONE


async def test_an_interrupted_group_patch_whose_only_missing_member_the_master_lost_changes_nothing(
    world: World,
) -> None:
    group = await world.group("team")
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    ghost = await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=987_654,
        fields=UserFields("ghost", None, "Ghost", True, {"userName": "ghost", "active": True}),
    )
    await world.store.add_members(group, [MemberRecord(ghost.scim_id, display="Ghost")])
    await _intent(world, "patch", "Group", group, {"det_id": record.det_id})
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.ROLLED_BACK, ())
    assert (await world.admin.get_group(record.det_id)).users == ()
    still = await world.store.get_user_by_scim_id(ghost.scim_id)
    assert still is not None
    assert still.tombstoned_at is None


async def test_several_interrupted_creates_in_one_pass_each_map_their_own_object(world: World) -> None:
    """A bridge that died during a master outage leaves many creates; one pass lists the unmapped master
    objects once and must not give one object to two intents."""
    await world.group("mapped-already")
    users = {str(uuid.uuid4()): name for name in ("una", "uma")}
    groups = {str(uuid.uuid4()): name for name in ("g1", "g2")}
    for scim_id, name in users.items():
        await _intent(world, "create", "User", scim_id, {"username": name, "active": True, "remote": True})
        await world.bridge.create_user(name, name, True)
    for scim_id, name in groups.items():
        await _intent(world, "create", "Group", scim_id, {"name": name, "members": []})
        await world.bridge.create_group(name)
    outcomes = (await _resolver(world).resolve_all()).outcomes
    assert [o.resolution for o in outcomes] == [Resolution.COMPLETED] * 4
    for scim_id, name in users.items():
        user = await world.store.get_user_by_scim_id(scim_id)
        assert user is not None
        assert user.user_name == name
    for scim_id, name in groups.items():
        group = await world.store.get_group_by_scim_id(scim_id)
        assert group is not None
        assert group.display_name == name
    assert await world.store.check() == []


async def test_an_interrupted_group_create_whose_name_was_provisioned_since_leaves_that_group_alone(
    world: World,
) -> None:
    scim_id = str(uuid.uuid4())
    intent = await _intent(world, "create", "Group", scim_id, {"name": "Team", "members": []})
    crashed = await world.bridge.create_group("Team")
    since = await world.group("team")  # displayName is unique case-insensitively in the store
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert (outcome.resolution, outcome.master_actions) == (Resolution.ROLLED_BACK, ())
    assert await world.store.get_group_by_scim_id(scim_id) is None
    assert await world.store.get_group_by_scim_id(since) is not None
    assert await world.store.get_group_by_det_id(crashed.id) is None
    assert await _state(world, intent) is IntentState.ROLLED_BACK


async def test_an_intent_finished_and_then_pruned_meanwhile_keeps_the_requests_outcome(world: World) -> None:
    """As above, and retention deleted the finished intent before the pass came to finish it."""
    alice = await world.user("alice")
    change = {"det_id": alice.det_id, "active": False}
    intent = await _intent(world, "patch", "User", alice.scim_id, change)
    read_by_the_pass = await world.store.get_intent(intent)
    assert read_by_the_pass is not None
    await world.store.finish_intent(intent, IntentState.DONE)
    newest = await _intent(world, "patch", "User", alice.scim_id, change)  # retention keeps the newest row
    await world.store.finish_intent(newest, IntentState.DONE)
    assert await world.store.prune_intents(datetime(9999, 1, 1, tzinfo=UTC)) == 1
    assert await world.store.get_intent(intent) is None
    outcome = await _resolver(world).resolve(read_by_the_pass)
    assert outcome.resolution is Resolution.DEFERRED
