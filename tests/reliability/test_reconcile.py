"""Reconciliation finds and repairs each kind of drift made through the master's REST API (issue 7)."""

from __future__ import annotations

import secrets
import uuid

import pytest

from bridge.determined import MasterNotFound
from bridge.reconcile import DriftKind, Mode
from bridge.store import MemberRecord, UserFields, UserRecord
from tests.conftest import LogReader
from tests.reliability.conftest import World


async def _kinds(world: World, mode: Mode = Mode.REPORT) -> dict[DriftKind, list[object]]:
    report = await (await world.reconciler()).run(mode)
    found: dict[DriftKind, list[object]] = {}
    for drift in report.drifts:
        found.setdefault(drift.kind, []).append(drift.scim_id or drift.det_id)
    return found


async def test_a_consistent_world_has_no_drift(world: World) -> None:
    alice = await world.user("alice")
    await world.group("team", [alice])
    report = await (await world.reconciler()).run(Mode.REPAIR)
    assert report.drifts == ()
    assert (report.users_checked, report.groups_checked) == (1, 1)


async def test_user_renamed_in_determined_is_renamed_back(world: World) -> None:
    alice = await world.user("alice")
    # What an admin does in the UI for a remote user: the two-call flip (master-api.md §7.2).
    await world.admin.patch_user(
        alice.det_id, active=True, username="alice.renamed", remote=False, password=secrets.token_urlsafe(32)
    )
    await world.admin.patch_user(alice.det_id, active=True, remote=True)
    assert await _kinds(world) == {DriftKind.USER_RENAMED: [alice.scim_id]}
    report = await (await world.reconciler()).run(Mode.REPAIR)
    assert [d.kind for d in report.repaired] == [DriftKind.USER_RENAMED]
    master = await world.admin.get_user(alice.det_id)
    assert (master.username, master.remote, master.active) == ("alice", True, True)
    assert await _kinds(world) == {}


async def test_user_deactivated_in_determined_is_reactivated(world: World) -> None:
    bob = await world.user("bob")
    await world.admin.patch_user(bob.det_id, active=False)
    assert await _kinds(world) == {DriftKind.USER_DEACTIVATED: [bob.scim_id]}
    await (await world.reconciler()).run(Mode.REPAIR)
    assert (await world.admin.get_user(bob.det_id)).active is True
    assert await _kinds(world) == {}


async def test_user_reactivated_in_determined_is_deactivated(world: World) -> None:
    carol = await world.user("carol", active=False)
    dave = await world.user("dave")
    await world.store.tombstone_user(dave.scim_id)
    await world.bridge.patch_user(dave.det_id, active=False)
    await world.admin.patch_user(carol.det_id, active=True)
    await world.admin.patch_user(dave.det_id, active=True)
    found = await _kinds(world)
    assert sorted(map(str, found[DriftKind.USER_REACTIVATED])) == sorted([carol.scim_id, dave.scim_id])
    await (await world.reconciler()).run(Mode.REPAIR)
    assert (await world.admin.get_user(carol.det_id)).active is False
    assert (await world.admin.get_user(dave.det_id)).active is False
    assert await _kinds(world) == {}


async def test_display_name_changed_in_determined_is_restored(world: World) -> None:
    erin = await world.user("erin", display="Erin Example")
    await world.admin.patch_user(erin.det_id, active=True, display_name="Someone Else")
    assert await _kinds(world) == {DriftKind.USER_DISPLAY_NAME: [erin.scim_id]}
    await (await world.reconciler()).run(Mode.REPAIR)
    assert (await world.admin.get_user(erin.det_id)).display_name == "Erin Example"


async def test_group_renamed_in_determined_is_renamed_back(world: World) -> None:
    group = await world.group("engineering")
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    await world.admin.update_group(record.det_id, name="eng-renamed")
    assert await _kinds(world) == {DriftKind.GROUP_RENAMED: [group]}
    await (await world.reconciler()).run(Mode.REPAIR)
    assert (await world.admin.get_group(record.det_id)).name == "engineering"


async def test_members_changed_out_of_band_are_put_back(world: World) -> None:
    alice, bob, carol = [await world.user(n) for n in ("alice", "bob", "carol")]
    group = await world.group("team", [alice, bob])
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    await world.admin.update_group(record.det_id, add_users=[carol.det_id], remove_users=[bob.det_id])
    report = await (await world.reconciler()).run(Mode.REPORT)
    by_kind = {d.kind: d.det_user_ids for d in report.drifts}
    assert by_kind == {
        DriftKind.GROUP_MEMBER_ADDED: (carol.det_id,),
        DriftKind.GROUP_MEMBER_REMOVED: (bob.det_id,),
    }
    await (await world.reconciler()).run(Mode.REPAIR)
    members = {u.id for u in (await world.admin.get_group(record.det_id)).users}
    assert members == {alice.det_id, bob.det_id}


