"""Store and master stay consistent when the master fails mid-operation (faults injected by a proxy)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.store import IntentState
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.polling import until
from tests.provisioning.faults import ASSIGNMENTS_PATH, USER_PATH, FaultProxy, Rule, start_world_behind_proxy
from tests.provisioning.scim import (
    assert_delete_half_done_then_retried,
    call,
    create_group,
    create_user,
    patch,
    user_body,
)


@pytest.fixture
async def faulty(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> tuple[World, FaultProxy]:
    return await start_world_behind_proxy(aiohttp_server, aiohttp_client, tmp_path)


async def test_master_429_is_passed_on_with_retry_after_and_nothing_changes(
    faulty: tuple[World, FaultProxy],
) -> None:
    world, proxy = faulty
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team")
    before = await world.store.get_group_by_scim_id(group["id"])
    proxy.rules.append(Rule("PATCH", ASSIGNMENTS_PATH, status=429, headers={"Retry-After": "7"}))
    response = await call(
        world,
        "PATCH",
        f"/Groups/{group['id']}",
        patch({"op": "add", "path": "members", "value": [{"value": ada["id"]}]}),
    )
    assert response.status == 429
    assert response.headers["Retry-After"] == "7"
    assert await world.store.list_members(group["id"]) == []
    after = await world.store.get_group_by_scim_id(group["id"])
    assert before is not None
    assert after is not None
    assert after.version == before.version
    assert (await world.master.state()).groups == {"Team": frozenset()}
    assert await world.store.pending_intents() == []
    retried = await call(
        world,
        "PATCH",
        f"/Groups/{group['id']}",
        patch({"op": "add", "path": "members", "value": [{"value": ada["id"]}]}),
    )
    assert retried.status == 204
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}


async def test_master_500_on_patch_leaves_the_store_untouched(faulty: tuple[World, FaultProxy]) -> None:
    world, proxy = faulty
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("PATCH", USER_PATH, status=500, text="something broke"))
    response = await call(
        world,
        "PATCH",
        f"/Users/{ada['id']}",
        patch({"op": "replace", "path": "displayName", "value": "Augusta"}),
    )
    assert response.status == 500
    assert "something broke" not in await response.text()
    record = await world.store.get_user_by_scim_id(ada["id"])
    assert record is not None
    assert record.display_name == "Ada"
    assert record.version == 1
    assert (await world.master.state()).users["ada@example.com"].display_name == "Ada"
    intent = await world.store.get_intent(2)
    assert intent is not None
    assert intent.state is IntentState.ROLLED_BACK


async def test_master_rejecting_the_bridge_is_500_with_a_log_line(
    faulty: tuple[World, FaultProxy], captured_logs: LogReader
) -> None:
    world, proxy = faulty
    await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(
        Rule("POST", r"/api/v1/groups", status=403, text="user does not have permission", times=5)
    )
    response = await call(world, "POST", "/Groups", {"displayName": "Team"})
    assert response.status == 500
    assert any(e.get("event") == "auth.master_rejected" for e in captured_logs())
    assert (await (await call(world, "GET", "/Groups")).json())["totalResults"] == 0


async def test_lost_response_after_a_master_write_stays_journalled(faulty: tuple[World, FaultProxy]) -> None:
    world, proxy = faulty
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("PATCH", USER_PATH, after_forward=True))
    response = await call(
        world, "PATCH", f"/Users/{ada['id']}", patch({"op": "replace", "value": {"active": False}})
    )
    assert response.status == 503
    assert "Retry-After" in response.headers
    # The master did apply it; the store could not know. The pending intent is the record of that gap.
    assert not (await world.master.state()).users["ada@example.com"].active
    pending = await world.store.pending_intents()
    assert [(p.operation, p.resource_type, p.target) for p in pending] == [("patch", "User", ada["id"])]


async def test_a_create_answered_in_a_shape_off_the_contract_stays_journalled_and_is_mapped(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """The master made the user and answered 200 in a shape the bridge does not know (a master of another
    version). Rolled back, the intent left that user on the master unmapped, and every retry of the IdP got 409
    (userName taken on the master, not managed) until an operator ran `adopt`; kept pending, it is resolved as
    a lost answer is, and the user is mapped under the SCIM id the create minted."""
    world, proxy = await start_world_behind_proxy(
        aiohttp_server, aiohttp_client, tmp_path, reconcile={"intent_grace": 1.0}
    )
    proxy.rules.append(Rule("POST", r"/api/v1/users", reshaped='{"created": true}'))
    response = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert response.status == 500
    assert (await world.master.state()).users["ada@example.com"].active

    async def resolved() -> bool:
        # The mapping's insert and the intent's finish are two transactions: wait for the second.
        intent = await world.store.get_intent(1)
        return intent is not None and intent.state is not IntentState.PENDING

    await until(resolved, "the create's intent was not resolved")
    record = await world.store.get_user_by_user_name("ada@example.com")
    assert record is not None
    assert record.det_id == (await world.master.state()).users["ada@example.com"].id
    intent = await world.store.get_intent(1)
    assert intent is not None
    assert (intent.target, intent.state) == (record.scim_id, IntentState.DONE)
    found = await call(world, "GET", '/Users?filter=userName eq "ada@example.com"')
    assert (await found.json())["totalResults"] == 1


async def test_delete_failing_after_deactivation_stays_journalled(faulty: tuple[World, FaultProxy]) -> None:
    world, proxy = faulty
    ada = await create_user(world, "ada@example.com", "Ada")
    await create_group(world, "Team", [ada["id"]])
    proxy.rules.append(Rule("PATCH", ASSIGNMENTS_PATH, status=429, headers={"Retry-After": "3"}))
    response = await call(world, "DELETE", f"/Users/{ada['id']}")
    assert response.status == 429
    await assert_delete_half_done_then_retried(world, ada["id"])
