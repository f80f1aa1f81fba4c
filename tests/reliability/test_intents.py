"""Pending intents (a bridge that died between the master write and the store write) are resolved by asking
the master, at start-up and later; the journal entries are made exactly as provisioning makes them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pytest_aiohttp import AiohttpServer

from bridge.determined import calls_made, start_counting
from bridge.provisioning.consistency import digest
from bridge.reconcile import IntentResolver, Resolution, background, build_intent_resolver
from bridge.store import IntentState, MemberRecord, UserFields
from tests.polling import until
from tests.reliability.conftest import World


async def _nothing_pending(world: World) -> bool:
    return not await world.store.pending_intents()


def _resolver(world: World) -> IntentResolver:
    return build_intent_resolver(world.settings, world.store, world.bridge, path="test")


async def _intent(world: World, operation: str, resource_type: str, target: str, payload: object) -> int:
    return await world.store.begin_intent(
        request_id="req-crashed",
        operation=operation,
        resource_type=resource_type,
        target=target,
        payload_digest=digest(payload),
    )


async def _user_delete(world: World, scim_id: str) -> int:
    """A user delete journalled as provisioning journals it, from the mapping as it stands."""
    record = await world.store.get_user_by_scim_id(scim_id)
    assert record is not None
    groups = [g.det_id for g in await world.store.groups_of_member(scim_id)]
    return await _intent(
        world,
        "delete",
        "User",
        scim_id,
        {"det_id": record.det_id, "groups": groups, "version": record.version},
    )


async def test_interrupted_user_create_is_completed_under_the_minted_id(world: World) -> None:
    scim_id = str(uuid.uuid4())
    intent = await _intent(
        world, "create", "User", scim_id, {"username": "zoe", "active": True, "remote": True}
    )
    created = await world.bridge.create_user("zoe", "Zoe", True)  # the master write landed; then the crash
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.COMPLETED
    record = await world.store.get_user_by_user_name("zoe")
    assert record is not None
    assert (record.scim_id, record.det_id, record.active) == (scim_id, created.id, True)
    stored = await world.store.get_intent(intent)
    assert stored is not None
    assert stored.state is IntentState.DONE
    assert await world.store.check() == []


async def test_interrupted_create_that_never_reached_the_master_is_rolled_back(world: World) -> None:
    scim_id = str(uuid.uuid4())
    await world.bridge.create_user("other", "Other", True)  # an unrelated unmapped user must not be taken
    await _intent(world, "create", "User", scim_id, {"username": "yan", "active": True, "remote": True})
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.ROLLED_BACK
    assert await world.store.get_user_by_scim_id(scim_id) is None
    assert await world.store.get_user_by_user_name("other") is None
    assert await world.store.pending_intents() == []


async def test_interrupted_patch_is_rolled_back_on_the_master(world: World) -> None:
    alice = await world.user("alice")
    await _intent(
        world, "patch", "User", alice.scim_id, {"det_id": alice.det_id, "username": "alice", "active": False}
    )
    await world.bridge.patch_user(alice.det_id, active=False)  # landed; the store still says active
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.ROLLED_BACK
    assert outcome.master_actions == ("user.deactivated",)
    assert (await world.admin.get_user(alice.det_id)).active is True


async def test_interrupted_user_delete_completes_if_the_master_shows_it(world: World) -> None:
    gone, kept = await world.user("gone"), await world.user("kept")
    group = await world.group("team", [gone, kept])
    await _user_delete(world, gone.scim_id)
    await _user_delete(world, kept.scim_id)
    await world.bridge.patch_user(gone.det_id, active=False)  # only the first delete reached the master
    outcomes = (await _resolver(world).resolve_all()).outcomes
    assert {o.target: o.resolution for o in outcomes} == {
        gone.scim_id: Resolution.COMPLETED,
        kept.scim_id: Resolution.ROLLED_BACK,
    }
    assert await world.store.get_user_by_scim_id(gone.scim_id) is None
    assert await world.store.get_user_by_scim_id(kept.scim_id) is not None
    assert [m.member_scim_id for m in await world.store.list_members(group)] == [kept.scim_id]
    assert (await world.admin.get_user(kept.det_id)).active is True
    # The crashed delete had not yet taken `gone` out of its groups on the master: resolution did.
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    assert {u.id for u in (await world.admin.get_group(record.det_id)).users} == {kept.det_id}


async def test_interrupted_delete_of_a_user_gone_from_the_master_completes(world: World) -> None:
    kept = await world.user("kept")
    group = await world.group("team", [kept])
    # A stale mapping (user.missing): its Determined user is gone, so the master has nothing to change.
    ghost = await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=987_654,
        fields=UserFields("ghost", None, "Ghost", True, {"userName": "ghost", "active": True}),
    )
    await world.store.add_members(group, [MemberRecord(ghost.scim_id, display="Ghost")])
    await _user_delete(world, ghost.scim_id)
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.COMPLETED
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is None
    assert [m.member_scim_id for m in await world.store.list_members(group)] == [kept.scim_id]
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    assert {u.id for u in (await world.admin.get_group(record.det_id)).users} == {kept.det_id}
    assert await world.store.pending_intents() == []


async def test_interrupted_group_delete_completes_if_the_master_shows_it(world: World) -> None:
    group = await world.group("doomed")
    record = await world.store.get_group_by_scim_id(group)
    assert record is not None
    await _intent(world, "delete", "Group", group, {"det_id": record.det_id})
    await world.bridge.delete_group(record.det_id)
    [outcome] = (await _resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.COMPLETED
    assert await world.store.get_group_by_scim_id(group) is None


async def test_young_intents_are_left_to_their_request(world: World) -> None:
    alice = await world.user("alice")
    await _intent(world, "patch", "User", alice.scim_id, {"det_id": alice.det_id})
    cutoff = datetime.now(UTC) - timedelta(minutes=2)
    assert (await _resolver(world).resolve_all(created_before=cutoff)).outcomes == ()
    assert len(await world.store.pending_intents()) == 1


async def test_start_up_resolves_leftover_intents_before_serving(
    world: World, aiohttp_server: AiohttpServer
) -> None:
    scim_id = str(uuid.uuid4())
    await _intent(world, "create", "User", scim_id, {"username": "late", "active": True, "remote": True})
    await world.bridge.create_user("late", "Late", True)
    server = await world.serve_reconciling(aiohttp_server)
    try:
        assert await world.store.pending_intents() == []
        record = await world.store.get_user_by_scim_id(scim_id)
        assert record is not None
        assert record.user_name == "late"
    finally:
        await server.close()


async def test_an_old_intent_waits_while_a_newer_request_on_the_same_target_is_in_flight(
    world: World,
) -> None:
    """Rolling back the old intent now would undo the in-flight request's master write before it records it."""
    alice = await world.user("alice")
    old = await _intent(world, "patch", "User", alice.scim_id, {"det_id": alice.det_id, "active": False})
    # A newer request on alice: its master write landed, its store write has not happened yet.
    await _user_delete(world, alice.scim_id)
    await world.bridge.patch_user(alice.det_id, active=False)
    old_record = await world.store.get_intent(old)
    assert old_record is not None
    outcome = await _resolver(world).resolve(old_record)
    assert outcome.resolution is Resolution.DEFERRED
    assert (await world.admin.get_user(alice.det_id)).active is False
    assert len(await world.store.pending_intents()) == 2


