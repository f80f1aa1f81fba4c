"""Re-creating mapped groups the master lacks is held to the mass-retirement guard, as retiring users is.

A repair pass (group.deleted) and the roll-back of an interrupted group PATCH/PUT (intent resolution) re-create on
the master a mapped group it no longer has. A wrong but healthy master (here a second, fresh emulator: a reset or
foreign database) lacks every mapped group, so without the guard the bridge would write the IdP's groups into it.
Past the bound (reconcile.max_retire, or reconcile.max_retire_fraction of the mapped groups) nothing is re-created
and nothing else is written to that master; --allow-mass-retire lifts it. The reconcile context on a socket, both
emulators over HTTP and the SQLite store are real.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from bridge.__main__ import main
from bridge.reconcile import Mode, build_intent_resolver, build_reconciler
from bridge.reconcile.repair import Unrepairable
from bridge.store import IntentState
from tests.conftest import LogReader
from tests.idp.master_view import MasterState
from tests.reliability.configs import write_config
from tests.reliability.conftest import ADMIN_PASSWORD, World, WrongMaster, bounded
from tests.reliability.test_intents import _intent

GROUPS = 3


async def _groups_with_a_patch_pending(world: World, count: int = GROUPS) -> list[str]:
    """`count` groups of one member each, and for each a PATCH journalled before its master write (then the
    crash): resolving it rolls back, restoring the group on the master."""
    user = await world.user("member")
    scim_ids = [await world.group(f"team{i}", [user]) for i in range(count)]
    for scim_id in scim_ids:
        group = await world.store.get_group_by_scim_id(scim_id)
        assert group is not None
        await _intent(world, "patch", "Group", scim_id, {"name": None, "add": [], "remove": [group.det_id]})
    return scim_ids


async def _mapping(world: World) -> tuple[object, ...]:
    """The group mappings (SCIM id to Determined id, members), the user mappings and the journal."""
    groups = []
    for record in (await world.store.list_groups("1=1", [], limit=500))[1]:
        members = sorted(m.member_scim_id for m in await world.store.list_members(record.scim_id))
        groups.append((record.scim_id, record.det_id, record.display_name, members))
    users = await world.store.all_users(include_tombstoned=True)
    return (
        sorted(groups),
        sorted((r.scim_id, r.det_id, r.tombstoned_at is None) for r in users),
        [(i.id, i.state) for i in await world.store.pending_intents()],
    )


def _refusals(captured_logs: LogReader) -> list[dict[str, Any]]:
    return [e for e in captured_logs() if e.get("event") == "reconcile.retire_refused"]


def _fields(event: dict[str, Any]) -> dict[str, Any]:
    keys = ("level", "path", "resource", "missing", "groups_checked", "bound")
    return {k: event.get(k) for k in keys}


async def _unchanged(
    world: World, mapping: tuple[object, ...], wrong: WrongMaster, before: MasterState
) -> None:
    assert await _mapping(world) == mapping
    assert await wrong.view.state() == before


async def test_start_up_recreates_no_group_on_a_wrong_master(
    world: World, wrong: WrongMaster, aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    """Before the fix start-up rolled back the three PATCHes by creating team0..team2 on the wrong master and
    pointing the mappings at them. The member (not a delete) is no retirement: only the groups are counted."""
    await _groups_with_a_patch_pending(world)
    mapping, before = await _mapping(world), await wrong.view.state()
    assert before.groups == {}

    server = await world.serve_reconciling(aiohttp_server, master=wrong.client)
    try:
        await _unchanged(world, mapping, wrong, before)
        [first, *_again] = _refusals(captured_logs)
        assert _fields(first) == {
            "level": "error",
            "path": "startup",
            "resource": "Group",
            "missing": GROUPS,
            "groups_checked": GROUPS,
            "bound": "reconcile.max_retire_fraction",
        }
        assert "reconcile.group_relinked" not in [e["event"] for e in captured_logs()]
    finally:
        await server.close()
    await _unchanged(world, mapping, wrong, before)


async def test_a_pass_recreates_no_group_on_a_wrong_master(
    world: World, wrong: WrongMaster, captured_logs: LogReader
) -> None:
    """Groups without members, so no user.missing refuses the pass first. Before the fix the pass re-created
    all three on the wrong master."""
    for i in range(GROUPS):
        await world.group(f"team{i}")
    mapping, before = await _mapping(world), await wrong.view.state()

    world = bounded(world, max_retire=GROUPS - 1)
    report = await (await build_reconciler(world.settings, world.store, wrong.client)).run(Mode.REPAIR)
    assert report.refused
    assert report.refusal is not None
    assert (report.refusal.resource, report.refusal.missing, report.refusal.setting) == (
        "Group",
        GROUPS,
        "reconcile.max_retire",
    )
    assert report.repaired == ()
    await _unchanged(world, mapping, wrong, before)
    [refused] = _refusals(captured_logs)
    assert _fields(refused) == {
        "level": "error",
        "path": "pass",
        "resource": "Group",
        "missing": GROUPS,
        "groups_checked": GROUPS,
        "bound": "reconcile.max_retire",
    }
    assert (refused["max_retire"], refused["max_retire_fraction"]) == (GROUPS - 1, 0.25)


@pytest.mark.usefixtures("reset_logging")
async def test_the_cli_names_the_groups_and_the_bound(
    world: World, wrong: WrongMaster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`reconcile --repair` as the operator runs it against the wrong master: exit 1, the REFUSED: line names
    the groups and the share bound, and the wrong master is left alone."""
    for i in range(GROUPS):
        await world.group(f"team{i}")
    mapping, before = await _mapping(world), await wrong.view.state()
    master = {"url": wrong.url, "username": "admin", "password": ADMIN_PASSWORD}
    config = write_config(tmp_path, Path(world.settings.database.path), wrong.url, master=master)

    capsys.readouterr()
    code = await asyncio.to_thread(main, ["reconcile", "--repair", "-c", str(config)])
    output = capsys.readouterr().out
    assert code == 1, output
    assert (
        "REFUSED: 3 mapped groups are gone and would be re-created, more than reconcile.max_retire_fraction "
        "(0.25) of the 3 mapped in one pass; repaired nothing." in output
    )
    assert "these groups were provisioned on" in output
    await _unchanged(world, mapping, wrong, before)