async def test_group_deleted_in_determined_is_recreated_and_relinked(world: World) -> None:
    alice, bob = await world.user("alice"), await world.user("bob")
    group = await world.group("ops", [alice, bob])
    old = await world.store.get_group_by_scim_id(group)
    assert old is not None
    await world.admin.delete_group(old.det_id)
    assert await _kinds(world) == {DriftKind.GROUP_DELETED: [group]}
    await (await world.reconciler()).run(Mode.REPAIR)
    new = await world.store.get_group_by_scim_id(group)
    assert new is not None
    assert new.det_id != old.det_id
    with pytest.raises(MasterNotFound):
        await world.admin.get_group(old.det_id)
    recreated = await world.admin.get_group(new.det_id)
    assert recreated.name == "ops"
    assert {u.id for u in recreated.users} == {alice.det_id, bob.det_id}
    assert {m.member_scim_id for m in await world.store.list_members(group)} == {alice.scim_id, bob.scim_id}
    assert await _kinds(world) == {}
    assert await world.store.check() == []


async def test_objects_only_on_the_master_are_reported_never_touched(world: World) -> None:
    stranger = await world.admin.create_user("stranger", "Stranger", True)
    lab = await world.admin.create_group("lab", [stranger.id])
    found = await _kinds(world, Mode.REPAIR)
    assert found == {DriftKind.USER_UNMANAGED: [stranger.id], DriftKind.GROUP_UNMANAGED: [lab.id]}
    assert (await world.admin.get_user(stranger.id)).active is True
    assert [u.id for u in (await world.admin.get_group(lab.id)).users] == [stranger.id]


async def test_report_and_dry_run_change_nothing_and_log_drift(
    world: World, captured_logs: LogReader
) -> None:
    bob = await world.user("bob")
    await world.admin.patch_user(bob.det_id, active=False)
    for mode in (Mode.REPORT, Mode.DRY_RUN):
        report = await (await world.reconciler()).run(mode)
        assert [d.kind for d in report.drifts] == [DriftKind.USER_DEACTIVATED]
        assert report.repaired == ()
    assert (await world.admin.get_user(bob.det_id)).active is False
    events = captured_logs()
    drift_events = [e for e in events if e["event"] == "reconcile.drift"]
    assert drift_events[0]["kind"] == "user.deactivated"
    assert drift_events[0]["scim_id"] == bob.scim_id
    assert drift_events[0]["det_id"] == bob.det_id
    assert any(e["event"] == "reconcile.would_repair" for e in events)
    summaries = [e for e in events if e["event"] == "reconcile.summary"]
    assert [s["mode"] for s in summaries] == ["report", "dry_run"]
    assert summaries[0]["by_kind"] == {"user.deactivated": 1}


async def test_an_orphan_user_mapping_is_retired_by_repair_and_never_recreated(world: World) -> None:
    """A mapping whose Determined user is gone (a restored or foreign master database) is reported as
    user.missing and never "repaired" by creating a new Determined user under the old SCIM identity: a repair
    pass retires it, as a write finding it would (a tombstone keeping its Determined id and attributes)."""
    alice = await world.user("alice")
    orphan = await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=987_654,
        fields=UserFields(
            user_name="ghost",
            external_id=None,
            display_name="Ghost",
            active=True,
            doc={"userName": "ghost", "displayName": "Ghost", "active": True},
        ),
    )
    assert await _kinds(world) == {DriftKind.USER_MISSING: [orphan.scim_id]}
    report = await (await world.reconciler()).run(Mode.REPAIR)
    assert [d.kind for d in report.repaired] == [DriftKind.USER_MISSING]
    assert report.failed == ()
    assert await world.admin.get_user_by_username("ghost") is None
    assert (await world.store.get_user_by_scim_id(orphan.scim_id)) is None
    tombstone = await world.store.get_user_by_scim_id(orphan.scim_id, include_tombstoned=True)
    assert tombstone is not None
    assert (tombstone.det_id, tombstone.user_name, tombstone.doc["displayName"]) == (
        987_654,
        "ghost",
        "Ghost",
    )
    assert (await world.admin.get_user(alice.det_id)).active is True
    assert await _kinds(world) == {}


async def _ghost(world: World) -> UserRecord:
    """A live mapping whose Determined user the master no longer has (user.missing)."""
    return await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=987_654,
        fields=UserFields("ghost", None, "Ghost", True, {"userName": "ghost", "active": True}),
    )


