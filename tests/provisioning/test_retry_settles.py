"""The IdP's retry of a write whose first attempt ended ambiguously in this process resolves that attempt's pending
intent at once (provisioning/ended.py), not after reconcile.intent_grace (120 s here: the background never runs;
`past_the_grace` runs its resolution), except what might still land (test_retry_late_landing.py).

Faults come from the proxy between bridge and emulator: a lost answer (forwarded, then the connection cut), a 503
the master never saw, an outage of every call."""

from __future__ import annotations

from bridge.provisioning.consistency import digest
from bridge.store import IntentState
from bridge.web.keys import MASTER
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.faults import (
    ASSIGNMENTS_PATH,
    GROUPS_PATH,
    USER_PATH,
    USERS_PATH,
    FaultProxy,
    Rule,
)
from tests.provisioning.scim import (
    call,
    create_group,
    create_user,
    filter_ids,
    group_body,
    past_the_grace,
    patch,
    user_body,
)


async def _states(world: World) -> list[tuple[str, IntentState]]:
    """Every intent's operation and state, oldest first."""
    out = []
    for intent_id in range(1, 100):
        intent = await world.store.get_intent(intent_id)
        if intent is None:
            break
        out.append((intent.operation, intent.state))
    return out


async def test_a_retried_user_create_maps_the_user_its_lost_first_attempt_made(
    tried_once: tuple[World, FaultProxy], captured_logs: LogReader
) -> None:
    world, proxy = tried_once
    proxy.rules.append(Rule("POST", USERS_PATH, after_forward=True))
    first = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert first.status == 503
    pending = await world.store.pending_intents()
    assert [(p.operation, p.resource_type) for p in pending] == [("create", "User")]

    retried = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert retried.status == 409
    answer = await retried.json()
    assert answer["scimType"] == "uniqueness"
    # True of what the retry left: the user exists, and (below) a userName filter finds it.
    assert "already exists on the Determined master" in answer["detail"]
    # Okta's next move: the filter now finds the mapping the first attempt's intent was minted for.
    assert await filter_ids(world, "Users", "userName", "ada@example.com") == [pending[0].target]
    record = await world.store.get_user_by_scim_id(pending[0].target)
    assert record is not None
    assert record.det_id == (await world.master.state()).users["ada@example.com"].id
    assert await _states(world) == [("create", IntentState.DONE), ("create", IntentState.ROLLED_BACK)]
    resolved = [e for e in captured_logs() if e.get("event") == "reconcile.intent_resolved"]
    assert [(e["intent_id"], e["resolution"]) for e in resolved] == [(pending[0].id, "completed")]
    assert len([u for u in (await world.master.state()).users if u == "ada@example.com"]) == 1


async def test_a_retried_group_create_maps_the_group_its_lost_first_attempt_made(
    tried_once: tuple[World, FaultProxy],
) -> None:
    world, proxy = tried_once
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("POST", GROUPS_PATH, after_forward=True))
    first = await call(world, "POST", "/Groups", group_body("Team", [ada["id"]]))
    assert first.status == 503
    [pending] = await world.store.pending_intents()

    retried = await call(world, "POST", "/Groups", group_body("Team", [ada["id"]]))
    assert retried.status == 409
    assert await filter_ids(world, "Groups", "displayName", "Team") == [pending.target]
    assert [m.member_scim_id for m in await world.store.list_members(pending.target)] == [ada["id"]]
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await world.store.pending_intents() == []


