"""A first attempt the master is still applying when the IdP's retry settles it (provisioning/ended.py): it may
land after the retry, so the retry settles what it can and keeps the rest pending until it can no longer land.

The proxy between bridge and emulator answers the first attempt 503 at once and keeps the request; the test
forwards it later (`FaultProxy.land_held`), as a master still working on a request the bridge timed out on.
reconcile.intent_grace is 120 s: the background never runs by itself; `past_the_grace` runs its resolution."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.store import IntentState, Store
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.faults import (
    GROUPS_PATH,
    USER_PATH,
    USERS_PATH,
    FaultProxy,
    Rule,
    start_world_behind_proxy,
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
from tests.provisioning.test_adoption import _adopt_meanwhile

# The master's answer to a create of a userName it has (master-api.md §4.7 step 10).
MASTER_DUPLICATE = 500


# -- 1: the retry's create fails for another reason while the first attempt is still on its way -----------


async def test_a_retried_create_the_master_refuses_keeps_the_first_attempt_pending_until_it_lands(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """The retry's create fails (the master's 500: certainly not applied), so the userName is still free on the
    master and the first attempt may land yet: rolling it back now would leave its user unmapped for good (the
    IdP's every retry 409, its filter finding nothing). It stays pending; once it landed, the next retry maps it."""
    world, proxy = tried_once
    proxy.rules.append(Rule("POST", USERS_PATH, status=503, text="timeout", hold=True))
    assert (await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))).status == 503
    [first] = await world.store.pending_intents()

    proxy.rules.append(Rule("POST", USERS_PATH, status=500, text="internal"))
    refused = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert refused.status not in (201, 409, 503)
    assert [p.id for p in await world.store.pending_intents()] == [first.id]

    assert await proxy.land_held() == [200]
    retried = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert retried.status == 409
    assert await filter_ids(world, "Users", "userName", "ada@example.com") == [first.target]
    record = await world.store.get_user_by_scim_id(first.target)
    assert record is not None
    assert record.det_id == (await world.master.state()).users["ada@example.com"].id
    assert await world.store.pending_intents() == []


async def test_a_retried_group_create_the_master_refuses_keeps_the_first_attempt_pending_until_it_lands(
    tried_once: tuple[World, FaultProxy],
) -> None:
    world, proxy = tried_once
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("POST", GROUPS_PATH, status=503, text="timeout", hold=True))
    assert (await call(world, "POST", "/Groups", group_body("Team", [ada["id"]]))).status == 503
    [first] = await world.store.pending_intents()

    proxy.rules.append(Rule("POST", GROUPS_PATH, status=500, text="internal"))
    assert (await call(world, "POST", "/Groups", group_body("Team", [ada["id"]]))).status not in (
        201,
        409,
        503,
    )
    assert [p.id for p in await world.store.pending_intents()] == [first.id]

    assert await proxy.land_held() == [200]
    assert (await call(world, "POST", "/Groups", group_body("Team", [ada["id"]]))).status == 409
    assert await filter_ids(world, "Groups", "displayName", "Team") == [first.target]
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}
    assert await world.store.pending_intents() == []


async def test_a_first_attempt_that_never_lands_is_rolled_back_once_past_the_grace(
    tried_once: tuple[World, FaultProxy],
) -> None:
    world, proxy = tried_once
    proxy.rules.append(Rule("POST", USERS_PATH, status=503, text="timeout"))
    assert (await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))).status == 503
    proxy.rules.append(Rule("POST", USERS_PATH, status=500, text="internal"))
    assert (await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))).status not in (
        201,
        409,
        503,
    )
    [first] = await world.store.pending_intents()
    await past_the_grace(world)
    assert (await world.store.get_intent(first.id)) is not None
    assert (await world.store.get_intent(first.id)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]
    assert "ada@example.com" not in (await world.master.state()).users


async def test_a_late_landing_after_the_retry_created_the_user_is_refused_by_the_master(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """The retry's 201 takes the userName on the master, so the first attempt is rolled back at once: landing
    later, it is the master's duplicate, and the user the IdP was given stays the only one."""
    world, proxy = tried_once
    proxy.rules.append(Rule("POST", USERS_PATH, status=503, text="timeout", hold=True))
    assert (await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))).status == 503
    [first] = await world.store.pending_intents()
    created = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert created.status == 201
    assert (await world.store.get_intent(first.id)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]

    assert await proxy.land_held() == [MASTER_DUPLICATE]
    assert await filter_ids(world, "Users", "userName", "ada@example.com") == [(await created.json())["id"]]
    assert (await call(world, "GET", f"/Users/{first.target}")).status == 404
    assert await world.store.pending_intents() == []