async def test_a_ghost_still_listed_in_a_group_is_reported_once_as_user_missing(
    world: World, captured_logs: LogReader
) -> None:
    """The master cannot hold a membership of a user it lacks, so the ghost's group listing is part of the one
    user.missing drift, never a second, unrepairable group.member_removed."""
    alice = await world.user("alice")
    ghost = await _ghost(world)
    group = await world.group("team", [alice])
    await world.store.add_members(group, [MemberRecord(ghost.scim_id, display="ghost")])
    report = await (await world.reconciler()).run(Mode.REPORT)
    assert [(d.kind, d.scim_id) for d in report.drifts] == [(DriftKind.USER_MISSING, ghost.scim_id)]
    drift_lines = [e for e in captured_logs() if e.get("event") == "reconcile.drift"]
    assert [(e["kind"], e["scim_id"], e["det_id"]) for e in drift_lines] == [
        ("user.missing", ghost.scim_id, ghost.det_id)
    ]
    repair = await (await world.reconciler()).run(Mode.REPAIR)
    assert [d.kind for d in repair.repaired] == [DriftKind.USER_MISSING]
    assert repair.failed == ()
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    assert {u.id for u in (await world.admin.get_group(record.det_id)).users} == {alice.det_id}
    # Retired as a write would: out of the group in the store too, so both sides agree.
    assert {m.member_scim_id for m in await world.store.list_members(group)} == {alice.scim_id}
    assert (await (await world.reconciler()).run(Mode.REPORT)).drifts == ()


async def test_members_removed_out_of_band_are_put_back_beside_a_member_the_master_lost(world: World) -> None:
    """A group member whose Determined user is gone (user.missing) is reported once, as that; the members
    removed on the master are put back without it (an add naming it would fail whole with a bare 500)."""
    alice, bob = await world.user("alice"), await world.user("bob")
    ghost = await _ghost(world)
    group = await world.group("team", [alice, bob])
    await world.store.add_members(group, [MemberRecord(ghost.scim_id, display="ghost")])
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    await world.admin.remove_from_groups([bob.det_id], [record.det_id])
    report = await (await world.reconciler()).run(Mode.REPAIR)
    assert {(d.kind, d.det_user_ids) for d in report.drifts} == {
        (DriftKind.USER_MISSING, ()),
        (DriftKind.GROUP_MEMBER_REMOVED, (bob.det_id,)),
    }
    assert {u.id for u in (await world.admin.get_group(record.det_id)).users} == {alice.det_id, bob.det_id}
    assert [(d.kind, d.det_user_ids) for d in report.repaired] == [
        (DriftKind.USER_MISSING, ()),
        (DriftKind.GROUP_MEMBER_REMOVED, (bob.det_id,)),
    ]
    # The lost member's mapping is retired (out of the group in the store); the others are back.
    assert report.failed == ()
    assert {m.member_scim_id for m in await world.store.list_members(group)} == {alice.scim_id, bob.scim_id}
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is None
    again = await (await world.reconciler()).run(Mode.REPORT)
    assert again.drifts == ()


async def test_a_group_deleted_in_determined_is_recreated_without_a_member_the_master_lost(
    world: World,
) -> None:
    """The group is recreated with its other members (an add naming the lost one would be refused whole), and
    the lost one stays reported once, as user.missing."""
    alice = await world.user("alice")
    ghost = await _ghost(world)
    group = await world.group("ops", [alice])
    await world.store.add_members(group, [MemberRecord(ghost.scim_id, display="ghost")])
    old = await world.store.get_group_by_scim_id(group)
    assert old is not None
    await world.admin.delete_group(old.det_id)
    report = await (await world.reconciler()).run(Mode.REPAIR)
    [deleted] = [d for d in report.drifts if d.kind is DriftKind.GROUP_DELETED]
    assert deleted.det_user_ids == (alice.det_id,)
    assert [d.kind for d in report.repaired] == [DriftKind.USER_MISSING, DriftKind.GROUP_DELETED]
    new = await world.store.get_group_by_scim_id(group)
    assert new is not None
    assert new.det_id != old.det_id
    recreated = await world.admin.get_group(new.det_id)
    assert (recreated.name, {u.id for u in recreated.users}) == ("ops", {alice.det_id})
    # The lost member's mapping was retired in the same pass, which took it out of the group.
    assert {m.member_scim_id for m in await world.store.list_members(group)} == {alice.scim_id}
    again = await (await world.reconciler()).run(Mode.REPORT)
    assert again.drifts == ()
