"""Member changes through AssignMultipleGroups (§4.16): which master call each write makes, and the master's 404s.

Master calls are counted by path from the bridge's ``master.call`` lines; the emulator runs over HTTP (behind
a fault proxy where a lost answer is needed) and the store is a real SQLite file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.faults import FaultProxy, Rule, start_world_behind_proxy
from tests.provisioning.scim import call, create_group, create_user, patch

ASSIGNMENTS = ("PATCH", "/api/v1/users/assignments")
UPDATE_GROUP = ("PUT", "/api/v1/groups/{id}")


def master_calls(logs: LogReader, since: int) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in logs()[since:] if e.get("event") == "master.call"]


def members(op: str, *ids: str) -> dict[str, Any]:
    return patch({"op": op, "path": "members", "value": [{"value": i} for i in ids]})


async def det_group_id(world: World, name: str) -> int:
    found = await world.master.call("POST", "/api/v1/groups/search", {"name": name, "limit": 1})
    group_id: int = found["groups"][0]["group"]["groupId"]
    return group_id


async def store_members(world: World, scim_id: str) -> set[str]:
    return {m.member_scim_id for m in await world.store.list_members(scim_id)}


async def test_members_only_remove_is_one_assignments_call(world: World, captured_logs: LogReader) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"], bob["id"]])
    seen = len(captured_logs())
    response = await call(world, "PATCH", f"/Groups/{group['id']}", members("remove", ada["id"]))
    assert response.status == 204
    assert master_calls(captured_logs, seen) == [ASSIGNMENTS]
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}
    assert await world.store.pending_intents() == []


async def test_put_adding_members_only_uses_assignments(world: World, captured_logs: LogReader) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    seen = len(captured_logs())
    body = {
        "schemas": group["schemas"],
        "displayName": "Team",
        "members": [{"value": ada["id"]}, {"value": bob["id"]}],
    }
    response = await call(world, "PUT", f"/Groups/{group['id']}", body)
    assert response.status == 200
    assert {m["value"] for m in (await response.json())["members"]} == {ada["id"], bob["id"]}
    assert master_calls(captured_logs, seen) == [ASSIGNMENTS]
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com", "bob@example.com"})}


async def test_adds_with_removes_stay_one_update_group_transaction(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    seen = len(captured_logs())
    swap = patch(
        {"op": "remove", "path": "members", "value": [{"value": ada["id"]}]},
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
    )
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", swap)).status == 204
    assert master_calls(captured_logs, seen) == [UPDATE_GROUP]
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}


async def test_rename_with_a_member_add_is_one_update_group(world: World, captured_logs: LogReader) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team")
    seen = len(captured_logs())
    both = patch(
        {"op": "replace", "path": "displayName", "value": "Team 2"},
        {"op": "add", "path": "members", "value": [{"value": ada["id"]}]},
    )
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", both)).status == 204
    assert master_calls(captured_logs, seen) == [UPDATE_GROUP]
    assert (await world.master.state()).groups == {"Team 2": frozenset({"ada@example.com"})}


async def test_unknown_member_is_400_before_any_master_call(world: World, captured_logs: LogReader) -> None:
    group = await create_group(world, "Team")
    seen = len(captured_logs())
    response = await call(world, "PATCH", f"/Groups/{group['id']}", members("add", "no-such-user"))
    assert response.status == 400
    assert (await response.json())["scimType"] == "invalidValue"
    assert master_calls(captured_logs, seen) == []


async def test_remove_of_a_member_the_master_already_dropped_reaches_the_goal(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team", [ada["id"]])
    ada_det = (await world.master.state()).users["ada@example.com"].id
    await world.master.call(
        "PUT", f"/api/v1/groups/{await det_group_id(world, 'Team')}", {"removeUsers": [ada_det]}
    )
    # The master answers "none were members" (404): that is the state the IdP asked for.
    response = await call(world, "PATCH", f"/Groups/{group['id']}", members("remove", ada["id"]))
    assert response.status == 204
    assert await store_members(world, group["id"]) == set()
    assert await world.store.pending_intents() == []


async def test_member_add_to_a_group_deleted_on_the_master_is_404(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team")
    await world.master.call("DELETE", f"/api/v1/groups/{await det_group_id(world, 'Team')}")
    response = await call(world, "PATCH", f"/Groups/{group['id']}", members("add", ada["id"]))
    assert response.status == 404
    assert (await response.json())["status"] == "404"
    assert await store_members(world, group["id"]) == set()
    assert await world.store.pending_intents() == []


async def test_user_delete_leaves_all_its_groups_in_one_call(world: World, captured_logs: LogReader) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    groups = [await create_group(world, f"Team {i}", [ada["id"], bob["id"]]) for i in range(3)]
    seen = len(captured_logs())
    assert (await call(world, "DELETE", f"/Users/{ada['id']}")).status == 204
    assert master_calls(captured_logs, seen) == [("PATCH", "/api/v1/users/{id}"), ASSIGNMENTS]
    state = await world.master.state()
    assert state.groups == {f"Team {i}": frozenset({"bob@example.com"}) for i in range(3)}
    assert not state.users["ada@example.com"].active
    for group in groups:
        assert await store_members(world, group["id"]) == {bob["id"]}
    assert await world.store.pending_intents() == []


async def test_user_delete_when_the_master_already_dropped_every_membership(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    await create_group(world, "One", [ada["id"]])
    await create_group(world, "Two", [ada["id"]])
    ada_det = (await world.master.state()).users["ada@example.com"].id
    for name in ("One", "Two"):
        group_id = await det_group_id(world, name)
        await world.master.call("PUT", f"/api/v1/groups/{group_id}", {"removeUsers": [ada_det]})
    seen = len(captured_logs())
    assert (await call(world, "DELETE", f"/Users/{ada['id']}")).status == 204
    # "none were members" (404) is the goal state: no second look at the master is needed.
    assert master_calls(captured_logs, seen) == [("PATCH", "/api/v1/users/{id}"), ASSIGNMENTS]
    assert (await world.master.state()).groups == {"One": frozenset(), "Two": frozenset()}
    assert await world.store.pending_intents() == []


async def test_user_delete_when_one_of_its_groups_was_deleted_on_the_master(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    await create_group(world, "Gone", [ada["id"]])
    await create_group(world, "Kept", [ada["id"]])
    await world.master.call("DELETE", f"/api/v1/groups/{await det_group_id(world, 'Gone')}")
    seen = len(captured_logs())
    assert (await call(world, "DELETE", f"/Users/{ada['id']}")).status == 204
    # The deleted group fails the whole call (404); the user's remaining groups are read and left.
    assert master_calls(captured_logs, seen) == [
        ("PATCH", "/api/v1/users/{id}"),
        ASSIGNMENTS,
        ("POST", "/api/v1/groups/search"),
        ASSIGNMENTS,
    ]
    assert (await world.master.state()).groups == {"Kept": frozenset()}
    assert await world.store.pending_intents() == []


@pytest.fixture
async def proxied(
    aiohttp_server: Callable[..., Any], aiohttp_client: Callable[..., Any], tmp_path: Path
) -> tuple[World, FaultProxy]:
    return await start_world_behind_proxy(aiohttp_server, aiohttp_client, tmp_path)


async def test_a_retried_removal_whose_first_attempt_landed_succeeds(
    proxied: tuple[World, FaultProxy],
) -> None:
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"], bob["id"]])
    proxy.rules.append(Rule(*ASSIGNMENTS, after_forward=True))
    response = await call(world, "PATCH", f"/Groups/{group['id']}", members("remove", ada["id"]))
    # The first attempt applied the removal and lost its answer; the retry's "none were members" 404 is the
    # goal state, not an error.
    assert proxy.seen.count(" ".join(ASSIGNMENTS)) == 2
    assert response.status == 204
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}
    assert await world.store.pending_intents() == []


async def test_a_retried_add_whose_first_attempt_landed_succeeds(proxied: tuple[World, FaultProxy]) -> None:
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team")
    proxy.rules.append(Rule(*ASSIGNMENTS, after_forward=True))
    response = await call(world, "PATCH", f"/Groups/{group['id']}", members("add", ada["id"]))
    assert proxy.seen.count(" ".join(ASSIGNMENTS)) == 2
    assert response.status == 204
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await world.store.pending_intents() == []
