"""A user whose mapping points at a Determined user the master no longer has (a restored or foreign master
database; reconciliation reports it as user.missing and keeps the mapping).

One story for every verb: the SCIM resource exists until the IdP deletes it, so GET and listings answer it
from the store; DELETE succeeds (the state it asks for, no usable account, already holds on the master) and
tombstones the mapping and its memberships; PATCH and PUT that must reach the Determined user answer RFC 7644
§3.12 500 naming the drift, change nothing and leave the mapping for the operator. The bridge, the emulator
over HTTP and the SQLite store are real.
"""

from __future__ import annotations

from bridge.provisioning.users import DELETED_MISSING_OUTCOME
from bridge.reconcile import Mode, build_reconciler
from bridge.store import MemberRecord
from bridge.web.keys import MASTER, SETTINGS
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.scim import call, create_group, create_user, patch, user_body
from tests.provisioning.test_stale_members import (
    LOST_DET_ID,
    assert_mapping_left_for_the_operator,
    stale_user,
    store_members,
)


async def drifts(world: World) -> list[tuple[str, str | None]]:
    reconciler = await build_reconciler(world.app[SETTINGS], world.store, world.app[MASTER])
    report = await reconciler.run(Mode.REPORT)
    return [(d.kind.value, d.scim_id) for d in report.drifts]


async def test_delete_of_a_stale_user_is_204_and_tombstones_it_with_its_memberships(
    world: World, captured_logs: LogReader
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"]])
    await world.store.add_members(group["id"], [MemberRecord(ghost.scim_id, display="Ghost")])
    master_before = await world.master.state()

    response = await call(world, "DELETE", f"/Users/{ghost.scim_id}")
    assert response.status == 204, await response.text()

    assert await world.store.get_user_by_scim_id(ghost.scim_id) is None
    tombstone = await world.store.get_user_by_scim_id(ghost.scim_id, include_tombstoned=True)
    assert tombstone is not None
    assert tombstone.tombstoned_at is not None
    assert await store_members(world, group["id"]) == {ada["id"]}
    assert await world.store.pending_intents() == []
    # The master was not changed (there was nothing left to deactivate) and now agrees with the store.
    assert await world.master.state() == master_before
    assert await drifts(world) == []
    [audit] = [a for a in await world.store.recent_audit(1000) if a.resource_id == ghost.scim_id]
    assert (audit.operation, audit.outcome) == ("delete", DELETED_MISSING_OUTCOME)
    deleted = [e for e in captured_logs() if e.get("event") == "user.deleted_missing_on_master"]
    assert [(e["kind"], e["scim_id"], e["det_id"], e["level"]) for e in deleted] == [
        ("user.missing", ghost.scim_id, LOST_DET_ID, "warning")
    ]

    # Idempotent as any DELETE: the resource is gone, so a retry is 404 and changes nothing.
    again = await call(world, "DELETE", f"/Users/{ghost.scim_id}")
    assert again.status == 404
    assert (await again.json())["status"] == "404"
    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 404
    assert await world.master.state() == master_before
    assert await world.store.pending_intents() == []


async def test_patch_and_put_reaching_a_stale_user_are_500_naming_the_drift_and_change_nothing(
    world: World, captured_logs: LogReader
) -> None:
    ghost = await stale_user(world)
    deactivate = patch({"op": "replace", "value": {"active": False}})
    rename = user_body("ghost2@example.com", "Ghost")
    for method, body in (("PATCH", deactivate), ("PUT", rename)):
        response = await call(world, method, f"/Users/{ghost.scim_id}", body)
        assert response.status == 500, method
        error = await response.json()
        assert error["status"] == "500"
        assert ghost.scim_id in error["detail"]
        assert "user.missing" in error["detail"]
    logged = [e for e in captured_logs() if e.get("event") == "user.missing_on_master"]
    assert [(e["kind"], e["scim_id"], e["det_id"], e["operation"]) for e in logged] == [
        ("user.missing", ghost.scim_id, LOST_DET_ID, "patch"),
        ("user.missing", ghost.scim_id, LOST_DET_ID, "replace"),
    ]
    # A change of SCIM-only attributes needs no master call and is stored as for any user.
    external = patch({"op": "replace", "path": "externalId", "value": "okta-ghost"})
    response = await call(world, "PATCH", f"/Users/{ghost.scim_id}", external)
    assert response.status == 200, await response.text()
    assert (await response.json())["externalId"] == "okta-ghost"
    # The resource still exists for SCIM (GET agrees with the 500, not with a 404); the master fields are
    # unchanged.
    fetched = await call(world, "GET", f"/Users/{ghost.scim_id}")
    assert fetched.status == 200
    body = await fetched.json()
    assert (body["userName"], body["active"]) == ("ghost@example.com", True)
    assert await world.store.pending_intents() == []
    await assert_mapping_left_for_the_operator(world, ghost)


async def test_a_deleted_stale_user_can_be_provisioned_again_as_a_new_determined_user(
    world: World, captured_logs: LogReader
) -> None:
    ghost = await stale_user(world)
    assert (await call(world, "DELETE", f"/Users/{ghost.scim_id}")).status == 204
    # The IdP assigns the person again: there is no Determined user to relink, so a new one is created.
    response = await call(world, "POST", "/Users", user_body("ghost@example.com", "Ghost"))
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["id"] != ghost.scim_id
    record = await world.store.get_user_by_scim_id(created["id"])
    assert record is not None
    assert record.det_id != LOST_DET_ID
    assert (await world.master.state()).users["ghost@example.com"].active
    assert await world.store.get_user_by_scim_id(ghost.scim_id, include_tombstoned=True) is None
    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 404
    assert await world.store.pending_intents() == []
    assert await drifts(world) == []
    forgot = [e for e in captured_logs() if e.get("event") == "user.tombstone_missing_on_master"]
    assert [(e["kind"], e["scim_id"], e["det_id"]) for e in forgot] == [
        ("user.missing", ghost.scim_id, LOST_DET_ID)
    ]
