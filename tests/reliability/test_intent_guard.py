"""Background intent resolution is held to the mass-retirement guard a repair pass is held to.

Completing a pending user DELETE whose Determined user the master says it lacks retires the mapping. A bridge that
died with such deletes pending (an outage while the IdP deprovisioned people) and restarts pointed at a wrong but
healthy master (here a second, fresh emulator) is told "user not found" for every one of them. Start-up and the
background loop between passes must then resolve none of them, as a pass would refuse to retire them. The app's
reconcile context on a socket, both emulators over HTTP and the SQLite store are real.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from bridge.reconcile import build_intent_resolver
from bridge.reconcile.repair import Unrepairable
from bridge.store import IntentState, UserFields, UserRecord
from tests.conftest import LogReader
from tests.idp.master_view import MasterState
from tests.polling import until
from tests.reliability.conftest import ADMIN_PASSWORD, World, WrongMaster, bounded
from tests.reliability.test_intents import _intent, _user_delete

USERS = 3


async def _delete_pending(world: World, user: UserRecord) -> int:
    """The intent a user DELETE journals before deactivating the user on the master (then the crash)."""
    return await _user_delete(world, user.scim_id)


async def _ghosts(world: World, *names: str) -> list[UserRecord]:
    """Stale mappings: users in the store whose Determined ids no master has."""
    return [
        await world.store.insert_user(
            scim_id=str(uuid.uuid4()),
            det_id=987_000 + i,
            fields=UserFields(name, None, None, True, {"userName": name, "active": True}),
        )
        for i, name in enumerate(names)
    ]


async def _deprovisioned_in_an_outage(world: World, count: int = USERS) -> tuple[list[UserRecord], str]:
    """`count` users in one group, each with a DELETE pending; the group's SCIM id."""
    users = [await world.user(f"user{i}") for i in range(count)]
    group = await world.group("team", users)
    for user in users:
        await _delete_pending(world, user)
    return users, group


async def _mapping(world: World, group: str) -> tuple[object, ...]:
    """The whole mapping table as the IdP sees it, and the journal: live users, tombstones, members, intents."""
    records = await world.store.all_users(include_tombstoned=True)
    return (
        sorted((r.scim_id, r.det_id, r.tombstoned_at is None) for r in records),
        sorted(m.member_scim_id for m in await world.store.list_members(group)),
        [(i.id, i.state) for i in await world.store.pending_intents()],
    )


def _refusals(captured_logs: LogReader) -> list[dict[str, Any]]:
    return [e for e in captured_logs() if e.get("event") == "reconcile.retire_refused"]


async def _unchanged(
    world: World, group: str, mapping: tuple[object, ...], wrong: WrongMaster, before: MasterState
) -> None:
    assert await _mapping(world, group) == mapping
    assert await wrong.view.state() == before


