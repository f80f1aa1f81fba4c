"""A member whose mapping points at a Determined user the master no longer has (a restored or foreign master
database): every group write that would add it answers RFC 7644 §3.12 400 invalidValue naming the member and
applies nothing to the group on either side, and it retires the stale mapping as a user write that finds its
Determined user gone does (tombstoned, out of every group in the store), so GET, listings and the IdP's
re-lookup by userName agree and the IdP's re-create provisions the user afresh.

The master answers such an add with a bare 500 on assignments and a 404 naming no one on create and
UpdateGroup (master usergroup AddUsersToGroupsTx; the emulator mirrors both); the bridge, the emulator over
HTTP and the SQLite store are real.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

from aiohttp import ClientResponse

from bridge.reconcile import DriftKind, Mode, build_reconciler
from bridge.store import MemberRecord, UserFields, UserRecord
from bridge.web.keys import MASTER, SETTINGS
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.faults import FaultProxy, Rule
from tests.provisioning.scim import GROUP_URN, call, create_group, create_user, patch, user_body

# No Determined user has this id: the seed master holds a handful.
LOST_DET_ID = 987_654


async def stale_user(
    world: World, user_name: str = "ghost@example.com", det_id: int = LOST_DET_ID
) -> UserRecord:
    """A live mapping whose Determined user is gone (what `scim-bridge reconcile` reports as user.missing)."""
    return await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=det_id,
        fields=UserFields(
            user_name=user_name,
            external_id=None,
            display_name="Ghost",
            active=True,
            doc={"userName": user_name, "displayName": "Ghost", "active": True},
        ),
    )


async def store_members(world: World, scim_id: str) -> set[str]:
    return {m.member_scim_id for m in await world.store.list_members(scim_id)}


async def assert_refused_naming(response: ClientResponse, ghost: UserRecord, logs: LogReader) -> None:
    """400 invalidValue naming the stale member, and one user.missing warning for it."""
    assert response.status == 400
    body = await response.json()
    assert body["scimType"] == "invalidValue"
    assert body["status"] == "400"
    assert ghost.scim_id in body["detail"]
    warnings = [e for e in logs() if e.get("event") == "group.member_missing_on_master"]
    assert [(e["kind"], e["scim_id"], e["det_id"], e["level"]) for e in warnings] == [
        ("user.missing", ghost.scim_id, LOST_DET_ID, "warning")
    ]


async def assert_mapping_left_for_the_operator(world: World, ghost: UserRecord) -> None:
    """The stale mapping stays, and reconciliation reports it exactly as before."""
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is not None
    settings = world.app[SETTINGS]
    reconciler = await build_reconciler(settings, world.store, world.app[MASTER])
    report = await reconciler.run(Mode.REPORT)
    assert [(d.kind, d.scim_id) for d in report.drifts] == [(DriftKind.USER_MISSING, ghost.scim_id)]


async def _drift_kinds(world: World) -> list[tuple[str, str | None]]:
    reconciler = await build_reconciler(world.app[SETTINGS], world.store, world.app[MASTER])
    return [(d.kind.value, d.scim_id) for d in (await reconciler.run(Mode.REPORT)).drifts]


async def assert_mapping_retired(
    world: World, ghost: UserRecord, logs: LogReader, operation: str, groups_left: list[str] | None = None
) -> None:
    """Retired as a user write retires it: a tombstone keeping its Determined id and attributes, out of every
    group in the store, 404 to GET and no match for the IdP's userName lookup; audited as the group write's
    error:400:user.missing, logged once as user.missing_on_master; reconciliation finds nothing left."""
    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 404
    lookup = await call(world, "GET", f'/Users?filter=userName eq "{ghost.user_name}"')
    assert (await lookup.json())["totalResults"] == 0
    tombstone = await world.store.get_user_by_scim_id(ghost.scim_id, include_tombstoned=True)
    assert tombstone is not None
    assert tombstone.tombstoned_at is not None
    assert (tombstone.det_id, tombstone.user_name, tombstone.doc["displayName"]) == (
        ghost.det_id,
        ghost.user_name,
        "Ghost",
    )
    assert await world.store.groups_of_member(ghost.scim_id) == []
    audits = [a for a in await world.store.recent_audit(1000) if a.resource_type == "Group"]
    assert [(a.operation, a.outcome) for a in audits if a.outcome.startswith("error:")] == [
        (operation, "error:400:user.missing")
    ]
    retired = [e for e in logs() if e.get("event") == "user.missing_on_master"]
    assert [
        (e["kind"], e["scim_id"], e["det_id"], e["operation"], e["groups"], e["level"]) for e in retired
    ] == [("user.missing", ghost.scim_id, ghost.det_id, operation, groups_left or [], "warning")]
    assert await _drift_kinds(world) == []


async def test_member_add_of_a_stale_mapping_is_400_and_changes_nothing(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"]])
    # The store still lists the ghost in another group (the master cannot: it lacks the user).
    other = await create_group(world, "Other", [ada["id"]])
    await world.store.add_members(other["id"], [MemberRecord(ghost.scim_id, display="Ghost")])
    add = patch({"op": "add", "path": "members", "value": [{"value": bob["id"]}, {"value": ghost.scim_id}]})
    response = await call(world, "PATCH", f"/Groups/{group['id']}", add)
    await assert_refused_naming(response, ghost, captured_logs)
    # One master transaction refused the whole add: bob is in neither the master's group nor the store's.
    assert (await world.master.state()).groups == {
        "Team": frozenset({"ada@example.com"}),
        "Other": frozenset({"ada@example.com"}),
    }
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert await world.store.pending_intents() == []
    await assert_mapping_retired(world, ghost, captured_logs, "patch", [other["id"]])
    assert await store_members(world, other["id"]) == {ada["id"]}
    # The IdP's retry names an id that no longer exists: refused as any unknown member, nothing changes.
    again = await call(world, "PATCH", f"/Groups/{group['id']}", add)
    assert again.status == 400
    assert ghost.scim_id in (await again.json())["detail"]
    assert await store_members(world, group["id"]) == {ada["id"]}


async def test_a_swap_adding_a_stale_mapping_is_400_and_the_removal_is_undone(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"]])
    swap = patch(
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": ghost.scim_id}]},
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", swap)
    await assert_refused_naming(response, ghost, captured_logs)
    # The removal went first and landed; refusing the request whole puts ada back, so both sides agree.
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert await world.store.pending_intents() == []
    await assert_mapping_retired(world, ghost, captured_logs, "patch")


async def test_group_create_with_a_stale_member_is_400_and_creates_nothing(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    ghost = await stale_user(world)
    body = {
        "schemas": [GROUP_URN],
        "displayName": "Team",
        "members": [{"value": ada["id"]}, {"value": ghost.scim_id}],
    }
    response = await call(world, "POST", "/Groups", body)
    await assert_refused_naming(response, ghost, captured_logs)
    assert (await world.master.state()).groups == {}
    assert await world.store.get_group_by_display_name("Team") is None
    assert await world.store.pending_intents() == []
    await assert_mapping_retired(world, ghost, captured_logs, "create")


async def test_put_adding_a_stale_member_is_400_and_changes_nothing(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"], bob["id"]])
    # bob out, ghost in: the removal and the add are two assignments calls.
    body = {
        "schemas": [GROUP_URN],
        "displayName": "Team",
        "members": [{"value": ada["id"]}, {"value": ghost.scim_id}],
    }
    response = await call(world, "PUT", f"/Groups/{group['id']}", body)
    await assert_refused_naming(response, ghost, captured_logs)
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com", "bob@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"], bob["id"]}
    assert await world.store.pending_intents() == []
    await assert_mapping_retired(world, ghost, captured_logs, "replace")


async def test_put_renaming_and_adding_a_stale_member_is_400_and_keeps_the_name(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"]])
    # A rename goes through one UpdateGroup, whose 404 for an unknown user names no one.
    body = {
        "schemas": [GROUP_URN],
        "displayName": "Team 2",
        "members": [{"value": ada["id"]}, {"value": ghost.scim_id}],
    }
    response = await call(world, "PUT", f"/Groups/{group['id']}", body)
    await assert_refused_naming(response, ghost, captured_logs)
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    stored = await world.store.get_group_by_scim_id(group["id"])
    assert stored is not None
    assert stored.display_name == "Team"
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert await world.store.pending_intents() == []
    await assert_mapping_retired(world, ghost, captured_logs, "replace")


async def test_okta_swap_removing_a_stale_member_and_adding_one_is_400_and_both_sides_agree(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    removed_ghost = await stale_user(world, "gone@example.com", det_id=LOST_DET_ID + 1)
    added_ghost = await stale_user(world, "ghost@example.com")
    group = await create_group(world, "Team", [ada["id"], bob["id"]])
    await world.store.add_members(group["id"], [MemberRecord(removed_ghost.scim_id, display="Gone")])
    # Okta's group push: one PATCH removing bob and the gone member, adding the other gone one.
    swap = patch(
        {"op": "remove", "path": f'members[value eq "{bob["id"]}"]'},
        {"op": "remove", "path": f'members[value eq "{removed_ghost.scim_id}"]'},
        {"op": "add", "path": "members", "value": [{"value": added_ghost.scim_id}]},
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", swap)
    assert response.status == 400, await response.text()
    error = await response.json()
    assert error["scimType"] == "invalidValue"
    assert added_ghost.scim_id in error["detail"]
    # The detail names the removed member found gone too, and says both mappings were retired.
    assert f"Of the removed members, the Determined user of {removed_ghost.scim_id!r}" in error["detail"]
    assert f"Mappings of {added_ghost.scim_id!r}, {removed_ghost.scim_id!r} retired" in error["detail"]
    # The removed member that could not be put back is logged as the added one is.
    not_back = [e for e in captured_logs() if e.get("event") == "group.removed_member_missing_on_master"]
    assert [(e["kind"], e["det_id"], e["level"]) for e in not_back] == [
        ("user.missing", LOST_DET_ID + 1, "warning")
    ]
    # Refused whole: bob is back on the master (the gone member cannot be, and never was there).
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com", "bob@example.com"})}
    assert await world.store.pending_intents() == []
    # Both ghosts are retired as any group write naming one retires it: the removed one, which was in the
    # group in the store only, leaves it with its retirement, so store and master agree on the members.
    assert await store_members(world, group["id"]) == {ada["id"], bob["id"]}
    retired = [e for e in captured_logs() if e.get("event") == "user.missing_on_master"]
    assert [(e["scim_id"], e["det_id"], e["operation"], e["group"], e["groups"]) for e in retired] == [
        (added_ghost.scim_id, LOST_DET_ID, "patch", group["id"], []),
        (removed_ghost.scim_id, LOST_DET_ID + 1, "patch", group["id"], [group["id"]]),
    ]
    for ghost in (added_ghost, removed_ghost):
        assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 404
        tombstone = await world.store.get_user_by_scim_id(ghost.scim_id, include_tombstoned=True)
        assert tombstone is not None
        assert tombstone.tombstoned_at is not None
    audits = [a for a in await world.store.recent_audit(1000) if a.resource_type == "Group"]
    assert [(a.operation, a.outcome) for a in audits if a.outcome.startswith("error:")] == [
        ("patch", "error:400:user.missing")
    ]
    assert await _drift_kinds(world) == []


async def test_a_swap_whose_add_is_throttled_retires_a_removed_member_the_undo_finds_gone(
    proxied: tuple[World, FaultProxy], captured_logs: LogReader
) -> None:
    """The add is refused for its own reason (429), and putting the removal back finds a removed member the
    master no longer has: the IdP hears the 429 (the swap's real failure), and that member is retired as a
    group write naming it retires it, so its retry no longer names a live ghost and goes through."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"]])
    await world.store.add_members(group["id"], [MemberRecord(ghost.scim_id, display="Ghost")])
    # The removal passes, the add is throttled; the undo reaches the master, which lacks the ghost.
    proxy.rules.append(
        Rule("PATCH", "/api/v1/users/assignments", status=429, skip=1, headers={"Retry-After": "7"})
    )
    swap = patch(
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "remove", "path": f'members[value eq "{ghost.scim_id}"]'},
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", swap)
    assert response.status == 429, await response.text()
    assert response.headers["Retry-After"] == "7"
    assert (await response.json())["status"] == "429"
    # ada is back; the ghost was never on the master's side, and leaves the store's with its retirement.
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert await world.store.pending_intents() == []
    retired = [e for e in captured_logs() if e.get("event") == "user.missing_on_master"]
    assert [(e["scim_id"], e["det_id"], e["operation"], e["group"], e["groups"]) for e in retired] == [
        (ghost.scim_id, LOST_DET_ID, "patch", group["id"], [group["id"]])
    ]
    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 404
    tombstone = await world.store.get_user_by_scim_id(ghost.scim_id, include_tombstoned=True)
    assert tombstone is not None
    assert tombstone.tombstoned_at is not None
    audits = [a for a in await world.store.recent_audit(1000) if a.resource_type == "Group"]
    assert [(a.operation, a.outcome) for a in audits if a.outcome.startswith("error:")] == [
        ("patch", "error:429:user.missing")
    ]
    assert await _drift_kinds(world) == []

    # The IdP's retry: the ghost is no longer a member (nothing to remove), the rest goes through.
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", swap)).status == 204
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert await _drift_kinds(world) == []


