"""Group intents and the retirement guard: a pending group DELETE forgets its mapping only on the master's own "no
such group" and within the bound a pass is held to, and a group the master cannot answer for holds back only its
own intents. Both emulators over HTTP (a fault proxy in front where a fault is needed), the app's reconcile
context on a socket and the SQLite store are real.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from bridge.commands.adopt import run_adopt
from bridge.determined import MasterNotFound
from bridge.reconcile import Mode, Resolution, RetireGuard, build_intent_resolver, build_reconciler
from bridge.reconcile.guard import GROUPS as GROUPS_RESOURCE
from bridge.reconcile.repair import Unrepairable
from bridge.reconcile.shadow import ShadowClient
from bridge.store import IntentState
from tests.conftest import LogReader
from tests.provisioning.faults import PROXY_404, Rule
from tests.reliability.conftest import Proxied, World, WrongMaster, bounded
from tests.reliability.test_intents import _intent

GROUPS = 3
GROUP_GET = r"/api/v1/groups/\d+"


async def _det_id(world: World, scim_id: str) -> int:
    record = await world.store.get_group_by_scim_id(scim_id)
    assert record is not None
    return record.det_id


async def _delete_pending(world: World, scim_id: str) -> int:
    """The intent a group DELETE journals before its master call (then the crash or the 503)."""
    return await _intent(world, "delete", "Group", scim_id, {"det_id": await _det_id(world, scim_id)})


async def _mappings(world: World) -> list[tuple[str, int, str]]:
    _total, records = await world.store.list_groups("1=1", [], limit=500)
    return sorted((r.scim_id, r.det_id, r.display_name) for r in records)


def _refusals(captured_logs: LogReader) -> list[dict[str, Any]]:
    return [e for e in captured_logs() if e.get("event") == "reconcile.retire_refused"]


async def test_the_emulator_says_no_such_group_as_the_master_does(world: World, proxied: Proxied) -> None:
    """GetGroup, UpdateGroup, DeleteGroup and a one-group assignments call for an unknown group answer the
    master's own texts (master usergroup GroupByIDTx, DeleteGroup, ModifiableGroupsTx), which the client
    recognises; a proxy's 404 on the same route is not that answer."""
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: world.admin.get_group(99),
        lambda: world.admin.change_group(99, name="renamed"),
        lambda: world.admin.delete_group(99),
        lambda: world.admin.add_to_groups([1], [99]),
    ]
    texts = []
    for call in calls:
        with pytest.raises(MasterNotFound) as gone:
            await call()
        assert gone.value.is_unknown_group()
        assert not gone.value.is_unknown_user()
        texts.append((gone.value.grpc_code, gone.value.reason, gone.value.message))
    assert texts == [
        (5, "NotFound", "Error getting group 99: not found"),
        (5, "NotFound", "Error getting group 99: not found"),
        (5, "NotFound", "Error deleting group 99: not found"),
        (5, "NotFound", "group does not exist or is a personal group: not found"),
    ]
    proxied.proxy.rules.append(Rule("GET", GROUP_GET, status=404, text=PROXY_404))
    with pytest.raises(MasterNotFound) as elsewhere:
        await proxied.client.get_group(99)
    assert not elsewhere.value.is_unknown_group()