async def test_start_up_resolves_no_delete_that_would_retire_more_than_the_guard_allows(
    world: World, wrong: WrongMaster, aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    """Before the fix start-up completed all three deletes against the wrong master: every mapping tombstoned."""
    world = bounded(world, max_retire=USERS - 1, adopt_on_start=True)
    _users, group = await _deprovisioned_in_an_outage(world)
    mapping, before = await _mapping(world, group), await wrong.view.state()

    # Returns once start-up resolution has run (a cleanup_ctx, before the listener opens).
    server = await world.serve_reconciling(aiohttp_server, master=wrong.client)
    try:
        await _unchanged(world, group, mapping, wrong, before)
        [first, *_again] = _refusals(captured_logs)
        assert {k: first[k] for k in ("level", "path", "missing", "users_checked", "bound")} == {
            "level": "error",
            "path": "startup",
            "missing": USERS,
            "users_checked": USERS,
            "bound": "reconcile.max_retire",
        }
        assert (first["max_retire"], first["max_retire_fraction"]) == (USERS - 1, 0.25)
        events = [e["event"] for e in captured_logs()]
        assert "reconcile.intent_resolved" not in events
        # Left pending, the previous process's intents are not settled: adoption against this master waits too.
        assert "adoption.skipped" in events
        assert "adoption.report" not in events
        assert ADMIN_PASSWORD not in captured_logs.raw()
    finally:
        await server.close()
    await _unchanged(world, group, mapping, wrong, before)


async def test_the_background_loop_between_passes_refuses_too(
    world: World, wrong: WrongMaster, aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    """Intents of requests answered 503 after start-up, past reconcile.intent_grace, are the background loop's
    (no full pass runs: reconcile.interval is 0). Before the fix it completed all three deletes.

    `max_retire: 0` (refuse any) makes every run refuse whichever of the three intents are past the grace when it
    looks; the loop keeps refusing until it has seen all three."""
    world = bounded(world, intent_grace=0.2, max_retire=0)
    users = [await world.user(f"user{i}") for i in range(USERS)]
    group = await world.group("team", users)
    server = await world.serve_reconciling(aiohttp_server, master=wrong.client)
    try:
        for user in users:
            await _delete_pending(world, user)
        mapping, before = await _mapping(world, group), await wrong.view.state()

        async def refused_all_or_resolved() -> bool:
            # Resolved (the bug) ends the wait too, so _unchanged reports it at once.
            refused = any(r["missing"] == USERS for r in _refusals(captured_logs))
            return refused or not await world.store.pending_intents()

        await until(
            refused_all_or_resolved, "the background loop neither refused all three nor resolved them"
        )
        await _unchanged(world, group, mapping, wrong, before)
        [last, *_earlier] = reversed(_refusals(captured_logs))
        assert (last["path"], last["missing"], last["users_checked"], last["bound"], last["max_retire"]) == (
            "background",
            USERS,
            USERS,
            "reconcile.max_retire",
            0,
        )
    finally:
        await server.close()
    await _unchanged(world, group, mapping, wrong, before)


async def test_at_the_bound_start_up_retires_and_resolves_the_rest_as_before(
    world: World, aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    """Two ghosts (stale mappings) among eight live users with a DELETE pending each is at both bounds (2, a
    quarter of 8): both deletes complete, and an unrelated interrupted PATCH is rolled back on the master."""
    world = bounded(world, max_retire=2)
    alice, *_others = [await world.user(f"user{i}") for i in range(6)]
    ghosts = await _ghosts(world, "ghost0", "ghost1")
    for ghost in ghosts:
        await _delete_pending(world, ghost)
    await _intent(world, "patch", "User", alice.scim_id, {"det_id": alice.det_id, "active": False})
    await world.bridge.patch_user(alice.det_id, active=False)  # the PATCH landed; then the crash

    server = await world.serve_reconciling(aiohttp_server)
    try:
        assert _refusals(captured_logs) == []
        assert await world.store.pending_intents() == []
        for ghost in ghosts:
            assert await world.store.get_user_by_scim_id(ghost.scim_id) is None
            assert await world.store.get_user_by_scim_id(ghost.scim_id, include_tombstoned=True) is not None
        assert (await world.admin.get_user(alice.det_id)).active is True
    finally:
        await server.close()


async def test_the_count_is_of_mappings_the_deletes_would_retire(world: World) -> None:
    """Counted as a pass counts: a retried DELETE (two intents) is one mapping, a DELETE that landed (the user
    inactive) is no retirement, nor is a PATCH of a ghost. With max_retire 1 all of it resolves; any of them
    miscounted would refuse the whole run."""
    world = bounded(world, max_retire=1, max_retire_fraction=1.0)
    kept = await world.user("kept")
    deleted = await world.user("deleted")
    ghost, stale = await _ghosts(world, "ghost", "stale")
    await _delete_pending(world, ghost)
    await _delete_pending(world, ghost)  # the IdP's retry, journalled again before its own crash
    await _delete_pending(world, deleted)
    await world.bridge.patch_user(deleted.det_id, active=False)  # that delete landed
    await _intent(world, "patch", "User", stale.scim_id, {"det_id": stale.det_id, "active": False})

    settled = await build_intent_resolver(
        world.settings, world.store, world.bridge, path="test"
    ).resolve_all()
    assert settled.refusal is None
    assert sorted(o.resolution.value for o in settled.outcomes) == ["completed"] * 3 + ["rolled_back"]
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is None
    assert await world.store.get_user_by_scim_id(deleted.scim_id) is None
    assert await world.store.get_user_by_scim_id(stale.scim_id) is not None  # a PATCH never retires
    assert await world.store.get_user_by_scim_id(kept.scim_id) is not None


async def test_over_the_bound_no_intent_is_resolved_and_the_override_resolves_them(world: World) -> None:
    """A refusal leaves every due intent pending, not only the deletes: the same suspect master would judge the
    others (a create rolled back because it lacks the user would let the IdP's retry make a second one on the
    right master). --allow-mass-retire's guard resolves them all."""
    world = bounded(world, max_retire=1, max_retire_fraction=1.0)
    await world.user("kept")
    ghosts = await _ghosts(world, "ghost0", "ghost1")
    for ghost in ghosts:
        await _delete_pending(world, ghost)
    created = str(uuid.uuid4())
    await _intent(world, "create", "User", created, {"username": "late", "active": True, "remote": True})
    pending = [(i.id, i.state) for i in await world.store.pending_intents()]

    refused = await build_intent_resolver(
        world.settings, world.store, world.bridge, path="test"
    ).resolve_all()
    assert refused.outcomes == ()
    assert refused.refusal is not None
    assert (refused.refusal.missing, refused.refusal.mapped, refused.refusal.setting) == (
        2,
        3,
        "reconcile.max_retire",
    )
    assert [(i.id, i.state) for i in await world.store.pending_intents()] == pending
    assert all([await world.store.get_user_by_scim_id(g.scim_id) is not None for g in ghosts])

    allowed = build_intent_resolver(
        world.settings, world.store, world.bridge, path="test", allow_mass_retire=True
    )
    settled = await allowed.resolve_all()
    assert settled.refusal is None
    assert sorted(o.resolution.value for o in settled.outcomes) == ["completed", "completed", "rolled_back"]
    assert await world.store.pending_intents() == []
    assert all([await world.store.get_user_by_scim_id(g.scim_id) is None for g in ghosts])


async def test_a_lone_resolve_never_retires_what_no_guard_counted(world: World) -> None:
    """Only a run's count lets a delete retire its mapping: resolving one intent by itself fails as a master
    failure does (resolve_all defers such an intent to its next run)."""
    ghost = await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=987_654,
        fields=UserFields("ghost", None, None, True, {"userName": "ghost", "active": True}),
    )
    intent = await world.store.get_intent(await _delete_pending(world, ghost))
    assert intent is not None
    resolver = build_intent_resolver(world.settings, world.store, world.bridge, path="test")
    with pytest.raises(Unrepairable):
        await resolver.resolve(intent)
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is not None
    stored = await world.store.get_intent(intent.id)
    assert stored is not None
    assert stored.state is IntentState.PENDING
