"""A user is gone for reconcile only on the master's own "user not found" for its id, as a group is only on the
master's own "no such group": any other 404 (a proxy's page, a wrong path's) fails that repair or defers that
intent instead of being read as "gone". The emulator over HTTP with a fault proxy in front, SQLite in tmp_path.
"""

from __future__ import annotations

import re
import uuid

import pytest

from bridge.determined import MasterNotFound
from bridge.reconcile import Mode, Resolution, build_intent_resolver, build_reconciler
from bridge.reconcile.drift import DriftKind
from bridge.reconcile.recreate import GroupRecreator
from bridge.reconcile.shadow import ShadowClient
from tests.conftest import LogReader
from tests.provisioning.faults import PROXY_404, Rule
from tests.reliability.conftest import Proxied, World
from tests.reliability.test_intents import _intent

USER_GET = r"/api/v1/users/\d+"
USER_BY_NAME = r"/api/v1/users/[^/]+/by-username"
GROUPS = r"/api/v1/groups"
# No Determined user has this id: the emulator holds a handful.
LOST_DET_ID = 987_654


def _foreign_user_404s(proxied: Proxied) -> None:
    """Every GET of one user answered by something other than the master; listings still reach it."""
    proxied.proxy.rules.append(Rule("GET", USER_GET, status=404, text=PROXY_404, times=100))


async def test_only_the_masters_user_not_found_reads_as_no_such_user(world: World, proxied: Proxied) -> None:
    """The emulator answers an unknown id or name as the master does (`user not found`), which the client
    recognises; a proxy's 404 on the same routes is not that answer. Before the fix the by-name lookup read the
    proxy's 404 as "no such user" (bootstrap then tried to create the bridge's account a second time)."""
    with pytest.raises(MasterNotFound) as gone:
        await world.admin.get_user(9999)
    assert gone.value.is_unknown_user()
    assert not gone.value.is_unknown_group()
    assert await world.admin.get_user_by_username("nobody") is None
    alice = await world.user("alice")
    _foreign_user_404s(proxied)
    proxied.proxy.rules.append(Rule("GET", USER_BY_NAME, status=404, text=PROXY_404))
    with pytest.raises(MasterNotFound) as elsewhere:
        await proxied.client.get_user(alice.det_id)
    assert not elsewhere.value.is_unknown_user()
    with pytest.raises(MasterNotFound) as by_name:
        await proxied.client.get_user_by_username("alice")
    assert by_name.value.message == PROXY_404


async def test_a_shadow_bridge_passes_a_proxys_404_for_a_member_on_as_it_came(
    world: World, proxied: Proxied
) -> None:
    """The overlay refuses a group write naming a user the master lacks in the master's words; before the fix a
    proxy's 404 for the member came out as that refusal (`user(s) not found`), which the bridge then takes for a
    stale mapping to retire."""
    alice = await world.user("alice")
    _foreign_user_404s(proxied)
    with pytest.raises(MasterNotFound) as elsewhere:
        await ShadowClient(proxied.client).create_group("team", [alice.det_id])
    assert elsewhere.value.message == PROXY_404
    assert [g.name async for g in world.admin.iter_groups()] == []


async def test_a_proxys_404_fails_the_user_repairs_instead_of_skipping_them_as_gone(
    world: World, proxied: Proxied, captured_logs: LogReader
) -> None:
    """The sweep (a listing) finds a live user deactivated and a deleted one reactivated behind the bridge's back;
    each repair re-reads its user first. Before the fix the proxy's 404 read as "gone since the sweep": both
    repairs were skipped (`reconcile.repair_skipped`, reason gone) and the pass reported nothing failed, leaving a
    deleted user able to log in. Now both fail, and a pass through the master itself repairs them."""
    alice = await world.user("alice")
    erin = await world.user("erin")
    await world.bridge.patch_user(erin.det_id, active=False)
    await world.store.tombstone_user(erin.scim_id)  # deleted by the IdP
    await world.admin.patch_user(alice.det_id, active=False)
    await world.admin.patch_user(erin.det_id, active=True)
    _foreign_user_404s(proxied)

    report = await (await build_reconciler(world.settings, world.store, proxied.client)).run(Mode.REPAIR)
    assert {d.kind for d in report.failed} == {DriftKind.USER_DEACTIVATED, DriftKind.USER_REACTIVATED}
    assert (report.repaired, report.skipped_busy) == ((), ())
    failed = [e for e in captured_logs() if e.get("event") == "reconcile.repair_failed"]
    assert {e["error"] for e in failed} == {"MasterNotFound"}
    assert (await world.admin.get_user(erin.det_id)).active is True

    repaired = await (await world.reconciler()).run(Mode.REPAIR)
    assert {d.kind for d in repaired.repaired} == {DriftKind.USER_DEACTIVATED, DriftKind.USER_REACTIVATED}
    assert (await world.admin.get_user(alice.det_id)).active is True
    assert (await world.admin.get_user(erin.det_id)).active is False