async def test_older_updates_of_a_target_the_pass_restored_cost_no_master_call(world: World) -> None:
    """Many pending updates of one user (a bridge that died during a master outage): one restore settles them."""
    alice = await world.user("alice")
    for _ in range(5):
        await _intent(world, "patch", "User", alice.scim_id, {"det_id": alice.det_id, "active": False})
    await world.bridge.patch_user(alice.det_id, active=False)  # one of them landed
    start_counting()
    outcomes = (await _resolver(world).resolve_all()).outcomes
    calls_for_all = calls_made()
    assert [o.resolution for o in outcomes] == [Resolution.ROLLED_BACK] * 5
    assert [o.master_actions for o in outcomes] == [("user.deactivated",), (), (), (), ()]
    assert (await world.admin.get_user(alice.det_id)).active is True
    assert await world.store.pending_intents() == []
    # The same pass over a single intent costs what the five cost together.
    await _intent(world, "patch", "User", alice.scim_id, {"det_id": alice.det_id, "active": False})
    await world.bridge.patch_user(alice.det_id, active=False)
    start_counting()
    await _resolver(world).resolve_all()
    assert calls_made() == calls_for_all


async def test_a_pass_stops_at_its_deadline_and_leaves_the_rest_pending(world: World) -> None:
    alice = await world.user("alice")
    await _intent(world, "patch", "User", alice.scim_id, {"det_id": alice.det_id})
    assert (await _resolver(world).resolve_all(deadline=time.monotonic())).outcomes == ()
    assert len(await world.store.pending_intents()) == 1


async def test_leftovers_the_start_up_budget_missed_are_resolved_in_the_background(
    world: World, aiohttp_server: AiohttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listener opens after START_BUDGET whatever is pending; the background task finishes the job."""
    monkeypatch.setattr(background, "START_BUDGET", 0.0)
    scim_id = str(uuid.uuid4())
    await _intent(world, "create", "User", scim_id, {"username": "late", "active": True, "remote": True})
    await world.bridge.create_user("late", "Late", True)
    server = await world.serve_reconciling(aiohttp_server)
    try:
        await until(
            lambda: _nothing_pending(world), "the background task left intents pending", polls=200, every=0.05
        )
        assert await world.store.pending_intents() == []
        record = await world.store.get_user_by_scim_id(scim_id)
        assert record is not None
        assert record.user_name == "late"
    finally:
        await server.close()