# -- 2: a first PATCH that lands after the retry's different one ----------------------------------------


async def test_a_first_patch_landing_after_a_different_retry_is_overwritten_by_the_newest_state(
    tried_once: tuple[World, FaultProxy], captured_logs: LogReader
) -> None:
    """The IdP heard 503 for a rename and sends a deactivation. The rename's PatchUser (which also says
    active: true) lands after that: the master has the user active again, which the IdP never asked for last.
    The rename's intent stays pending after the retry restored the master (it may still land), so the next
    write of the user, or the background once past the grace, puts the master back to the store's state."""
    world, proxy = tried_once
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("PATCH", USER_PATH, status=503, text="timeout", hold=True))
    rename = patch({"op": "replace", "path": "displayName", "value": "Ada Lovelace"})
    assert (await call(world, "PATCH", f"/Users/{ada['id']}", rename)).status == 503
    [first] = await world.store.pending_intents()

    deactivate = patch({"op": "replace", "value": {"active": False}})
    assert (await call(world, "PATCH", f"/Users/{ada['id']}", deactivate)).status == 200
    assert not (await world.master.state()).users["ada@example.com"].active
    assert [p.id for p in await world.store.pending_intents()] == [first.id]
    kept = [e for e in captured_logs() if e.get("event") == "reconcile.intent_kept"]
    assert [(e["intent_id"], e["operation"]) for e in kept] == [(first.id, "patch")]

    assert await proxy.land_held() == [200]
    landed = (await world.master.state()).users["ada@example.com"]
    assert (landed.active, landed.display_name) == (True, "Ada Lovelace")
    await past_the_grace(world)
    restored = (await world.master.state()).users["ada@example.com"]
    assert (restored.active, restored.display_name) == (False, "Ada")
    assert (await world.store.get_intent(first.id)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]
    assert await world.store.pending_intents() == []


async def test_the_next_write_of_the_user_overwrites_a_late_landing_within_the_grace(
    tried_once: tuple[World, FaultProxy],
) -> None:
    world, proxy = tried_once
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("PATCH", USER_PATH, status=503, text="timeout", hold=True))
    rename = patch({"op": "replace", "path": "displayName", "value": "Ada Lovelace"})
    assert (await call(world, "PATCH", f"/Users/{ada['id']}", rename)).status == 503
    deactivate = patch({"op": "replace", "value": {"active": False}})
    assert (await call(world, "PATCH", f"/Users/{ada['id']}", deactivate)).status == 200
    assert await proxy.land_held() == [200]

    # A write that changes nothing on the master (externalId is the store's alone) still settles under the lock.
    tagged = patch({"op": "replace", "path": "externalId", "value": "okta-7"})
    assert (await call(world, "PATCH", f"/Users/{ada['id']}", tagged)).status == 200
    restored = (await world.master.state()).users["ada@example.com"]
    assert (restored.active, restored.display_name) == (False, "Ada")
    assert len(await world.store.pending_intents()) == 1  # still: it could land again only until the grace


async def test_a_group_member_add_landing_after_a_rename_is_overwritten(
    tried_once: tuple[World, FaultProxy],
) -> None:
    world, proxy = tried_once
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team")
    proxy.rules.append(Rule("PATCH", r"/api/v1/users/assignments", status=503, text="timeout", hold=True))
    add = patch({"op": "add", "path": "members", "value": [{"value": ada["id"]}]})
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", add)).status == 503
    rename = patch({"op": "replace", "path": "displayName", "value": "Crew"})
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", rename)).status in (200, 204)
    assert await proxy.land_held() == [200]
    assert (await world.master.state()).groups == {"Crew": frozenset({"ada@example.com"})}

    await past_the_grace(world)
    assert (await world.master.state()).groups == {"Crew": frozenset()}
    assert await world.store.list_members(group["id"]) == []
    assert await world.store.pending_intents() == []


async def test_a_delete_landing_after_another_acknowledged_write_is_undone(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """The IdP heard 503 for a DELETE and then 200 for a PATCH of the same user: the user exists as far as it was
    told. The DELETE's deactivation landing after that is no delete the resolution completes (the store's version
    moved past what the delete read: test_pending_delete.py); it is undone at the grace like any other late
    landing, and the IdP's retry of the DELETE deletes the user."""
    world, proxy = tried_once
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("PATCH", USER_PATH, status=503, text="timeout", hold=True))
    assert (await call(world, "DELETE", f"/Users/{ada['id']}")).status == 503
    tagged = patch({"op": "replace", "path": "externalId", "value": "okta-7"})
    assert (await call(world, "PATCH", f"/Users/{ada['id']}", tagged)).status == 200
    [delete] = await world.store.pending_intents()
    assert delete.operation == "delete"
    assert await proxy.land_held() == [200]

    await past_the_grace(world)
    assert (await world.store.get_intent(delete.id)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]
    assert (await world.master.state()).users["ada@example.com"].active
    shown = await call(world, "GET", f"/Users/{ada['id']}")
    assert shown.status == 200
    assert ((await shown.json())["active"], (await shown.json())["externalId"]) == (True, "okta-7")

    assert (await call(world, "DELETE", f"/Users/{ada['id']}")).status == 204
    assert not (await world.master.state()).users["ada@example.com"].active
    assert (await call(world, "GET", f"/Users/{ada['id']}")).status == 404


