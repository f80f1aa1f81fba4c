"""A user whose mapping points at a Determined user the master no longer has (a restored or foreign master
database; reconciliation reports it as user.missing and keeps the mapping).

One story for every verb: until a write finds the Determined user gone, the SCIM resource is answered from the
store; DELETE succeeds (the state it asks for, no usable account, already holds on the master), and a PATCH or
PUT that must reach the Determined user answers RFC 7644 §3.12 404. Both tombstone the mapping and its
memberships, so GET, listings, the IdP's re-lookup by userName and reconciliation agree with the answer, and
the IdP's re-create provisions a new Determined user. The bridge, the emulator over HTTP and the SQLite store
are real.
"""

from __future__ import annotations

from typing import Any

import pytest

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


async def _listed(world: World, user_name: str) -> int:
    """totalResults of the IdP's pre-create lookup by userName."""
    response = await call(world, "GET", f'/Users?filter=userName eq "{user_name}"')
    assert response.status == 200
    total: int = (await response.json())["totalResults"]
    return total


@pytest.mark.parametrize(
    ("method", "body", "operation"),
    [
        ("PATCH", patch({"op": "replace", "value": {"active": False}}), "patch"),
        ("PATCH", patch({"op": "replace", "path": "displayName", "value": "Ghost Two"}), "patch"),
        ("PUT", user_body("ghost2@example.com", "Ghost"), "replace"),
    ],
    ids=["patch-deactivate", "patch-display-name", "put-rename"],
)
async def test_a_write_reaching_a_stale_user_is_404_and_retires_the_mapping(
    world: World, captured_logs: LogReader, method: str, body: dict[str, Any], operation: str
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    ghost = await stale_user(world)
    group = await create_group(world, "Team", [ada["id"]])
    await world.store.add_members(group["id"], [MemberRecord(ghost.scim_id, display="Ghost")])
    master_before = await world.master.state()

    response = await call(world, method, f"/Users/{ghost.scim_id}", body)
    assert response.status == 404, await response.text()
    error = await response.json()
    assert error["status"] == "404"
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert ghost.scim_id in error["detail"]
    assert "user.missing" in error["detail"]

    # Every read agrees with the 404, so the IdP's re-lookup by userName finds nothing and it re-creates.
    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 404
    assert await _listed(world, "ghost@example.com") == 0
    listed = await (await call(world, "GET", "/Users")).json()
    assert [u["id"] for u in listed["Resources"]] == [ada["id"]]
    assert await store_members(world, group["id"]) == {ada["id"]}
    # Nothing is lost: the mapping stays as a tombstone with the attributes it had (the request changed
    # nothing), the master was not touched, and no intent is left.
    tombstone = await world.store.get_user_by_scim_id(ghost.scim_id, include_tombstoned=True)
    assert tombstone is not None
    assert tombstone.tombstoned_at is not None
    assert (tombstone.det_id, tombstone.user_name, tombstone.doc["displayName"]) == (
        LOST_DET_ID,
        "ghost@example.com",
        "Ghost",
    )
    assert await world.master.state() == master_before
    assert await world.store.pending_intents() == []
    assert await drifts(world) == []
    [audit] = [a for a in await world.store.recent_audit(1000) if a.resource_id == ghost.scim_id]
    assert (audit.operation, audit.outcome) == (operation, "error:404:user.missing")
    logged = [e for e in captured_logs() if e.get("event") == "user.missing_on_master"]
    assert [
        (e["kind"], e["scim_id"], e["det_id"], e["operation"], e["groups"], e["level"]) for e in logged
    ] == [("user.missing", ghost.scim_id, LOST_DET_ID, operation, [group["id"]], "warning")]
    # A retry of the same write is an ordinary 404 that changes nothing more.
    again = await call(world, method, f"/Users/{ghost.scim_id}", body)
    assert again.status == 404
    assert await world.master.state() == master_before


async def test_a_change_of_scim_only_attributes_of_a_stale_user_needs_no_master_and_is_stored(
    world: World,
) -> None:
    ghost = await stale_user(world)
    external = patch({"op": "replace", "path": "externalId", "value": "okta-ghost"})
    response = await call(world, "PATCH", f"/Users/{ghost.scim_id}", external)
    assert response.status == 200, await response.text()
    assert (await response.json())["externalId"] == "okta-ghost"
    fetched = await call(world, "GET", f"/Users/{ghost.scim_id}")
    assert fetched.status == 200
    assert (await fetched.json())["externalId"] == "okta-ghost"
    assert await world.store.pending_intents() == []
    await assert_mapping_left_for_the_operator(world, ghost)


async def test_entra_heals_a_stale_user_by_lookup_and_create_after_the_404(world: World) -> None:
    """Entra's cycle (idp-traffic §3.2, §3.5): match by userName, update, and on 404 match and create again."""
    ghost = await stale_user(world)
    match = await (await call(world, "GET", '/Users?filter=userName eq "ghost@example.com"')).json()
    assert [u["id"] for u in match["Resources"]] == [ghost.scim_id]
    update = patch({"op": "Replace", "path": "displayName", "value": "Ghost Again"})
    assert (await call(world, "PATCH", f"/Users/{ghost.scim_id}", update)).status == 404

    assert await _listed(world, "ghost@example.com") == 0
    response = await call(world, "POST", "/Users", user_body("ghost@example.com", "Ghost Again"))
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["id"] != ghost.scim_id
    assert (await call(world, "PATCH", f"/Users/{created['id']}", update)).status == 200
    record = await world.store.get_user_by_scim_id(created["id"])
    assert record is not None
    assert record.det_id != LOST_DET_ID
    master_user = (await world.master.state()).users["ghost@example.com"]
    assert master_user.active
    assert await world.store.get_user_by_scim_id(ghost.scim_id, include_tombstoned=True) is None
    assert await world.store.pending_intents() == []
    assert await drifts(world) == []


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
