"""``reconcile --repair`` (policy idp_wins) on drift an administrator makes that the basic cases do not show: a
deleted group re-created by hand under its old name, a local user renamed, a display name the master now
refuses as similar to another user's."""

from __future__ import annotations

import secrets
import uuid

from pytest_aiohttp import AiohttpServer

from bridge.determined import create_master_client
from bridge.reconcile import DriftKind, Mode, build_reconciler
from bridge.store import UserFields, UserRecord
from tests.conftest import LogReader
from tests.provisioning.faults import Rule, start_proxy
from tests.reliability.conftest import World, client_settings


async def test_a_group_deleted_and_recreated_by_hand_is_adopted_with_exactly_the_idps_members(
    world: World,
) -> None:
    alice, bob, carol = await world.user("alice"), await world.user("bob"), await world.user("carol")
    group = await world.group("ops", [alice, bob])
    old = await world.store.get_group_by_scim_id(group)
    assert old is not None
    await world.admin.delete_group(old.det_id)
    by_hand = await world.admin.create_group("ops", [bob.det_id, carol.det_id])
    report = await (await world.reconciler()).run(Mode.REPAIR)
    assert [d.kind for d in report.repaired] == [DriftKind.GROUP_DELETED]
    relinked = await world.store.get_group_by_scim_id(group)
    assert relinked is not None
    assert relinked.det_id == by_hand.id
    assert {u.id for u in (await world.admin.get_group(by_hand.id)).users} == {alice.det_id, bob.det_id}
    assert [g.name async for g in world.admin.iter_groups()] == ["ops"]
    again = await (await world.reconciler()).run(Mode.REPORT)
    assert again.drifts == ()


async def test_a_group_deleted_and_recreated_by_hand_with_the_same_members_needs_no_member_change(
    world: World,
) -> None:
    alice = await world.user("alice")
    group = await world.group("ops", [alice])
    old = await world.store.get_group_by_scim_id(group)
    assert old is not None
    await world.admin.delete_group(old.det_id)
    by_hand = await world.admin.create_group("ops", [alice.det_id])
    await (await world.reconciler()).run(Mode.REPAIR)
    relinked = await world.store.get_group_by_scim_id(group)
    assert relinked is not None
    assert relinked.det_id == by_hand.id
    assert [u.id for u in (await world.admin.get_group(by_hand.id)).users] == [alice.det_id]


async def _local_user(world: World, name: str) -> UserRecord:
    """A user provisioned with users.create_remote off: a local Determined user with a password."""
    master = await world.bridge.create_user(
        name, name.title(), True, remote=False, password=secrets.token_urlsafe(16)
    )
    return await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=master.id,
        fields=UserFields(name, None, name.title(), True, {"userName": name, "displayName": name.title()}),
    )


async def test_a_local_user_renamed_in_determined_is_renamed_back_and_stays_local(world: World) -> None:
    dana = await _local_user(world, "dana")
    await world.admin.patch_user(dana.det_id, active=True, username="dana.renamed")
    report = await (await world.reconciler()).run(Mode.REPAIR)
    assert [d.kind for d in report.repaired] == [DriftKind.USER_RENAMED]
    master = await world.admin.get_user(dana.det_id)
    assert (master.username, master.remote, master.active) == ("dana", False, True)


async def test_a_display_name_the_master_now_refuses_is_restored_disambiguated(world: World) -> None:
    """Another user took the display name meanwhile: the master refuses a similar one (§7.2), so the repair
    writes the name provisioning would have written in that case, "<name> (<userName>)"."""
    carl = await world.user("carl", display="Team Lead")
    await world.admin.patch_user(carl.det_id, active=True, display_name="Carl")
    await world.admin.create_user("dup", "Team Lead", True)
    report = await (await world.reconciler()).run(Mode.REPAIR)
    assert [d.kind for d in report.repaired] == [DriftKind.USER_DISPLAY_NAME]
    assert (await world.admin.get_user(carl.det_id)).display_name == "Team Lead (carl)"
    again = await (await world.reconciler()).run(Mode.REPORT)
    assert [d.kind for d in again.drifts] == [DriftKind.USER_UNMANAGED]


async def test_a_display_name_refused_even_disambiguated_is_cleared(world: World) -> None:
    """The last candidate, no display name, is one the master always accepts: the drift does not stay."""
    carl = await world.user("carl", display="Team Lead")
    await world.admin.patch_user(carl.det_id, active=True, display_name="Carl")
    await world.admin.create_user("dup", "Team Lead", True)
    await world.admin.create_user("dup2", "Team Lead (carl)", True)
    report = await (await world.reconciler()).run(Mode.REPAIR)
    assert [d.kind for d in report.repaired] == [DriftKind.USER_DISPLAY_NAME]
    assert not (await world.admin.get_user(carl.det_id)).display_name
    again = await (await world.reconciler()).run(Mode.REPORT)
    assert DriftKind.USER_DISPLAY_NAME not in {d.kind for d in again.drifts}


async def test_a_master_failure_while_adding_members_back_is_a_failed_repair_that_retires_nobody(
    world: World, aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    """A 500 on the add is asked about (is a named user gone?); a master that still has every user means the
    500 was the master's own failure: the repair fails, is reported, and no mapping is retired for it."""
    alice, bob = await world.user("alice"), await world.user("bob")
    group = await world.group("team", [alice, bob])
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    await world.admin.remove_from_groups([bob.det_id], [record.det_id])
    proxy, server = await start_proxy(aiohttp_server, world.settings.master.url)
    proxy.rules.append(Rule("PATCH", "/api/v1/users/assignments", status=500, times=10_000))
    client = create_master_client(client_settings(str(server.make_url("")).rstrip("/")))
    try:
        report = await (await build_reconciler(world.settings, world.store, client)).run(Mode.REPAIR)
    finally:
        await client.close()
    assert [d.kind for d in report.failed] == [DriftKind.GROUP_MEMBER_REMOVED]
    assert report.repaired == ()
    [failed] = [e for e in captured_logs() if e["event"] == "reconcile.repair_failed"]
    assert failed["error"] == "MasterInternal"
    still = await world.store.get_user_by_scim_id(bob.scim_id)
    assert still is not None
    assert still.tombstoned_at is None
    assert {u.id for u in (await world.admin.get_group(record.det_id)).users} == {alice.det_id}
