"""GroupService end to end: member diffs, per-group serialisation, rename, projection, drift recovery."""

from __future__ import annotations

import asyncio

from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.scim import call, create_group, create_user, patch


def add_members(*ids: str) -> dict[str, object]:
    return patch({"op": "Add", "path": "members", "value": [{"value": i} for i in ids]})


async def test_twenty_parallel_member_adds_all_land_without_master_conflicts(
    world: World, captured_logs: LogReader
) -> None:
    users = [await create_user(world, f"user{i:02d}@example.com", f"User {i:02d}") for i in range(20)]
    group = await create_group(world, "Parallel")
    responses = await asyncio.gather(
        *(call(world, "PATCH", f"/Groups/{group['id']}", add_members(u["id"])) for u in users)
    )
    assert [r.status for r in responses] == [204] * 20
    state = await world.master.state()
    assert state.groups["Parallel"] == frozenset(u["userName"] for u in users)
    scim = await (await call(world, "GET", f"/Groups/{group['id']}")).json()
    assert {m["value"] for m in scim["members"]} == {u["id"] for u in users}
    statuses = [e.get("status") for e in captured_logs() if e.get("event") == "master.call"]
    assert 409 not in statuses
    assert statuses.count(200) >= 20


async def test_member_deltas_are_idempotent_and_minimal(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    again = await call(world, "PATCH", f"/Groups/{group['id']}", add_members(ada["id"]))
    assert again.status == 204
    assert (await world.store.recent_audit(1))[0].master_calls == 0
    absent = patch({"op": "remove", "path": f'members[value eq "{bob["id"]}"]'})
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", absent)).status == 204
    assert (await world.store.recent_audit(1))[0].master_calls == 0
    swap = patch(
        {"op": "remove", "path": "members", "value": [{"value": ada["id"]}]},
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
    )
    swapped = await call(world, "PATCH", f"/Groups/{group['id']}?attributes=members", swap)
    assert swapped.status == 200
    assert [m["value"] for m in (await swapped.json())["members"]] == [bob["id"]]
    # Only the real changes reach the master: one removal and one add, as two assignments calls (§4.16).
    assert (await world.store.recent_audit(1))[0].master_calls == 2
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}


async def test_member_add_is_one_assignments_call_and_one_local_transaction(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    before = await world.store.get_group_by_scim_id(group["id"])
    assert before is not None
    seen = len(captured_logs())
    response = await call(world, "PATCH", f"/Groups/{group['id']}", add_members(bob["id"]))
    assert response.status == 204
    calls = [(e["method"], e["path"]) for e in captured_logs()[seen:] if e.get("event") == "master.call"]
    # AssignMultipleGroups answers {}; UpdateGroup would answer with every member (O(group), §4.14, §4.16).
    assert calls == [("PATCH", "/api/v1/users/assignments")]
    after = await world.store.get_group_by_scim_id(group["id"])
    assert after is not None
    assert after.version == before.version + 1
    assert response.headers["ETag"] == f'W/"{after.version}"'
    assert await world.store.pending_intents() == []
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com", "bob@example.com"})}


async def test_put_replaces_members_and_renames_in_one_master_call(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    body = {"schemas": group["schemas"], "displayName": "Team 2", "members": [{"value": bob["id"]}]}
    response = await call(world, "PUT", f"/Groups/{group['id']}", body)
    assert response.status == 200
    assert (await response.json())["displayName"] == "Team 2"
    assert (await world.store.recent_audit(1))[0].master_calls == 1
    assert (await world.master.state()).groups == {"Team 2": frozenset({"bob@example.com"})}


async def test_excluded_members_and_member_filters(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    await create_group(world, "With Ada", [ada["id"]])
    await create_group(world, "Empty")
    listed = await (await call(world, "GET", "/Groups?excludedAttributes=members")).json()
    assert listed["totalResults"] == 2
    assert all("members" not in g for g in listed["Resources"])
    by_member = await (
        await call(world, "GET", f"/Groups?filter=members.value%20eq%20%22{ada['id']}%22")
    ).json()
    assert [g["displayName"] for g in by_member["Resources"]] == ["With Ada"]
    by_name = await (await call(world, "GET", "/Groups?filter=displayName%20eq%20%22with%20ada%22")).json()
    group = by_name["Resources"][0]
    assert group["members"][0]["value"] == ada["id"]
    assert group["members"][0]["$ref"].endswith(f"/Users/{ada['id']}")


async def test_invalid_group_writes_are_400_or_409(world: World) -> None:
    await create_group(world, "Team")
    duplicate = await call(world, "POST", "/Groups", {"displayName": "TEAM"})
    assert duplicate.status == 409
    personal = await call(world, "POST", "/Groups", {"displayName": "3DeterminedPersonalGroup"})
    assert personal.status == 400
    unknown = await call(
        world, "POST", "/Groups", {"displayName": "X", "members": [{"value": "no-such-user"}]}
    )
    assert unknown.status == 400
    assert (await unknown.json())["scimType"] == "invalidValue"
    assert set((await world.master.state()).groups) == {"Team"}


async def test_membership_drift_on_the_master_is_absorbed(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team")
    state = await world.master.state()
    search = await world.master.call("POST", "/api/v1/groups/search", {"limit": 10})
    group_id = search["groups"][0]["group"]["groupId"]
    await world.master.call(
        "PUT", f"/api/v1/groups/{group_id}", {"addUsers": [state.users["ada@example.com"].id]}
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", add_members(ada["id"]))
    assert response.status == 204
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}


async def test_delete_group_then_404(world: World) -> None:
    group = await create_group(world, "Team")
    assert (await call(world, "DELETE", f"/Groups/{group['id']}")).status == 204
    assert (await call(world, "GET", f"/Groups/{group['id']}")).status == 404
    assert (await world.master.state()).groups == {}


async def test_rename_onto_another_group_name_is_409(world: World) -> None:
    await create_group(world, "Team")
    other = await create_group(world, "Other")
    response = await call(
        world,
        "PATCH",
        f"/Groups/{other['id']}",
        patch({"op": "replace", "path": "displayName", "value": "team"}),
    )
    assert response.status == 409
    assert set((await world.master.state()).groups) == {"Team", "Other"}