# -- 3: two pending creates of one userName -----------------------------------------------------------------


async def test_of_two_pending_creates_the_newest_id_is_mapped_and_the_other_answers_404(
    tried_once: tuple[World, FaultProxy],
) -> None:
    """Two attempts answered 503 (no 201, so the IdP holds no id of either) both land late, the second as the
    master's duplicate. The next retry maps the user under the newest attempt's SCIM id, as the background does;
    the IdP learns it from its filter, and the other id, never given out, is 404."""
    world, proxy = tried_once
    proxy.rules.append(Rule("POST", USERS_PATH, status=503, text="timeout", hold=True, times=2))
    answers = [
        (await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))).status for _ in "12"
    ]
    assert answers == [503, 503]
    older, newer = await world.store.pending_intents()
    assert await proxy.land_held() == [200, MASTER_DUPLICATE]

    retried = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert retried.status == 409
    assert await filter_ids(world, "Users", "userName", "ada@example.com") == [newer.target]
    assert (await call(world, "GET", f"/Users/{newer.target}")).status == 200
    assert (await call(world, "GET", f"/Users/{older.target}")).status == 404
    assert (await world.store.get_intent(older.id)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]
    assert (await world.store.get_intent(newer.id)).state is IntentState.DONE  # type: ignore[union-attr]
    assert await world.store.pending_intents() == []


# -- 4: the finish of a create another writer mapped meanwhile fails ----------------------------------------


async def test_a_refused_finish_of_a_create_mapped_meanwhile_settles_at_the_retry(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs: LogReader,
) -> None:
    """`adopt` maps the create's new user while its answer is on the way, and another process takes the
    database's write lock just before the create finishes its intent as done: the finish is refused (busy),
    the IdP hears 409. The intent is noted for the retry like every other one left pending: the IdP's retried
    POST settles it (rolled back: the user is adopt's mapping, nothing to map and nothing sent to the master)."""
    world, proxy = await start_world_behind_proxy(
        aiohttp_server, aiohttp_client, tmp_path, database={"busy_timeout": 0.2}
    )
    adopt = _adopt_meanwhile(world, io.StringIO())
    adopted: list[bool] = []

    async def adopt_then_arm() -> None:
        await adopt()
        adopted.append(True)

    proxy.rules.append(Rule("POST", USERS_PATH, meanwhile=adopt_then_arm))
    other = sqlite3.connect(world.store.path, isolation_level=None)
    looked_up = Store.get_user_by_det_id

    async def then_lock(store: Store, det_id: int, *, include_tombstoned: bool = False) -> Any:
        # The create's look-up of who holds its new user, after its insert met adopt's mapping: the other
        # process takes the lock right then, before the create finishes its intent.
        found = await looked_up(store, det_id, include_tombstoned=include_tombstoned)
        if adopted and not other.in_transaction:
            other.execute("BEGIN IMMEDIATE")
        return found

    monkeypatch.setattr(Store, "get_user_by_det_id", then_lock)
    try:
        answer = await call(world, "POST", "/Users", user_body("race@example.com", "Race"))
    finally:
        monkeypatch.undo()
        other.execute("ROLLBACK")
        other.close()
    assert answer.status == 409
    refused = [e for e in captured_logs() if e.get("event") == "intent.finish_refused"]
    assert [e["reason"] for e in refused] == ["busy"]
    [left] = await world.store.pending_intents()

    proxy.seen.clear()
    assert (await call(world, "POST", "/Users", user_body("race@example.com", "Race"))).status == 409
    assert (await world.store.get_intent(left.id)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]
    assert not [seen for seen in proxy.seen if not seen.startswith("GET ")]
    master_user = (await world.master.state()).users["race@example.com"]
    assert master_user.active
    mapped = await world.store.get_user_by_det_id(master_user.id)
    assert mapped is not None
    assert await filter_ids(world, "Users", "userName", "race@example.com") == [mapped.scim_id]