async def test_start_up_forgets_no_group_past_the_bound_on_a_wrong_master(
    world: World, wrong: WrongMaster, aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    """Gap 1. Three group DELETEs pending, restarted against a fresh master that has none of the groups: a pass
    would refuse to re-create three, so start-up must not forget three. Before the fix the guard counted user
    deletes only, and start-up completed all three (every group mapping gone)."""
    world = bounded(world, max_retire=GROUPS - 1, adopt_on_start=True)
    scim_ids = [await world.group(f"team{i}") for i in range(GROUPS)]
    for scim_id in scim_ids:
        await _delete_pending(world, scim_id)
    mappings, before = await _mappings(world), await wrong.view.state()

    server = await world.serve_reconciling(aiohttp_server, master=wrong.client)
    try:
        assert await _mappings(world) == mappings
        assert len(await world.store.pending_intents()) == GROUPS
        [first, *_again] = _refusals(captured_logs)
        keys = ("path", "resource", "missing", "recreated", "forgotten", "groups_checked", "bound")
        assert {k: first[k] for k in keys} == {
            "path": "startup",
            "resource": "Group",
            "missing": GROUPS,
            "recreated": 0,
            "forgotten": GROUPS,
            "groups_checked": GROUPS,
            "bound": "reconcile.max_retire",
        }
        assert "reconcile.intent_resolved" not in [e["event"] for e in captured_logs()]
    finally:
        await server.close()
    assert await wrong.view.state() == before


async def test_group_deletes_and_restores_count_against_one_bound(world: World) -> None:
    """Gap 1. One group with a DELETE pending and another with a PATCH pending, both gone from the master:
    two groups a run would retire or re-create, past max_retire 1. Before the fix only the PATCH counted (1, so
    allowed): the DELETE's mapping was forgotten and the other group re-created. --allow-mass-retire does both."""
    world = bounded(world, max_retire=1, max_retire_fraction=1.0)
    doomed, patched = await world.group("doomed"), await world.group("patched")
    await _delete_pending(world, doomed)
    await _intent(world, "patch", "Group", patched, {"name": "renamed", "add": [], "remove": []})
    for scim_id in (doomed, patched):
        await world.admin.delete_group(await _det_id(world, scim_id))
    mappings = await _mappings(world)

    refused = await build_intent_resolver(
        world.settings, world.store, world.bridge, path="test"
    ).resolve_all()
    assert refused.outcomes == ()
    assert refused.refusal is not None
    assert (refused.refusal.resource, refused.refusal.missing, refused.refusal.mapped) == ("Group", 2, 2)
    assert await _mappings(world) == mappings
    assert [g.name async for g in world.admin.iter_groups()] == []

    allowed = build_intent_resolver(
        world.settings, world.store, world.bridge, path="test", allow_mass_retire=True
    )
    settled = await allowed.resolve_all()
    assert {o.target: o.resolution for o in settled.outcomes} == {
        doomed: Resolution.COMPLETED,
        patched: Resolution.ROLLED_BACK,
    }
    assert await world.store.get_group_by_scim_id(doomed) is None
    assert [g.name async for g in world.admin.iter_groups()] == ["patched"]


async def test_a_refusal_says_how_many_groups_it_would_forget_and_how_many_re_create(
    world: World, captured_logs: LogReader
) -> None:
    """Two groups with a DELETE pending, one with a PATCH, and one with a DELETE then a newer PATCH, all gone from
    the master: past max_retire 1. Before the fix `adopt` printed "4 mapped groups are gone and would be
    re-created", though the DELETEs would re-create nothing and forget two mappings. The counts are what the
    override then does: the newest intent of a group decides."""
    world = bounded(world, max_retire=1, intent_grace=0.0)
    doomed = [await world.group("doomed0"), await world.group("doomed1")]
    patched, both = await world.group("patched"), await world.group("both")
    for scim_id in (*doomed, both):
        await _delete_pending(world, scim_id)
    for scim_id in (patched, both):
        await _intent(world, "patch", "Group", scim_id, {"name": None, "add": [], "remove": []})
    for scim_id in (*doomed, patched, both):
        await world.admin.delete_group(await _det_id(world, scim_id))

    out = io.StringIO()
    assert await run_adopt(world.settings, out=out) == 1
    assert (
        "REFUSED: 4 mapped groups are gone: 2 would be re-created and 2 forgotten by pending DELETEs, more than "
        "reconcile.max_retire (1) in one pass; resolved no pending write intent." in out.getvalue()
    )
    [refused] = _refusals(captured_logs)
    assert {k: refused[k] for k in ("path", "resource", "missing", "recreated", "forgotten")} == {
        "path": "adopt",
        "resource": "Group",
        "missing": 4,
        "recreated": 2,
        "forgotten": 2,
    }

    allowed = build_intent_resolver(
        world.settings, world.store, world.bridge, path="test", allow_mass_retire=True
    )
    await allowed.resolve_all()
    assert sorted(r[2] for r in await _mappings(world)) == ["both", "patched"]
    assert sorted([g.name async for g in world.admin.iter_groups()]) == ["both", "patched"]


@pytest.mark.parametrize(
    ("forgotten", "found"),
    [
        (0, "3 mapped groups are gone and would be re-created"),
        (3, "3 mapped groups are gone and pending DELETEs would forget their mappings"),
        (1, "3 mapped groups are gone: 2 would be re-created and 1 forgotten by pending DELETEs"),
    ],
)
def test_the_refusal_names_only_what_would_happen(forgotten: int, found: str) -> None:
    refusal = RetireGuard(max_retire=1).refusal(3, 3, GROUPS_RESOURCE)
    assert refusal is not None
    assert dataclasses.replace(refusal, forgotten=forgotten).groups_found() == found


async def test_a_lone_resolve_never_forgets_a_group_no_guard_counted(world: World) -> None:
    """Gap 2. As for a user DELETE: only a run's count lets a group DELETE retire its mapping. Before the fix a
    lone `resolve` completed it on the master's word alone."""
    scim_id = await world.group("doomed")
    intent = await world.store.get_intent(await _delete_pending(world, scim_id))
    assert intent is not None
    await world.admin.delete_group(await _det_id(world, scim_id))
    resolver = build_intent_resolver(world.settings, world.store, world.bridge, path="test")
    with pytest.raises(Unrepairable):
        await resolver.resolve(intent)
    assert await world.store.get_group_by_scim_id(scim_id) is not None
    stored = await world.store.get_intent(intent.id)
    assert stored is not None
    assert stored.state is IntentState.PENDING
    # A run counts it (one of one group, which the share always allows) and completes it.
    [outcome] = (await resolver.resolve_all()).outcomes
    assert outcome.resolution is Resolution.COMPLETED
    assert await world.store.get_group_by_scim_id(scim_id) is None


async def test_a_proxys_404_forgets_no_group_and_fails_the_pass(world: World, proxied: Proxied) -> None:
    """Gap 3. Something other than the master answers 404 for every group GET. Before the fix resolution took
    that for "gone" and forgot the mapping of a group the master still has, and a pass reported it
    group.deleted (and would re-create it); now the DELETE's intent waits and the pass fails."""
    scim_id = await world.group("kept")
    await _delete_pending(world, scim_id)
    mappings = await _mappings(world)
    proxied.proxy.rules.append(Rule("GET", GROUP_GET, status=404, text=PROXY_404, times=100))

    resolver = build_intent_resolver(world.settings, world.store, proxied.client, path="test")
    [outcome] = (await resolver.resolve_all()).outcomes
    assert outcome.resolution is Resolution.DEFERRED
    assert await _mappings(world) == mappings
    assert len(await world.store.pending_intents()) == 1
    with pytest.raises(MasterNotFound):
        await (await build_reconciler(world.settings, world.store, proxied.client)).run(Mode.REPORT)
    assert [g.name async for g in world.admin.iter_groups()] == ["kept"]


async def test_a_failed_group_get_defers_only_that_groups_intents(
    world: World, proxied: Proxied, captured_logs: LogReader
) -> None:
    """Gap 4. The master fails the GET of one group: that group's PATCH waits, and the other group's PATCH and a
    user's PATCH are rolled back as usual. Before the fix the failure deferred the whole run (resolve_all
    raised, nothing resolved)."""
    alice = await world.user("alice")
    sick, healthy = await world.group("sick", [alice]), await world.group("healthy", [alice])
    sick_id, healthy_id = await _det_id(world, sick), await _det_id(world, healthy)
    for scim_id, det_id in ((sick, sick_id), (healthy, healthy_id)):
        await _intent(world, "patch", "Group", scim_id, {"name": None, "add": [], "remove": [alice.det_id]})
        await world.bridge.remove_from_groups([alice.det_id], [det_id])  # landed; then the crash
    await _intent(world, "patch", "User", alice.scim_id, {"det_id": alice.det_id, "active": False})
    await world.bridge.patch_user(alice.det_id, active=False)
    proxied.proxy.rules.append(Rule("GET", f"/api/v1/groups/{sick_id}", status=500, times=100))

    resolver = build_intent_resolver(world.settings, world.store, proxied.client, path="test")
    outcomes = (await resolver.resolve_all()).outcomes
    assert {o.target: o.resolution for o in outcomes} == {
        sick: Resolution.DEFERRED,
        healthy: Resolution.ROLLED_BACK,
        alice.scim_id: Resolution.ROLLED_BACK,
    }
    assert [u.id for u in (await world.admin.get_group(healthy_id)).users] == [alice.det_id]
    assert (await world.admin.get_user(alice.det_id)).active is True
    assert (await world.admin.get_group(sick_id)).users == ()
    [deferred] = [e for e in captured_logs() if e.get("event") == "reconcile.intent_deferred"]
    assert (deferred["resource_type"], deferred["error"]) == ("Group", "MasterInternal")
    assert [(i.resource_type, i.target) for i in await world.store.pending_intents()] == [("Group", sick)]

    # Once the master answers for it, the next run restores it too.
    [outcome] = (
        await build_intent_resolver(world.settings, world.store, world.bridge, path="test").resolve_all()
    ).outcomes
    assert (outcome.target, outcome.resolution) == (sick, Resolution.ROLLED_BACK)
    assert [u.id for u in (await world.admin.get_group(sick_id)).users] == [alice.det_id]


async def test_a_group_get_failing_midway_leaves_no_partial_listing_for_the_next_create(
    world: World, proxied: Proxied
) -> None:
    """Gap 4. Two interrupted group creates whose groups the master made; the GET of the first group fails once.
    The newer create (resolved first) waits; the older one still finds its group. Before the fix the listing
    cut short by the failure was kept for the rest of the run, so the older create was rolled back and its
    group left unmapped on the master."""
    first_id, second_id = str(uuid.uuid4()), str(uuid.uuid4())
    await _intent(world, "create", "Group", first_id, {"name": "first", "members": []})
    first = await world.bridge.create_group("first")  # landed; then the crash
    await _intent(world, "create", "Group", second_id, {"name": "second", "members": []})
    await world.bridge.create_group("second")
    proxied.proxy.rules.append(Rule("GET", f"/api/v1/groups/{first.id}", status=500, times=1))

    outcomes = (
        await build_intent_resolver(world.settings, world.store, proxied.client, path="test").resolve_all()
    ).outcomes
    assert {o.target: o.resolution for o in outcomes} == {
        second_id: Resolution.DEFERRED,
        first_id: Resolution.COMPLETED,
    }
    mapped = await world.store.get_group_by_scim_id(first_id)
    assert mapped is not None
    assert mapped.det_id == first.id


async def test_a_shadow_bridge_passes_a_proxys_404_on_as_it_came(world: World, proxied: Proxied) -> None:
    """Gap 3, shadow mode: the overlay answers a group it cannot read in the master's words ("no such group")
    only when the master said so. Before the fix a proxy's 404 for the group came out as the master's own
    `Error deleting group` / `group does not exist` 404, which the bridge then takes for a gone group."""
    scim_id = await world.group("team")
    det_id = await _det_id(world, scim_id)
    alice = await world.user("alice")
    with pytest.raises(MasterNotFound) as unknown:
        await ShadowClient(world.bridge).delete_group(det_id + 1)
    assert unknown.value.is_unknown_group()

    proxied.proxy.rules.append(Rule("GET", GROUP_GET, status=404, text=PROXY_404, times=100))
    shadow = ShadowClient(proxied.client)
    writes: list[Callable[[], Awaitable[None]]] = [
        lambda: shadow.delete_group(det_id),
        lambda: shadow.add_to_groups([alice.det_id], [det_id]),
    ]
    for write in writes:
        with pytest.raises(MasterNotFound) as elsewhere:
            await write()
        assert elsewhere.value.message == PROXY_404
        assert not elsewhere.value.is_unknown_group()
