"""A member whose mapping points at a Determined user the master no longer has (a restored or foreign master
database): every group write that would add it answers RFC 7644 §3.12 400 invalidValue naming the member,
applies nothing on either side, and leaves the mapping for the operator, as reconciliation does (user.missing).

The master answers such an add with a bare 500 on assignments and a 404 naming no one on create and
UpdateGroup (master usergroup AddUsersToGroupsTx; the emulator mirrors both); the bridge, the emulator over
HTTP and the SQLite store are real.
"""

from __future__ import annotations

import uuid
from typing import Any

from bridge.reconcile import DriftKind, Mode, build_reconciler
from bridge.store import MemberRecord, UserFields, UserRecord
from bridge.web.keys import MASTER, SETTINGS
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.scim import GROUP_URN, call, create_group, create_user, patch

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


async def assert_refused_naming(response: Any, ghost: UserRecord, logs: LogReader) -> None:
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


async def test_member_add_of_a_stale_mapping_is_400_and_changes_nothing(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"]])
    add = patch({"op": "add", "path": "members", "value": [{"value": bob["id"]}, {"value": ghost.scim_id}]})
    response = await call(world, "PATCH", f"/Groups/{group['id']}", add)
    await assert_refused_naming(response, ghost, captured_logs)
    # One master transaction refused the whole add: bob is in neither the master's group nor the store's.
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert await world.store.pending_intents() == []
    await assert_mapping_left_for_the_operator(world, ghost)


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
    await assert_mapping_left_for_the_operator(world, ghost)


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
    await assert_mapping_left_for_the_operator(world, ghost)


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
    await assert_mapping_left_for_the_operator(world, ghost)


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


async def _drift_kinds(world: World) -> list[tuple[str, str | None]]:
    reconciler = await build_reconciler(world.app[SETTINGS], world.store, world.app[MASTER])
    return [(d.kind.value, d.scim_id) for d in (await reconciler.run(Mode.REPORT)).drifts]


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
    # The removed member that could not be put back is logged as the added one is.
    not_back = [e for e in captured_logs() if e.get("event") == "group.removed_member_missing_on_master"]
    assert [(e["kind"], e["det_id"], e["level"]) for e in not_back] == [
        ("user.missing", LOST_DET_ID + 1, "warning")
    ]
    # Refused whole: bob is back on the master (the gone member cannot be, and never was there).
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com", "bob@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"], bob["id"], removed_ghost.scim_id}
    assert await world.store.pending_intents() == []
    # Only the stale mappings themselves are left for the operator.
    missing = {(kind, scim_id) for kind, scim_id in await _drift_kinds(world) if kind == "user.missing"}
    assert missing == {("user.missing", removed_ghost.scim_id), ("user.missing", added_ghost.scim_id)}