async def test_the_override_recreates_them(world: World) -> None:
    """Every group really deleted by hand on the right master: refused by the share bound, and
    --allow-mass-retire's guard re-creates them all with their member, as before."""
    scim_ids = await _groups_with_a_patch_pending(world)
    for scim_id in scim_ids:
        group = await world.store.get_group_by_scim_id(scim_id)
        assert group is not None
        await world.admin.delete_group(group.det_id)
    refused = await build_intent_resolver(
        world.settings, world.store, world.bridge, path="test"
    ).resolve_all()
    assert refused.refusal is not None
    assert (refused.refusal.resource, refused.refusal.setting) == ("Group", "reconcile.max_retire_fraction")
    assert [g.name async for g in world.admin.iter_groups()] == []

    resolver = build_intent_resolver(
        world.settings, world.store, world.bridge, path="test", allow_mass_retire=True
    )
    settled = await resolver.resolve_all()
    assert settled.refusal is None
    assert [o.resolution.value for o in settled.outcomes] == ["rolled_back"] * GROUPS
    assert await world.store.pending_intents() == []
    for scim_id in scim_ids:
        group = await world.store.get_group_by_scim_id(scim_id)
        assert group is not None
        assert len((await world.admin.get_group(group.det_id)).users) == 1


async def test_a_pass_within_the_bound_recreates_them(world: World) -> None:
    """Two of eight groups deleted by hand on the right master: at both bounds (2, a quarter of 8), so the
    pass re-creates both, with their members."""
    user = await world.user("member")
    scim_ids = [await world.group(f"team{i}", [user]) for i in range(8)]
    for scim_id in scim_ids[:2]:
        group = await world.store.get_group_by_scim_id(scim_id)
        assert group is not None
        await world.admin.delete_group(group.det_id)

    report = await (
        await build_reconciler(bounded(world, max_retire=2).settings, world.store, world.bridge)
    ).run(Mode.REPAIR)
    assert not report.refused
    assert len(report.repaired) == 2
    for scim_id in scim_ids[:2]:
        group = await world.store.get_group_by_scim_id(scim_id)
        assert group is not None
        assert [u.id for u in (await world.admin.get_group(group.det_id)).users] == [user.det_id]


async def test_resolution_within_the_bound_recreates_and_counts_each_group_once(world: World) -> None:
    """One group deleted by hand with two PATCHes pending (a retried request) is one re-creation: allowed under
    max_retire 1, which a count of two would refuse."""
    world = bounded(world, max_retire=1, max_retire_fraction=1.0)
    [scim_id, _other] = await _groups_with_a_patch_pending(world, 2)
    group = await world.store.get_group_by_scim_id(scim_id)
    assert group is not None
    await _intent(world, "patch", "Group", scim_id, {"name": "renamed", "add": [], "remove": []})
    await world.admin.delete_group(group.det_id)

    settled = await build_intent_resolver(
        world.settings, world.store, world.bridge, path="test"
    ).resolve_all()
    assert settled.refusal is None
    assert await world.store.pending_intents() == []
    relinked = await world.store.get_group_by_scim_id(scim_id)
    assert relinked is not None
    assert relinked.det_id != group.det_id
    assert (await world.admin.get_group(relinked.det_id)).name == "team0"


async def test_resolution_past_the_count_resolves_nothing(world: World) -> None:
    """Two of three groups gone with max_retire 1: no intent is resolved, not even the third group's (whose
    restore would only write to the same suspect master)."""
    world = bounded(world, max_retire=1, max_retire_fraction=1.0)
    scim_ids = await _groups_with_a_patch_pending(world)
    for scim_id in scim_ids[:2]:
        group = await world.store.get_group_by_scim_id(scim_id)
        assert group is not None
        await world.admin.delete_group(group.det_id)
    mapping = await _mapping(world)

    refused = await build_intent_resolver(
        world.settings, world.store, world.bridge, path="test"
    ).resolve_all()
    assert refused.outcomes == ()
    assert refused.refusal is not None
    assert (refused.refusal.resource, refused.refusal.missing, refused.refusal.mapped) == ("Group", 2, GROUPS)
    assert await _mapping(world) == mapping
    assert [g.name async for g in world.admin.iter_groups()] == ["team2"]


async def test_a_lone_resolve_never_recreates_what_no_guard_counted(world: World, wrong: WrongMaster) -> None:
    """Only a run's count lets a restore re-create a group: resolving one intent by itself fails as a master
    failure does, before writing anything (resolve_all defers such an intent to its next run)."""
    [scim_id] = await _groups_with_a_patch_pending(world, 1)
    [intent] = await world.store.pending_intents()
    before = await wrong.view.state()
    resolver = build_intent_resolver(world.settings, world.store, wrong.client, path="test")
    with pytest.raises(Unrepairable):
        await resolver.resolve(intent)
    assert await wrong.view.state() == before
    stored = await world.store.get_intent(intent.id)
    assert stored is not None
    assert stored.state is IntentState.PENDING
    assert await world.store.get_group_by_scim_id(scim_id) is not None