async def test_a_proxys_404_defers_a_user_restore_instead_of_rolling_it_back_unrestored(
    world: World, proxied: Proxied, captured_logs: LogReader
) -> None:
    """An interrupted PATCH deactivated the user on the master; the store still says active. Before the fix the
    proxy's 404 made the restore see user.missing, which a restore leaves to a pass: the intent was rolled back
    with nothing restored, and the user stayed deactivated for good. Now it waits for a master that answers."""
    alice = await world.user("alice")
    await _intent(world, "patch", "User", alice.scim_id, {"det_id": alice.det_id, "active": False})
    await world.bridge.patch_user(alice.det_id, active=False)  # landed; then the crash
    _foreign_user_404s(proxied)

    resolver = build_intent_resolver(world.settings, world.store, proxied.client, path="test")
    [outcome] = (await resolver.resolve_all()).outcomes
    assert outcome.resolution is Resolution.DEFERRED
    [deferred] = [e for e in captured_logs() if e.get("event") == "reconcile.intent_deferred"]
    assert (deferred["resource_type"], deferred["error"]) == ("User", "MasterNotFound")
    assert len(await world.store.pending_intents()) == 1

    [restored] = (
        await build_intent_resolver(world.settings, world.store, world.bridge, path="test").resolve_all()
    ).outcomes
    assert (restored.resolution, restored.master_actions) == (Resolution.ROLLED_BACK, ("user.deactivated",))
    assert (await world.admin.get_user(alice.det_id)).active is True


async def test_a_proxys_404_defers_undoing_a_relink_instead_of_leaving_the_user_revived(
    world: World, proxied: Proxied
) -> None:
    """An interrupted relink reactivated a deleted user's Determined account. Before the fix the proxy's 404 made
    the undo find no such user: rolled back, and the account the IdP deleted stayed active."""
    erin = await world.user("erin")
    await world.bridge.patch_user(erin.det_id, active=False)
    await world.store.tombstone_user(erin.scim_id)
    await _intent(world, "relink", "User", str(uuid.uuid4()), {"det_id": erin.det_id, "username": "erin"})
    await world.bridge.patch_user(erin.det_id, active=True)  # the relink's master write; then the crash
    _foreign_user_404s(proxied)

    resolver = build_intent_resolver(world.settings, world.store, proxied.client, path="test")
    [outcome] = (await resolver.resolve_all()).outcomes
    assert outcome.resolution is Resolution.DEFERRED
    assert (await world.admin.get_user(erin.det_id)).active is True

    [undone] = (
        await build_intent_resolver(world.settings, world.store, world.bridge, path="test").resolve_all()
    ).outcomes
    assert (undone.resolution, undone.master_actions) == (
        Resolution.ROLLED_BACK,
        (f"user.deactivate:{erin.det_id}",),
    )
    assert (await world.admin.get_user(erin.det_id)).active is False


@pytest.mark.parametrize(
    "faults",
    [
        # The create itself answered by a proxy, every member on the master: nothing says a member is gone.
        [Rule("POST", GROUPS, status=404, text=PROXY_404)],
        # The master's own 404 for a member it lacks, but the probes of the members answered by a proxy.
        [Rule("GET", USER_GET, status=404, text=PROXY_404, times=100)],
    ],
    ids=["proxy-404-on-create", "proxy-404-on-probes"],
)
async def test_a_recreated_group_drops_only_members_the_master_itself_says_it_lacks(
    world: World, proxied: Proxied, faults: list[Rule]
) -> None:
    """A re-create refused with the master's own 404 for an added user it lacks (is_unknown_member) is retried
    without the members the master says it has no user for (stale.missing_users: its own "user not found", or a
    listing without them). A proxy's 404, on the create or on a probe, names no member: the re-create fails as
    it came, no group is made and no member is dropped. A proxy's 404 on the create asks about no member:
    before the fix any 404 there did (one GET per member, up to stale.PROBE_GETS, else a listing)."""
    alice = await world.user("alice")
    bob = await world.user("bob")
    group = await world.group("ops", [alice, bob])
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    await world.admin.delete_group(record.det_id)
    on_create = faults[0].method == "POST"
    members = [alice.det_id, bob.det_id] if on_create else [alice.det_id, bob.det_id, LOST_DET_ID]
    proxied.proxy.rules.extend(faults)
    recreator = GroupRecreator(world.store, proxied.client, recreatable={group})
    with pytest.raises(MasterNotFound):
        await recreator.recreate(record, members)
    probes = [s for s in proxied.proxy.seen if re.fullmatch(r"GET /api/v1/users/\d+", s)]
    assert len(probes) == (0 if on_create else len(members))
    assert [g.name async for g in world.admin.iter_groups()] == []
    moved = await world.store.get_group_by_scim_id(group)
    assert moved is not None
    assert moved.det_id == record.det_id
