"""One audit line per write request: in the transaction that finishes the intent when the write succeeds,
after it otherwise (master refusal, store failure after the master write)."""

from __future__ import annotations

import sqlite3

from bridge.store import AuditEntry, IntentState
from tests.idp.harness import World
from tests.provisioning.scim import call, create_group, create_user, patch


async def _lines(world: World, request_id: str) -> list[AuditEntry]:
    return [e for e in await world.store.recent_audit(1000) if e.request_id == request_id]


async def test_a_successful_write_has_exactly_one_ok_line(world: World) -> None:
    await create_user(world, "first@example.com", "First")  # the bridge's master login happens here
    created = await call(world, "POST", "/Users", {"userName": "ada@example.com", "displayName": "Ada"})
    body = await created.json()
    [line] = await _lines(world, created.headers["X-Request-ID"])
    assert (line.operation, line.resource_type, line.resource_id) == ("create", "User", body["id"])
    assert (line.master_calls, line.outcome, line.client) == (1, "ok", "basic")
    group = await create_group(world, "Team")
    added = await call(
        world,
        "PATCH",
        f"/Groups/{group['id']}",
        patch({"op": "add", "path": "members", "value": [{"value": body["id"]}]}),
    )
    assert added.status == 204
    [line] = await _lines(world, added.headers["X-Request-ID"])
    assert (line.operation, line.resource_type, line.resource_id, line.outcome) == (
        "patch",
        "Group",
        group["id"],
        "ok",
    )
    assert await world.store.pending_intents() == []


async def test_a_store_failure_after_the_master_write_leaves_one_error_line_and_no_ok_line(
    world: World,
) -> None:
    user = await create_user(world, "ada@example.com", "Ada")
    blocker = sqlite3.connect(world.store.path, isolation_level=None)
    try:
        # Every intent update now fails inside the store's transaction, as a broken disk would.
        blocker.execute(
            "CREATE TRIGGER refuse_finish BEFORE UPDATE ON intents BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )
        response = await call(
            world, "PATCH", f"/Users/{user['id']}", patch({"op": "replace", "path": "active", "value": False})
        )
        blocker.execute("DROP TRIGGER refuse_finish")
    finally:
        blocker.close()
    assert response.status == 500
    [line] = await _lines(world, response.headers["X-Request-ID"])
    assert (line.operation, line.outcome, line.master_calls) == ("patch", "error:500", 2)
    record = await world.store.get_user_by_scim_id(user["id"])
    assert record is not None
    assert record.active  # the store change rolled back with the audit line that rode in it
    [intent] = await world.store.pending_intents()
    assert (intent.operation, intent.state) == ("patch", IntentState.PENDING)


async def test_a_rename_refreshes_group_member_displays_in_its_own_transaction(world: World) -> None:
    user = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team", [user["id"]])
    before = await world.store.get_group_by_scim_id(group["id"])
    assert before is not None
    renamed = await call(
        world,
        "PATCH",
        f"/Users/{user['id']}",
        patch({"op": "replace", "path": "userName", "value": "augusta@example.com"}),
    )
    assert renamed.status == 200
    [member] = await world.store.list_members(group["id"])
    assert member.display == "augusta@example.com"
    after = await world.store.get_group_by_scim_id(group["id"])
    assert after is not None
    assert after.version == before.version + 1
    [line] = await _lines(world, renamed.headers["X-Request-ID"])
    assert (line.operation, line.outcome) == ("patch", "ok")
    shown = await (await call(world, "GET", f"/Groups/{group['id']}")).json()
    assert [m["display"] for m in shown["members"]] == ["augusta@example.com"]
