"""A POST of a deleted user's userName relinks its Determined user only if that user is still the tombstone's.

A tombstone keeps the Determined id of the master it was made on. After `reconcile --repair --allow-mass-retire`
against another master (docs/reliability.md, "Overriding against a wrong master") that id means nothing there,
and the master may give it to anyone: an admin's new user, say. Before the fix the IdP's re-create of the userName
relinked onto whoever held the id, renaming that person's account to the IdP's user and handing it over. The
bridge, the emulator over HTTP and the SQLite store are real.
"""

from __future__ import annotations

import secrets
import uuid

from bridge.reconcile import Mode, build_reconciler
from bridge.store import UserFields
from bridge.web.keys import MASTER, SETTINGS
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.scim import call, create_user, user_body

# The first id the master gives a user of its own (after the two built-in accounts): the old master gave it too.
OLD_DET_ID = 3


async def _retired_by_the_override(world: World, *names: str) -> list[str]:
    """The mappings of `names` from the old master (Determined users 3, 4, ... there), retired by the operator's
    override pass against this master, which has no such users yet; their SCIM ids."""
    scim_ids = []
    for det_id, name in enumerate(names, start=OLD_DET_ID):
        doc = {"userName": name, "displayName": name, "active": True}
        record = await world.store.insert_user(
            scim_id=str(uuid.uuid4()), det_id=det_id, fields=UserFields(name, None, name, True, doc)
        )
        scim_ids.append(record.scim_id)
    reconciler = await build_reconciler(
        world.app[SETTINGS], world.store, world.app[MASTER], allow_mass_retire=True
    )
    report = await reconciler.run(Mode.REPAIR)
    assert [d.kind.value for d in report.repaired] == ["user.missing"] * len(names)
    return scim_ids


async def test_a_reused_id_is_not_relinked_and_the_user_is_provisioned_afresh(
    world: World, captured_logs: LogReader
) -> None:
    """Before the fix the POST answered 201 on Determined user 3: stranger's account, renamed to alice."""
    [old_scim_id] = await _retired_by_the_override(world, "alice@example.com")
    # An administrator adds a user of this master's own; the master gives it the id alice's tombstone holds.
    stranger = await world.app[MASTER].create_user("stranger", "Stranger", True)
    assert stranger.id == OLD_DET_ID

    response = await call(world, "POST", "/Users", user_body("alice@example.com", "Alice"))

    assert response.status == 201, await response.text()
    created = await response.json()
    state = await world.master.state()
    assert (state.users["stranger"].id, state.users["stranger"].active) == (OLD_DET_ID, True)
    alice = state.users["alice@example.com"]
    assert alice.id != OLD_DET_ID
    record = await world.store.get_user_by_scim_id(created["id"])
    assert record is not None
    assert record.det_id == alice.id
    assert await world.store.get_user_by_scim_id(old_scim_id, include_tombstoned=True) is None
    warnings = [e for e in captured_logs() if e.get("event") == "user.tombstone_taken_on_master"]
    assert [(e["level"], e["scim_id"], e["det_id"], e["master_user_name"]) for e in warnings] == [
        ("warning", old_scim_id, OLD_DET_ID, "stranger")
    ]


async def test_a_new_user_the_master_gives_a_tombstones_id_is_mapped(
    world: World, captured_logs: LogReader
) -> None:
    """The IdP re-creates bob before alice: this master gives bob id 3, which alice's tombstone still holds. Before
    the fix the insert failed on that id, the POST answered 409 with bob active and unmapped on the master, and
    every retry 409 again (the name now taken there). The tombstone maps no user of this master (its id is bob's
    now), so it is dropped and bob mapped; alice's re-create then provisions her afresh."""
    alice_old, _bob_old = await _retired_by_the_override(world, "alice@example.com", "bob@example.com")

    bob = await call(world, "POST", "/Users", user_body("bob@example.com", "Bob"))
    assert bob.status == 201, await bob.text()
    alice = await call(world, "POST", "/Users", user_body("alice@example.com", "Alice"))
    assert alice.status == 201, await alice.text()

    state = await world.master.state()
    for response, name in ((bob, "bob@example.com"), (alice, "alice@example.com")):
        record = await world.store.get_user_by_scim_id((await response.json())["id"])
        assert record is not None
        assert (record.det_id, state.users[name].active) == (state.users[name].id, True)
    assert state.users["bob@example.com"].id == OLD_DET_ID
    assert await world.store.pending_intents() == []
    taken = [e for e in captured_logs() if e.get("event") == "user.tombstone_taken_on_master"]
    assert [(e["scim_id"], e["det_id"], e["master_user_name"]) for e in taken] == [
        (alice_old, OLD_DET_ID, "bob@example.com")
    ]


async def test_a_deleted_user_renamed_only_in_case_is_still_relinked(world: World) -> None:
    """The comparison ignores case, as the store's userName does: a deleted user whose Determined name an admin
    only re-cased is still the IdP's, and its re-create relinks it (renamed back) rather than making a second."""
    ada = await create_user(world, "ada@example.com", "Ada")
    det_id = (await world.master.state()).users["ada@example.com"].id
    assert (await call(world, "DELETE", f"/Users/{ada['id']}")).status == 204
    master = world.app[MASTER]
    # Remote users are renamed with the two-call flip (master-api.md §7.2), as Determined's UI does.
    await master.patch_user(
        det_id, active=False, username="ADA@example.com", remote=False, password=secrets.token_urlsafe(32)
    )
    await master.patch_user(det_id, active=False, remote=True)

    again = await create_user(world, "ada@example.com", "Ada")

    relinked = (await world.master.state()).users["ada@example.com"]
    assert (relinked.id, relinked.active) == (det_id, True)
    record = await world.store.get_user_by_scim_id(again["id"])
    assert record is not None
    assert record.det_id == det_id
