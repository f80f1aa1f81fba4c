"""A user DELETE the IdP heard 503 for stays pending (its deactivation may or may not have reached the master), and
resolution counts it as landed only when the master shows what that delete alone made: the user inactive while
the store, unchanged since the delete read it, still has it active. An inactive user is otherwise the store's own
state (the IdP's later PATCH active=false, or a user already inactive before the DELETE) and proves nothing: the
delete is rolled back, the mapping stays, and both sides keep what the IdP was last told (docs/reliability.md).

The proxy between bridge and emulator fails the DELETE's PatchUser; the IdP's next write of the user settles the
intent under its lock, and `past_the_grace` runs the background's resolution."""

from __future__ import annotations

from typing import Any

from bridge.store import IntentState
from tests.idp.harness import World
from tests.provisioning.faults import USER_PATH, FaultProxy, Rule
from tests.provisioning.scim import call, create_group, create_user, past_the_grace, patch


async def _team_of(world: World, user_name: str, *, active: bool = True) -> tuple[dict[str, Any], str]:
    """A user (active or not) and a group "Team" holding it, both made through the bridge."""
    user = await create_user(world, user_name, "Ada", active=active)
    group = await create_group(world, "Team", [user["id"]])
    return user, group["id"]


async def _failed_delete(world: World, proxy: FaultProxy, scim_id: str, **rule: Any) -> int:
    """DELETE /Users/{scim_id} with its deactivation failed at the proxy (503 unless `rule` says otherwise); the
    id of the intent it leaves pending."""
    proxy.rules.append(Rule("PATCH", USER_PATH, **{"status": 503, "text": "timeout", **rule}))
    assert (await call(world, "DELETE", f"/Users/{scim_id}")).status == 503
    [pending] = await world.store.pending_intents()
    assert pending.operation == "delete"
    return pending.id


async def _assert_mapped(world: World, scim_id: str, group: str, *, active: bool) -> None:
    """What the IdP was last told holds on both sides: the user live (GET 200) with `active`, a member of the
    group in the store, and the same on the master."""
    shown = await call(world, "GET", f"/Users/{scim_id}")
    assert shown.status == 200
    assert (await shown.json())["active"] is active
    record = await world.store.get_user_by_scim_id(scim_id)
    assert record is not None
    assert record.active is active
    assert [m.member_scim_id for m in await world.store.list_members(group)] == [scim_id]
    master = await world.master.state()
    assert master.users["ada@example.com"].active is active
    assert master.groups == {"Team": frozenset({"ada@example.com"})}


async def _state(world: World, intent: int) -> IntentState:
    stored = await world.store.get_intent(intent)
    assert stored is not None
    return stored.state


async def test_a_deactivating_patch_after_a_delete_that_never_landed_keeps_the_user(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """The reported bug: the PATCH's 200 was followed, under its own lock, by the DELETE's resolution, which took
    the inactive user the PATCH had just made for the delete landed and tombstoned the mapping: the IdP's next
    GET or PATCH of a user it had just been told exists was a 404."""
    world, proxy = tried_once
    ada, team = await _team_of(world, "ada@example.com")
    delete = await _failed_delete(world, proxy, ada["id"])

    deactivate = patch({"op": "replace", "value": {"active": False}})
    answer = await call(world, "PATCH", f"/Users/{ada['id']}", deactivate)
    assert answer.status == 200
    assert (await answer.json())["active"] is False
    await _assert_mapped(world, ada["id"], team, active=False)
    assert await _state(world, delete) is IntentState.PENDING  # kept: its call got no answer

    await past_the_grace(world)
    assert await _state(world, delete) is IntentState.ROLLED_BACK
    await _assert_mapped(world, ada["id"], team, active=False)
    reactivate = patch({"op": "replace", "value": {"active": True}})
    assert (await call(world, "PATCH", f"/Users/{ada['id']}", reactivate)).status == 200
    await _assert_mapped(world, ada["id"], team, active=True)


async def test_a_delete_landing_after_a_deactivating_patch_is_rolled_back(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """The same, with the DELETE's deactivation landing after the PATCH: the master shows nothing the PATCH did
    not already make, so the IdP's 200 stands."""
    world, proxy = tried_once
    ada, team = await _team_of(world, "ada@example.com")
    delete = await _failed_delete(world, proxy, ada["id"], hold=True)
    deactivate = patch({"op": "replace", "value": {"active": False}})
    assert (await call(world, "PATCH", f"/Users/{ada['id']}", deactivate)).status == 200
    assert await proxy.land_held() == [200]

    await past_the_grace(world)
    assert await _state(world, delete) is IntentState.ROLLED_BACK
    await _assert_mapped(world, ada["id"], team, active=False)


async def test_a_delete_of_an_inactive_user_is_rolled_back_and_its_retry_completes_it(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """A DELETE of a user already inactive: the master shows the user inactive whether or not the deactivation
    landed, so resolution cannot count it as landed. It is rolled back (the IdP heard 503: nothing was deleted),
    and the IdP's retry of the DELETE deletes it."""
    world, proxy = tried_once
    ada, team = await _team_of(world, "ada@example.com", active=False)
    delete = await _failed_delete(world, proxy, ada["id"], after_forward=True)  # landed; the answer lost

    await past_the_grace(world)
    assert await _state(world, delete) is IntentState.ROLLED_BACK
    await _assert_mapped(world, ada["id"], team, active=False)

    assert (await call(world, "DELETE", f"/Users/{ada['id']}")).status == 204
    assert (await call(world, "GET", f"/Users/{ada['id']}")).status == 404
    assert await world.store.get_user_by_scim_id(ada["id"]) is None
    assert await world.store.list_members(team) == []
    master = await world.master.state()
    assert master.users["ada@example.com"].active is False
    assert master.groups == {"Team": frozenset()}
    assert await world.store.pending_intents() == []


async def test_a_delete_that_landed_with_nothing_acknowledged_since_is_completed(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """The master shows the deactivation only that delete made (the store, at the version it read, still has the
    user active): the delete landed, and resolution finishes it, the groups included, as the IdP had asked."""
    world, proxy = tried_once
    ada, team = await _team_of(world, "ada@example.com")
    delete = await _failed_delete(world, proxy, ada["id"], after_forward=True)

    await past_the_grace(world)
    assert await _state(world, delete) is IntentState.DONE
    assert (await call(world, "GET", f"/Users/{ada['id']}")).status == 404
    assert await world.store.get_user_by_scim_id(ada["id"]) is None
    assert await world.store.list_members(team) == []
    master = await world.master.state()
    assert master.users["ada@example.com"].active is False
    assert master.groups == {"Team": frozenset()}