async def test_a_failed_retirement_is_not_reported_as_retired(world: World, captured_logs: LogReader) -> None:
    """The 400 says what happened to the mapping: when the store cannot retire it, the detail says so (and
    what will), never that it was retired; the mapping stays live and reconcile still reports it."""
    ada = await create_user(world, "ada@example.com", "Ada")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"]])
    blocker = sqlite3.connect(world.store.path, isolation_level=None)
    try:
        # A real SQLite failure of exactly the retirement: the tombstone update aborts, as a broken disk would.
        blocker.execute(
            "CREATE TRIGGER refuse_retire BEFORE UPDATE OF tombstoned_at ON users"
            " WHEN NEW.tombstoned_at IS NOT NULL BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )
        add = patch({"op": "add", "path": "members", "value": [{"value": ghost.scim_id}]})
        response = await call(world, "PATCH", f"/Groups/{group['id']}", add)
        blocker.execute("DROP TRIGGER refuse_retire")
    finally:
        blocker.close()
    await assert_refused_naming(response, ghost, captured_logs)
    detail = (await response.json())["detail"]
    assert f"Mapping of {ghost.scim_id!r} NOT retired (the bridge's store failed)" in detail
    assert "reconcile --repair" in detail
    assert " retired:" not in detail
    assert "already retired" not in detail
    failed = [e for e in captured_logs() if e.get("event") == "group.member_retire_failed"]
    assert [(e["scim_id"], e["group"], e["level"]) for e in failed] == [(ghost.scim_id, group["id"], "error")]
    assert [e for e in captured_logs() if e.get("event") == "user.missing_on_master"] == []
    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 200
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"]}
    await assert_mapping_left_for_the_operator(world, ghost)


async def test_entra_member_add_naming_a_stale_user_heals_once_the_user_is_created_again(
    world: World, captured_logs: LogReader
) -> None:
    """Entra (idp-traffic §3.2, §3.5): groups are created without members and filled by `Add` PATCHes naming
    several members; a refused add waits in escrow, and the cycle that evaluates the user matches it by
    userName, finds nothing and creates it, so the group update then names a user the master has."""
    bob = await create_user(world, "bob@example.com", "Bob")
    ghost = await stale_user(world)
    group = await create_group(world, "Team")
    add = patch(
        {
            "op": "Add",
            "path": "members",
            "value": [{"$ref": None, "value": bob["id"]}, {"value": ghost.scim_id}],
        }
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", add)
    await assert_refused_naming(response, ghost, captured_logs)
    assert (await world.master.state()).groups == {"Team": frozenset()}
    await assert_mapping_retired(world, ghost, captured_logs, "patch")

    match = await call(world, "GET", '/Users?filter=userName eq "ghost@example.com"')
    assert (await match.json())["totalResults"] == 0
    created = await call(world, "POST", "/Users", user_body("ghost@example.com", "Ghost"))
    assert created.status == 201, await created.text()
    new_id = (await created.json())["id"]
    assert new_id != ghost.scim_id
    add_again = patch(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": bob["id"]}, {"value": new_id}]}
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", add_again)
    assert response.status in (200, 204), await response.text()
    assert (await world.master.state()).groups == {
        "Team": frozenset({"bob@example.com", "ghost@example.com"})
    }
    assert await store_members(world, group["id"]) == {bob["id"], new_id}
    assert await world.store.pending_intents() == []
    assert await _drift_kinds(world) == []


async def test_okta_push_swapping_in_a_stale_user_heals_once_the_user_is_created_again(
    world: World, captured_logs: LogReader
) -> None:
    """Okta's group push (idp-traffic §2.3): one PATCH removing a member and adding another. The refusal (a
    task; Okta does not retry a 400) leaves the group as it was on both sides and retires the stale one, so
    Okta's next push of that user (GET, then PUT) meets 404 and its lookup by userName finds nothing: it
    creates the user, and the retried group push goes through."""
    ada = await create_user(world, "ada@example.com", "Ada")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"]])
    swap = patch(
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": ghost.scim_id, "display": "ghost@example.com"}]},
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", swap)
    await assert_refused_naming(response, ghost, captured_logs)
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"]}
    await assert_mapping_retired(world, ghost, captured_logs, "patch")

    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 404
    lookup = await call(world, "GET", '/Users?filter=userName eq "ghost@example.com"&startIndex=1&count=100')
    assert (await lookup.json())["totalResults"] == 0
    created = await call(world, "POST", "/Users", user_body("ghost@example.com", "Ghost"))
    assert created.status == 201, await created.text()
    new_id = (await created.json())["id"]
    swap_again = patch(
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": new_id, "display": "ghost@example.com"}]},
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", swap_again)
    assert response.status in (200, 204), await response.text()
    assert (await world.master.state()).groups == {"Team": frozenset({"ghost@example.com"})}
    assert await store_members(world, group["id"]) == {new_id}
    assert await world.store.pending_intents() == []
    assert await _drift_kinds(world) == []


async def test_parallel_adds_naming_one_stale_user_retire_it_once(
    world: World, captured_logs: LogReader
) -> None:
    """Entra sends parallel PATCHes to a group (idp-traffic §0.12), and several groups may name the same user:
    every refusal names the member, and the mapping is retired once (the others find it retired)."""
    ada = await create_user(world, "ada@example.com", "Ada")
    ghost = await stale_user(world)
    team = await create_group(world, "Team", [ada["id"]])
    ops = await create_group(world, "Ops", [ada["id"]])
    add = patch({"op": "Add", "path": "members", "value": [{"value": ghost.scim_id}]})
    answers = await asyncio.gather(
        call(world, "PATCH", f"/Groups/{team['id']}", add),
        call(world, "PATCH", f"/Groups/{ops['id']}", add),
        call(world, "PATCH", f"/Groups/{team['id']}", add),
    )
    assert [a.status for a in answers] == [400, 400, 400]
    details = [(await answer.json())["detail"] for answer in answers]
    for detail in details:
        assert ghost.scim_id in detail
    # Each answer says what its own retirement did: one retired the mapping, the others found it retired.
    retired_here = f"Mapping of {ghost.scim_id!r} retired: POST /Users provisions the userName afresh."
    found_retired = f"Mapping of {ghost.scim_id!r} already retired by another write."
    assert sorted(retired_here in d for d in details) == [False, False, True]
    assert sorted(found_retired in d for d in details) == [False, True, True]
    retired = [e for e in captured_logs() if e.get("event") == "user.missing_on_master"]
    assert [(e["scim_id"], e["level"]) for e in retired] == [(ghost.scim_id, "warning")]
    assert [e for e in captured_logs() if e.get("event") == "group.member_retire_failed"] == []
    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 404
    assert (await world.master.state()).groups == {
        "Team": frozenset({"ada@example.com"}),
        "Ops": frozenset({"ada@example.com"}),
    }
    assert await store_members(world, team["id"]) == {ada["id"]}
    assert await store_members(world, ops["id"]) == {ada["id"]}
    assert await world.store.pending_intents() == []
    assert await _drift_kinds(world) == []
