"""Member changes through AssignMultipleGroups (§4.16): which master calls each write makes, the master's 404s,
and a swap (removes, then adds) whose second call fails.

Master calls are counted by path from the bridge's ``master.call`` lines; the emulator runs over HTTP (behind
a fault proxy where a lost answer is needed) and the store is a real SQLite file.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.reconcile import IntentResolver, Mode, Resolution, build_intent_resolver, build_reconciler
from bridge.store import IntentState
from bridge.web.keys import MASTER, SETTINGS
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.faults import FaultProxy, Rule
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


def resolver(world: World) -> IntentResolver:
    return build_intent_resolver(world.app[SETTINGS], world.store, world.app[MASTER], path="test")


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


async def test_adds_with_removes_are_two_assignments_calls(world: World, captured_logs: LogReader) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    seen = len(captured_logs())
    # Okta's group push (idp-traffic §2.3): the unchanged name, a filtered remove and an add in one PATCH.
    swap = patch(
        {"op": "replace", "value": {"id": group["id"], "displayName": "Team"}},
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": bob["id"], "display": "Bob"}]},
    )
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", swap)).status == 204
    # Not UpdateGroup, whose answer lists the whole group: the removal, then the add (order: see below).
    assert master_calls(captured_logs, seen) == [ASSIGNMENTS, ASSIGNMENTS]
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}
    assert await world.store.pending_intents() == []


async def test_put_adding_and_removing_members_is_two_assignments_calls(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    cy = await create_user(world, "cy@example.com", "Cy")
    group = await create_group(world, "Team", [ada["id"], bob["id"]])
    seen = len(captured_logs())
    body = {
        "schemas": group["schemas"],
        "displayName": "Team",
        "members": [{"value": bob["id"]}, {"value": cy["id"]}],
    }
    response = await call(world, "PUT", f"/Groups/{group['id']}", body)
    assert response.status == 200
    assert {m["value"] for m in (await response.json())["members"]} == {bob["id"], cy["id"]}
    assert master_calls(captured_logs, seen) == [ASSIGNMENTS, ASSIGNMENTS]
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com", "cy@example.com"})}
    assert await world.store.pending_intents() == []


async def test_rename_with_adds_and_removes_stays_one_update_group_transaction(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    seen = len(captured_logs())
    body = {"schemas": group["schemas"], "displayName": "Team 2", "members": [{"value": bob["id"]}]}
    assert (await call(world, "PUT", f"/Groups/{group['id']}", body)).status == 200
    assert master_calls(captured_logs, seen) == [UPDATE_GROUP]
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert (await world.master.state()).groups == {"Team 2": frozenset({"bob@example.com"})}


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


async def test_unknown_member_in_a_swap_is_400_before_any_master_call(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team", [ada["id"]])
    seen = len(captured_logs())
    swap = patch(
        {"op": "remove", "path": "members", "value": [{"value": ada["id"]}]},
        {"op": "add", "path": "members", "value": [{"value": "no-such-user"}]},
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", swap)
    assert response.status == 400
    assert (await response.json())["scimType"] == "invalidValue"
    assert master_calls(captured_logs, seen) == []
    assert await store_members(world, group["id"]) == {ada["id"]}


async def test_swap_in_a_group_deleted_on_the_master_is_404(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    await world.master.call("DELETE", f"/api/v1/groups/{await det_group_id(world, 'Team')}")
    swap = patch(
        {"op": "remove", "path": "members", "value": [{"value": ada["id"]}]},
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", swap)
    assert response.status == 404
    assert (await response.json())["status"] == "404"
    # The first call (the removal) was refused, so nothing reached the master: rolled back, not pending.
    assert await store_members(world, group["id"]) == {ada["id"]}
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


@pytest.mark.parametrize(
    ("fault", "status", "half_applied"),
    [
        # The add is refused, and so is putting the removed member back.
        pytest.param(
            Rule(*ASSIGNMENTS, status=500, skip=1, times=2), 500, frozenset(), id="refused-undo-refused"
        ),
        # Every attempt of the add lands and loses its answer: the master holds the whole change.
        pytest.param(
            Rule(*ASSIGNMENTS, after_forward=True, skip=1, times=10),
            503,
            frozenset({"bob@example.com"}),
            id="answer-lost",
        ),
    ],
)
async def test_a_swap_whose_add_fails_stays_pending_until_reconcile_restores_the_store_state(
    proxied: tuple[World, FaultProxy], fault: Rule, status: int, half_applied: frozenset[str]
) -> None:
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    proxy.rules.append(fault)
    swap = patch(
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
    )
    response = await call(world, "PATCH", f"/Groups/{group['id']}", swap)
    assert response.status == status
    assert (await response.json())["status"] == str(status)
    proxy.rules.clear()
    # The removal went first and landed; the store still holds the state before the request, and the
    # pending intent records the gap.
    assert (await world.master.state()).groups == {"Team": half_applied}
    assert await store_members(world, group["id"]) == {ada["id"]}
    pending = await world.store.pending_intents()
    assert [(p.operation, p.resource_type, p.target) for p in pending] == [("patch", "Group", group["id"])]

    [outcome] = (await resolver(world).resolve_all()).outcomes
    assert outcome.resolution is Resolution.ROLLED_BACK
    assert await world.store.pending_intents() == []
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}

    # The IdP's retry starts from a state both sides agree on.
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", swap)).status == 204
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}
    assert await world.store.pending_intents() == []


async def test_a_retried_swap_before_reconcile_converges_and_reconcile_keeps_it(
    proxied: tuple[World, FaultProxy],
) -> None:
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    # The add is refused and so is undoing the removal: the master is left half-way, the intent pending.
    proxy.rules.append(Rule(*ASSIGNMENTS, status=500, skip=1, times=2))
    swap = patch(
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
    )
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", swap)).status == 500
    # The IdP retries first: its removal meets "none were members" (the goal), its add lands.
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", swap)).status == 204
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}
    # The retry resolved the first request's intent as it ended (that request was over): restoring the store's
    # state changed nothing, and nothing is left for a later run.
    first = await world.store.get_intent(4)
    assert first is not None
    assert (first.operation, first.state) == ("patch", IntentState.ROLLED_BACK)
    assert await world.store.pending_intents() == []
    assert (await resolver(world).resolve_all()).outcomes == ()
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (429, "7"), (400, None)])
async def test_a_swap_whose_add_is_refused_is_undone_so_answer_store_master_and_reconcile_agree(
    proxied: tuple[World, FaultProxy], captured_logs: LogReader, status: int, retry_after: str | None
) -> None:
    """The add failed in a master transaction that applied nothing, so undoing the removal at once makes the
    error true (RFC 7644 §3.5.2: the group is unchanged) on both sides, with no window for reconcile to close."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    proxy.rules.append(Rule(*ASSIGNMENTS, status=status, skip=1, headers=headers))
    swap = patch(
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
    )
    since = len(captured_logs())
    response = await call(world, "PATCH", f"/Groups/{group['id']}", swap)
    assert response.status == status
    assert (await response.json())["status"] == str(status)
    if retry_after is not None:
        assert response.headers["Retry-After"] == retry_after
    # Remove, the refused add, and the removal undone (a 500 also has the added user looked up: not stale).
    writes = [c for c in master_calls(captured_logs, since) if c[0] != "GET"]
    assert writes == [("PATCH", "/api/v1/users/assignments")] * 3
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"]}
    fetched = await (await call(world, "GET", f"/Groups/{group['id']}")).json()
    assert [m["value"] for m in fetched["members"]] == [ada["id"]]
    assert await world.store.pending_intents() == []
    reconciler = await build_reconciler(world.app[SETTINGS], world.store, world.app[MASTER])
    assert (await reconciler.run(Mode.REPORT)).drifts == ()
    assert not [e for e in captured_logs()[since:] if e.get("event") == "master.partial_write"]

    # The IdP's retry applies the whole swap.
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", swap)).status == 204
    assert await store_members(world, group["id"]) == {bob["id"]}
    assert (await world.master.state()).groups == {"Team": frozenset({"bob@example.com"})}
    assert (await reconciler.run(Mode.REPORT)).drifts == ()


async def test_a_half_applied_swap_is_put_back_by_a_reconcile_pass_and_reads_stay_on_the_store(
    proxied: tuple[World, FaultProxy],
) -> None:
    """When the undo is refused too, the store (and so every read) keeps the state the error reports, and the
    next reconcile pass (pending intents first, then drift) puts the master back to it."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    bob = await create_user(world, "bob@example.com", "Bob")
    group = await create_group(world, "Team", [ada["id"]])
    proxy.rules.append(Rule(*ASSIGNMENTS, status=500, skip=1, times=2))
    swap = patch(
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
    )
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", swap)).status == 500
    assert (await world.master.state()).groups == {"Team": frozenset()}
    fetched = await (await call(world, "GET", f"/Groups/{group['id']}")).json()
    assert [m["value"] for m in fetched["members"]] == [ada["id"]]
    reconciler = await build_reconciler(world.app[SETTINGS], world.store, world.app[MASTER])
    report = await reconciler.run(Mode.REPAIR)
    # The intent's restore made the master follow the store before the drift sweep, which finds nothing.
    assert report.drifts == ()
    assert await world.store.pending_intents() == []
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await store_members(world, group["id"]) == {ada["id"]}
