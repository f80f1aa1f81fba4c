"""A create whose new user or group another writer maps while the create's answer is on its way (`adopt` run
beside the serving bridge, its pending-intent check made before the create began), and the database busy when
the create records it: the create's clean-up must leave that mapping's object alone, and the IdP's next steps
after the 409 (a filter, then a write of the id found) settle what the busy database left pending.

The bridge on a socket, the emulator over HTTP behind the fault proxy, and the SQLite file are real; `adopt` is
the command's own run, and the other process holding the write lock is a second connection to that file."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.store import IntentState, Store
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.faults import GROUPS_PATH, USERS_PATH, FaultProxy, Rule, start_world_behind_proxy
from tests.provisioning.scim import call, filter_ids, group_body, patch, user_body
from tests.provisioning.test_adoption import _adopt_meanwhile


@pytest.fixture
async def busy_world(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> tuple[World, FaultProxy]:
    """The bridge behind the fault proxy; database.busy_timeout 0.2 s, so a held lock refuses at once."""
    return await start_world_behind_proxy(
        aiohttp_server, aiohttp_client, tmp_path, database={"busy_timeout": 0.2}
    )


@asynccontextmanager
async def other_process(world: World) -> AsyncIterator[sqlite3.Connection]:
    """A second connection to the database file, whose write lock (BEGIN IMMEDIATE) makes the bridge's busy;
    released on the way out."""
    other = sqlite3.connect(world.store.path, isolation_level=None)
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def adopt_then_lock(world: World, other: sqlite3.Connection) -> Callable[[], Awaitable[None]]:
    """`adopt` maps the create's new object, then the other process takes the write lock: the create's insert,
    right after, finds the database busy (not the mapping adopt made, as a Duplicate would)."""
    adopt = _adopt_meanwhile(world, io.StringIO())

    async def meanwhile() -> None:
        await adopt()
        other.execute("BEGIN IMMEDIATE")

    return meanwhile


async def test_a_busy_insert_does_not_deactivate_the_user_adopt_mapped_meanwhile(
    busy_world: tuple[World, FaultProxy], captured_logs: LogReader
) -> None:
    """Before, the failed insert was compensated as any store failure after the master's 201: the user adopt had
    just mapped (active) was deactivated on the master, so master and mapping disagreed, and the IdP heard 500."""
    world, proxy = busy_world
    async with other_process(world) as other:
        proxy.rules.append(Rule("POST", USERS_PATH, meanwhile=adopt_then_lock(world, other)))
        answer = await call(world, "POST", "/Users", user_body("race@example.com", "Race"))
    assert answer.status == 409
    body = await answer.json()
    assert body["scimType"] == "uniqueness"
    assert "another writer" in body["detail"]
    master_user = (await world.master.state()).users["race@example.com"]
    mapped = await world.store.get_user_by_det_id(master_user.id)
    assert mapped is not None
    assert master_user.active
    assert mapped.active
    assert [e["event"] for e in captured_logs() if e.get("event", "").startswith("master.compensat")] == []
    # The busy database is the reason given, without a traceback (a refused write is no bug of the bridge's).
    failed_events = ("store.write_failed_after_master", "store.write_refused_after_master")
    [failed] = [e for e in captured_logs() if e.get("event") in failed_events]
    assert (failed["event"], failed["level"], failed["operation"], failed["reason"]) == (
        "store.write_refused_after_master",
        "error",
        "create",
        "busy",
    )
    assert "exception" not in failed
    assert [p.operation for p in await world.store.pending_intents()] == ["create"]  # its finish was refused


async def test_a_busy_insert_does_not_delete_the_group_adopt_mapped_meanwhile(
    busy_world: tuple[World, FaultProxy],
) -> None:
    world, proxy = busy_world
    async with other_process(world) as other:
        proxy.rules.append(Rule("POST", GROUPS_PATH, meanwhile=adopt_then_lock(world, other)))
        answer = await call(world, "POST", "/Groups", group_body("Racers"))
    assert answer.status == 409
    assert "another writer" in (await answer.json())["detail"]
    assert "Racers" in (await world.master.state()).groups
    [mapped] = await filter_ids(world, "Groups", "displayName", "Racers")
    assert (await call(world, "GET", f"/Groups/{mapped}")).status == 200


async def test_the_idps_patch_of_the_id_its_filter_found_settles_the_refused_finish(
    busy_world: tuple[World, FaultProxy],
) -> None:
    """After the 409 the IdP looks the userName up and writes the id it found (Okta links the account, then
    pushes its profile): that write holds the other writer's user, so it settles the intent the busy database
    left pending (rolled back, no master write of its own), instead of it waiting for reconcile.intent_grace."""
    world, proxy = busy_world
    async with other_process(world) as other:
        proxy.rules.append(Rule("POST", USERS_PATH, meanwhile=adopt_then_lock(world, other)))
        assert (await call(world, "POST", "/Users", user_body("race@example.com", "Race"))).status == 409
    [left] = await world.store.pending_intents()

    [found] = await filter_ids(world, "Users", "userName", "race@example.com")
    proxy.seen.clear()
    tagged = patch({"op": "replace", "path": "externalId", "value": "okta-7"})
    assert (await call(world, "PATCH", f"/Users/{found}", tagged)).status == 200
    assert (await world.store.get_intent(left.id)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]
    assert not [seen for seen in proxy.seen if not seen.startswith("GET ")]
    assert (await world.master.state()).users["race@example.com"].active


async def test_the_idps_patch_settles_a_refused_finish_after_the_mapping_met_at_insert(
    busy_world: tuple[World, FaultProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a create whose insert met adopt's mapping (Duplicate) and whose finish as done was refused."""
    world, proxy = busy_world
    adopted: list[bool] = []
    adopt = _adopt_meanwhile(world, io.StringIO())

    async def adopt_then_arm() -> None:
        await adopt()
        adopted.append(True)

    looked_up = Store.get_user_by_det_id
    async with other_process(world) as other:

        async def then_lock(store: Store, det_id: int, *, include_tombstoned: bool = False) -> Any:
            found = await looked_up(store, det_id, include_tombstoned=include_tombstoned)
            if adopted and not other.in_transaction:
                other.execute("BEGIN IMMEDIATE")
            return found

        proxy.rules.append(Rule("POST", USERS_PATH, meanwhile=adopt_then_arm))
        monkeypatch.setattr(Store, "get_user_by_det_id", then_lock)
        assert (await call(world, "POST", "/Users", user_body("race@example.com", "Race"))).status == 409
        monkeypatch.undo()
    [left] = await world.store.pending_intents()

    [found] = await filter_ids(world, "Users", "userName", "race@example.com")
    tagged = patch({"op": "replace", "path": "externalId", "value": "okta-7"})
    assert (await call(world, "PATCH", f"/Users/{found}", tagged)).status == 200
    assert (await world.store.get_intent(left.id)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]
