"""Group writes the other end-to-end tests leave out: a member removal only the member list can decide, a
change of externalId alone, a blank displayName, and an add naming several users the master lost. The
bridge on a socket, the emulator over HTTP and the SQLite store are real."""

from __future__ import annotations

from tests.idp.harness import World
from tests.provisioning.scim import GROUP_URN, call, create_group, create_user, patch
from tests.provisioning.test_stale_members import stale_user, store_members


async def test_removing_members_by_display_loads_the_list_and_removes_them_on_the_master(
    world: World,
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"], bob["id"]])
    removal = patch({"op": "remove", "path": 'members[display eq "bob@example.com"]'})
    response = await call(world, "PATCH", f"/Groups/{group['id']}?attributes=members", removal)
    assert response.status == 200, await response.text()
    assert [m["value"] for m in (await response.json())["members"]] == [ada["id"]]
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert (await world.store.recent_audit(1))[0].master_calls == 1


async def test_a_member_display_filter_matching_nobody_changes_nothing(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team", [ada["id"]])
    removal = patch({"op": "remove", "path": 'members[display eq "nobody@example.com"]'})
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", removal)).status == 204
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert (await world.store.recent_audit(1))[0].master_calls == 0


async def test_an_external_id_change_alone_is_stored_without_a_master_call(world: World) -> None:
    group = await create_group(world, "Team")
    before = await world.master.state()
    response = await call(
        world,
        "PATCH",
        f"/Groups/{group['id']}",
        patch({"op": "replace", "path": "externalId", "value": "okta-7"}),
    )
    assert response.status == 204
    fetched = await (await call(world, "GET", f"/Groups/{group['id']}")).json()
    assert fetched["externalId"] == "okta-7"
    assert fetched["meta"]["version"] != group["meta"]["version"]
    listed = await (await call(world, "GET", '/Groups?filter=externalId eq "okta-7"')).json()
    assert [g["id"] for g in listed["Resources"]] == [group["id"]]
    assert (await world.store.recent_audit(1))[0].master_calls == 0
    assert await world.master.state() == before


async def test_a_blank_display_name_is_400_invalid_value_and_changes_nothing(world: World) -> None:
    group = await create_group(world, "Team")
    blank = patch({"op": "replace", "path": "displayName", "value": "   "})
    response = await call(world, "PATCH", f"/Groups/{group['id']}", blank)
    assert response.status == 400
    body = await response.json()
    assert (body["scimType"], body["detail"]) == ("invalidValue", "displayName must not be empty.")
    created = await call(world, "POST", "/Groups", {"schemas": [GROUP_URN], "displayName": " \t"})
    assert created.status == 400
    assert (await created.json())["scimType"] == "invalidValue"
    assert set((await world.master.state()).groups) == {"Team"}


async def test_an_add_naming_two_users_the_master_lost_names_both_and_retires_both(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    first = await stale_user(world, "ghost1@example.com", 987_654)
    second = await stale_user(world, "ghost2@example.com", 987_655)
    group = await create_group(world, "Team", [ada["id"]])
    add = patch(
        {"op": "add", "path": "members", "value": [{"value": first.scim_id}, {"value": second.scim_id}]}
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", add)
    assert response.status == 400
    detail = (await response.json())["detail"]
    assert (
        f"the Determined users of {first.scim_id!r}, {second.scim_id!r} no longer exist on the master"
        in detail
    )
    for ghost in (first, second):
        assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 404
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