async def test_a_retried_create_whose_first_attempt_never_landed_creates_and_rolls_the_attempt_back(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """A 503 may come after the master applied the write, so the intent stays pending; this one never reached
    the master. The retry creates the user, and the first attempt is rolled back at once: the userName is the
    retry's on the master now, so the first can no longer land."""
    world, proxy = tried_once
    proxy.rules.append(Rule("POST", USERS_PATH, status=503, text="unavailable"))
    first = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert first.status == 503
    assert "Retry-After" in first.headers
    assert len(await world.store.pending_intents()) == 1

    retried = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert retried.status == 201
    assert await filter_ids(world, "Users", "userName", "ada@example.com") == [(await retried.json())["id"]]
    assert await _states(world) == [("create", IntentState.ROLLED_BACK), ("create", IntentState.DONE)]


async def test_a_retried_user_patch_after_a_lost_answer_keeps_the_first_attempt_until_the_grace(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """The PATCH is applied again from the store's state, and the first attempt's restore after it finds nothing
    to undo. The intent stays pending, though: the master might still apply a write the bridge gave up on
    (test_retry_late_landing.py), and until the grace each write of the user, then the background, restores."""
    world, proxy = tried_once
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("PATCH", USER_PATH, after_forward=True))
    deactivate = patch({"op": "replace", "value": {"active": False}})
    first = await call(world, "PATCH", f"/Users/{ada['id']}", deactivate)
    assert first.status == 503
    assert len(await world.store.pending_intents()) == 1

    retried = await call(world, "PATCH", f"/Users/{ada['id']}", deactivate)
    assert retried.status == 200
    assert (await retried.json())["active"] is False
    assert not (await world.master.state()).users["ada@example.com"].active
    assert (await _states(world))[1:] == [("patch", IntentState.PENDING), ("patch", IntentState.DONE)]
    await past_the_grace(world)
    assert (await _states(world))[1:] == [("patch", IntentState.ROLLED_BACK), ("patch", IntentState.DONE)]
    assert not (await world.master.state()).users["ada@example.com"].active


async def test_a_different_patch_after_a_lost_one_puts_the_master_back_to_what_the_idp_was_told(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """The IdP heard 503 for the first PATCH (a member added) and sends another (a rename) first: the master's
    membership the first attempt left is undone by that request rather than two minutes later."""
    world, proxy = tried_once
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team")
    # Every answer lost (the client sends an assignments call again after a lost answer: it is idempotent).
    lost = Rule("PATCH", ASSIGNMENTS_PATH, after_forward=True, times=10)
    proxy.rules.append(lost)
    add = patch({"op": "add", "path": "members", "value": [{"value": ada["id"]}]})
    first = await call(world, "PATCH", f"/Groups/{group['id']}", add)
    assert first.status == 503
    lost.times = 0
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}

    renamed = await call(
        world,
        "PATCH",
        f"/Groups/{group['id']}",
        patch({"op": "replace", "path": "displayName", "value": "Crew"}),
    )
    assert renamed.status in (200, 204)
    assert (await world.master.state()).groups == {"Crew": frozenset()}
    assert await world.store.list_members(group["id"]) == []
    # Kept pending until the grace (its assignments call might land again), then rolled back.
    assert [p.operation for p in await world.store.pending_intents()] == ["patch"]
    await past_the_grace(world)
    assert await world.store.pending_intents() == []
    assert (await world.master.state()).groups == {"Crew": frozenset()}


async def test_a_request_still_in_flight_keeps_its_intent_while_another_retry_settles(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """Only ended requests' intents are resolved at once: while a create is between its master write and its
    store write, a retry settling another name's intents leaves it alone, and it finishes as usual."""
    world, proxy = tried_once
    proxy.rules.append(Rule("POST", USERS_PATH, after_forward=True))
    assert (await call(world, "POST", "/Users", user_body("bob@example.com", "Bob"))).status == 503
    [bobs] = await world.store.pending_intents()
    seen: list[list[tuple[str, str]]] = []

    async def retry_bob() -> None:
        retried = await call(world, "POST", "/Users", user_body("bob@example.com", "Bob"))
        assert retried.status == 409
        seen.append([(p.operation, p.target) for p in await world.store.pending_intents()])

    proxy.rules.append(Rule("POST", USERS_PATH, meanwhile=retry_bob))
    ada = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert ada.status == 201
    ada_id = (await ada.json())["id"]
    # During Bob's retry, Ada's create was in flight: its intent was pending, and stayed so.
    assert seen == [[("create", ada_id)]]
    assert await filter_ids(world, "Users", "userName", "bob@example.com") == [bobs.target]
    assert await world.store.pending_intents() == []


async def test_another_process_s_intent_keeps_the_grace(tried_once: tuple[World, FaultProxy]) -> None:
    """A pending create another writer journalled (an `adopt` beside the server, a previous process) is not this
    process's to resolve early: the retry answers as before, and the intent waits for the grace."""
    world, _proxy = tried_once
    await world.store.begin_intent(
        request_id="elsewhere",
        operation="create",
        resource_type="User",
        target="f0f0f0f0-0000-4000-8000-000000000000",
        payload_digest=digest({"username": "ada@example.com", "active": True, "remote": True}),
    )
    await world.app[MASTER].create_user("ada@example.com", "Ada", True)
    retried = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert retried.status == 409
    assert await filter_ids(world, "Users", "userName", "ada@example.com") == []
    assert len(await world.store.pending_intents()) == 1


async def test_a_master_outage_during_the_retry_answers_503_and_the_next_retry_settles(
    tried_once: tuple[World, FaultProxy],
) -> None:
    world, proxy = tried_once
    proxy.rules.append(Rule("POST", USERS_PATH, after_forward=True))
    assert (await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))).status == 503
    # The retry's create, then resolution's listing of the master's users, meet the outage.
    outage = [
        Rule("POST", USERS_PATH, status=503, text="down"),
        Rule("GET", USERS_PATH, status=503, text="down"),
    ]
    proxy.rules.extend(outage)
    during = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert during.status == 503
    assert "Retry-After" in during.headers
    assert (await during.json())["status"] == "503"
    # Both the first attempt's intent and the retry's own (its create may have landed too) wait.
    minted = {p.target for p in await world.store.pending_intents()}
    assert len(minted) == 2

    assert [rule.times for rule in outage] == [0, 0]
    after = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert after.status == 409
    # The user is mapped under one of the SCIM ids minted for it (the newest intent is resolved first, and
    # both journalled the same payload).
    [mapped] = await filter_ids(world, "Users", "userName", "ada@example.com")
    assert mapped in minted
    assert await world.store.pending_intents() == []
