"""Adoption against the emulator: unmanaged users/groups linked by name; built-in plugin rows keep their ids."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.commands.adopt import run_adopt
from bridge.commands.adoption_run import run_adoption
from bridge.commands.import_builtin import run_import_builtin
from bridge.config import Settings
from bridge.provisioning.adoption import parse_builtin_export
from bridge.provisioning.consistency import digest
from bridge.reconcile import Mode, build_reconciler
from bridge.store import GroupRecord, Store, UserFields, UserRecord
from bridge.web.keys import MASTER, SETTINGS
from tests.idp.harness import World
from tests.provisioning.faults import FaultProxy, Rule
from tests.provisioning.scim import call, user_body
from tests.provisioning.test_stale_members import LOST_DET_ID, stale_user
from tests.provisioning.test_tombstone_relink import OLD_DET_ID, _retired_by_the_override


async def make_master_user(world: World, name: str, *, remote: bool = True) -> int:
    body: dict[str, object] = {
        "user": {"username": name, "active": True, "remote": remote, "displayName": name}
    }
    if not remote:
        body["password"] = "Xy12345678"
    created = await world.master.call("POST", "/api/v1/users", body)
    user_id: int = created["user"]["id"]
    return user_id


async def test_adopt_links_unmanaged_users_and_groups_by_name(world: World) -> None:
    bob = await make_master_user(world, "bob@example.com")
    await world.master.call("POST", "/api/v1/groups", {"name": "Ops", "addUsers": [bob]})
    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=out) == 0
    report = out.getvalue()
    assert "user linked: bob@example.com" in report
    assert "group linked: Ops" in report
    assert "skipped admin: protected account" in report
    listed = await (await call(world, "GET", "/Users?filter=userName%20eq%20%22bob@example.com%22")).json()
    assert listed["totalResults"] == 1
    groups = await (await call(world, "GET", "/Groups")).json()
    assert [m["value"] for m in groups["Resources"][0]["members"]] == [listed["Resources"][0]["id"]]
    assert (await call(world, "POST", "/Users", user_body("bob@example.com", "Bob"))).status == 409
    again = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=again) == 0
    assert "0 users, 0 groups linked" in again.getvalue()


async def test_adopt_dry_run_changes_nothing(world: World) -> None:
    await make_master_user(world, "bob@example.com")
    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], dry_run=True, out=out) == 0
    assert "(dry run) user linked: bob@example.com" in out.getvalue()
    assert (await (await call(world, "GET", "/Users")).json())["totalResults"] == 0


async def test_import_builtin_keeps_the_plugin_scim_ids(world: World, tmp_path: Path) -> None:
    jane = await make_master_user(world, "jane@example.com")
    scim_id = str(uuid.uuid4())
    export = [
        {
            "id": scim_id,
            "user_id": jane,
            "external_id": "00u-okta-jane",
            "name": json.dumps({"givenName": "Jane", "familyName": "Doe"}),
            "emails": json.dumps([{"type": "work", "value": "jane@example.com", "primary": True}]),
        },
        {"id": str(uuid.uuid4()), "user_id": 999, "external_id": None, "name": None, "emails": None},
        {"id": str(uuid.uuid4()), "user_id": 1, "external_id": None, "name": None, "emails": None},
    ]
    path = tmp_path / "scim-users.json"
    path.write_text(json.dumps(export))
    out = io.StringIO()
    assert await run_import_builtin(world.app[SETTINGS], str(path), out=out) == 0
    assert "user linked: jane@example.com" in out.getvalue()
    assert "Determined user 999 does not exist" in out.getvalue()
    assert "skipped admin: protected account" in out.getvalue()
    user = await (await call(world, "GET", f"/Users/{scim_id}")).json()
    assert user["externalId"] == "00u-okta-jane"
    assert user["name"] == {"givenName": "Jane", "familyName": "Doe"}
    assert user["emails"][0]["value"] == "jane@example.com"


def test_builtin_export_parses_csv_and_rejects_garbage() -> None:
    scim_id = str(uuid.uuid4())
    text = (
        "id,user_id,external_id,name,emails\n"
        f'{scim_id},7,00u1,"{{""givenName"": ""A""}}","[{{""value"": ""a@x""}}]"\n'
    )
    (row,) = parse_builtin_export(text)
    assert (row.scim_id, row.user_id, row.external_id) == (scim_id, 7, "00u1")
    assert row.name == {"givenName": "A"}
    assert row.emails == [{"value": "a@x"}]
    with pytest.raises(ValueError, match="row 1"):
        parse_builtin_export("id,user_id\nnot-a-uuid,7\n")


async def _dead_tombstone(world: World, name: str) -> str:
    """A user the IdP deleted while its Determined user was already gone: a tombstone nothing can relink."""
    ghost = await stale_user(world, name)
    assert (await call(world, "DELETE", f"/Users/{ghost.scim_id}")).status == 204
    return ghost.scim_id


async def test_adopt_links_a_master_user_whose_name_only_a_dead_tombstone_holds(world: World) -> None:
    """The master got a user of that name back (re-created by hand, or a restored database under a new id):
    the tombstone's own Determined user is gone, so nothing could relink it and the name is free to adopt."""
    old = await _dead_tombstone(world, "ghost@example.com")
    back = await make_master_user(world, "ghost@example.com")

    dry = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], dry_run=True, out=dry) == 0
    assert "(dry run) user linked: ghost@example.com" in dry.getvalue()
    assert "(dry run) released ghost@example.com: " in dry.getvalue()
    assert await world.store.get_user_by_scim_id(old, include_tombstoned=True) is not None

    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=out) == 0
    report = out.getvalue()
    assert "user linked: ghost@example.com" in report
    assert f"released ghost@example.com: deleted user {old}" in report
    assert "skipped ghost@example.com" not in report
    assert await world.store.get_user_by_scim_id(old, include_tombstoned=True) is None
    listed = await (await call(world, "GET", '/Users?filter=userName eq "ghost@example.com"')).json()
    assert listed["totalResults"] == 1
    adopted = await world.store.get_user_by_scim_id(listed["Resources"][0]["id"])
    assert adopted is not None
    assert adopted.det_id == back
    # The IdP's re-create now meets the adopted user (Okta and authentik link it after the 409).
    assert (await call(world, "POST", "/Users", user_body("ghost@example.com", "Ghost"))).status == 409
    reconciler = await build_reconciler(world.app[SETTINGS], world.store, world.app[MASTER])
    assert [d for d in (await reconciler.run(Mode.REPORT)).drifts if d.scim_id is not None] == []


async def test_adopt_leaves_a_deleted_user_whose_determined_user_still_exists(world: World) -> None:
    """An ordinary tombstone (its Determined user deactivated by the DELETE) is the IdP's to relink. The report
    says so; before, the user was left out of it without a word, dry run or not."""
    created = await (await call(world, "POST", "/Users", user_body("bob@example.com", "Bob"))).json()
    assert (await call(world, "DELETE", f"/Users/{created['id']}")).status == 204
    reason = (
        f"skipped bob@example.com: Determined user held by deleted SCIM user {created['id']} "
        "(the IdP relinks it by creating userName bob@example.com again)"
    )
    dry = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], dry_run=True, out=dry) == 0
    assert f"(dry run) {reason}" in dry.getvalue().splitlines()
    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=out) == 0
    lines = out.getvalue().splitlines()
    assert reason in lines
    assert [line for line in lines if "bob@example.com" in line] == [reason]
    assert "0 users, 0 groups linked; 3 skipped" in lines  # with admin and determined (protected)
    tombstone = await world.store.get_user_by_scim_id(created["id"], include_tombstoned=True)
    assert tombstone is not None
    assert tombstone.tombstoned_at is not None


async def test_adopt_says_when_the_idps_create_frees_a_user_a_deleted_user_holds(world: World) -> None:
    """After an override against another master, a deleted user's mapping keeps the old master's id, which this
    master gave an admin's own user: the IdP's POST of the deleted userName no longer relinks it (it drops the
    tombstone and provisions afresh), and the report says so; after that POST, adopt links the admin's user."""
    [old] = await _retired_by_the_override(world, "alice@example.com")
    stranger = await world.app[MASTER].create_user("stranger", "Stranger", True)
    assert stranger.id == OLD_DET_ID
    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=out) == 0
    assert (
        f"skipped stranger: Determined user held by deleted SCIM user {old} under userName alice@example.com "
        "(an IdP create of that userName drops the deleted user; adopt again after it)"
    ) in out.getvalue().splitlines()
    assert (await call(world, "POST", "/Users", user_body("alice@example.com", "Alice"))).status == 201
    again = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=again) == 0
    assert "user linked: stranger" in again.getvalue().splitlines()


async def test_adopt_skips_a_name_a_live_stale_mapping_holds_and_says_why(world: World) -> None:
    """A live mapping whose Determined user is gone stays the IdP's resource until its next write retires it."""
    ghost = await stale_user(world, "ghost@example.com")
    await make_master_user(world, "ghost@example.com")
    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=out) == 0
    assert "skipped ghost@example.com: userName held by a SCIM user whose Determined user" in out.getvalue()
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is not None


async def test_import_builtin_releases_a_dead_tombstone_holding_the_name(
    world: World, tmp_path: Path
) -> None:
    old = await _dead_tombstone(world, "jane@example.com")
    jane = await make_master_user(world, "jane@example.com")
    scim_id = str(uuid.uuid4())
    path = tmp_path / "scim-users.json"
    path.write_text(json.dumps([{"id": scim_id, "user_id": jane, "external_id": "00u-jane"}]))
    out = io.StringIO()
    assert await run_import_builtin(world.app[SETTINGS], str(path), out=out) == 0
    assert f"released jane@example.com: deleted user {old}" in out.getvalue()
    assert "user linked: jane@example.com" in out.getvalue()
    assert (await call(world, "GET", f"/Users/{scim_id}")).status == 200
    assert await world.store.get_user_by_scim_id(old, include_tombstoned=True) is None


@pytest.mark.parametrize(
    "fault",
    [
        Rule("GET", rf"/api/v1/users/{LOST_DET_ID}", status=503, times=100),
        Rule("GET", rf"/api/v1/users/{LOST_DET_ID}", status=404, text="404 page not found", times=100),
    ],
    ids=["master-unavailable", "proxy-404"],
)
async def test_adopt_releases_a_tombstone_only_on_the_masters_own_user_not_found(
    proxied: tuple[World, FaultProxy], fault: Rule
) -> None:
    """Adoption never relinks a mapping: it skips every master user a mapping (live or deleted) points at, and
    the only mapping it may drop is a deleted one whose Determined user the master itself says it lacks. When
    the master cannot answer for that user, or something else answers 404, the tombstone is kept (it may be
    the IdP's to relink) and the name is skipped."""
    world, proxy = proxied
    old = await _dead_tombstone(world, "ghost@example.com")
    await make_master_user(world, "ghost@example.com")
    proxy.rules.append(fault)
    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=out) == 0
    assert f"GET /api/v1/users/{LOST_DET_ID}" in proxy.seen
    assert "skipped ghost@example.com: userName already mapped to another Determined user" in out.getvalue()
    assert "released" not in out.getvalue()
    tombstone = await world.store.get_user_by_scim_id(old, include_tombstoned=True)
    assert tombstone is not None
    assert tombstone.tombstoned_at is not None
    assert await world.store.get_user_by_user_name("ghost@example.com") is None


def _mapped_between_check_and_insert(
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    look_up: str,
    key: object,
    map_it: Callable[[], Awaitable[object]],
) -> None:
    """The seam: adopt's last check before its insert (the Store method ``look_up``, asked for ``key``) answers
    "not mapped" once, right after ``map_it`` has mapped that object through the serving bridge's own Store on
    the same SQLite file.

    That is a serving bridge finishing a mapping between adopt's checks and its insert, made deterministic.
    Only a Store other than the serving bridge's is touched, and only once.
    """
    real: Callable[..., Awaitable[Any]] = getattr(Store, look_up)
    raced: list[object] = []

    async def racing(store: Store, wanted: object, **kwargs: Any) -> Any:
        if store is not world.store and wanted == key and not raced:
            raced.append(wanted)
            await map_it()
            return None
        return await real(store, wanted, **kwargs)

    monkeypatch.setattr(Store, look_up, racing)


async def test_adopt_skips_a_user_a_serving_bridge_maps_between_its_check_and_its_insert(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insert's Duplicate is that one user's skip, not the end of the command (exit 3 partway)."""
    bob = await make_master_user(world, "bob@example.com")
    await make_master_user(world, "carol@example.com")
    await world.master.call("POST", "/api/v1/groups", {"name": "Ops", "addUsers": [bob]})
    theirs = str(uuid.uuid4())

    async def map_bob() -> UserRecord:
        fields = UserFields("bob@example.com", None, None, True, {"userName": "bob@example.com"})
        return await world.store.insert_user(scim_id=theirs, det_id=bob, fields=fields)

    _mapped_between_check_and_insert(monkeypatch, world, "get_user_by_user_name", "bob@example.com", map_bob)
    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=out) == 0
    report = out.getvalue()
    assert "skipped bob@example.com: mapped meanwhile" in report
    assert "user linked: carol@example.com" in report
    assert "group linked: Ops" in report
    mapped = await world.store.get_user_by_det_id(bob)
    assert mapped is not None
    assert mapped.scim_id == theirs


async def test_adopt_skips_a_group_a_serving_bridge_maps_between_its_check_and_its_insert(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for users: the group mapped meanwhile is skipped and the groups after it are still adopted."""
    ops = (await world.master.call("POST", "/api/v1/groups", {"name": "Ops"}))["group"]["groupId"]
    await world.master.call("POST", "/api/v1/groups", {"name": "Dev"})
    theirs = str(uuid.uuid4())

    async def map_ops() -> GroupRecord:
        return await world.store.insert_group(
            scim_id=theirs, det_id=ops, display_name="Ops", external_id=None, doc={"displayName": "Ops"}
        )

    _mapped_between_check_and_insert(monkeypatch, world, "get_group_by_display_name", "Ops", map_ops)
    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=out) == 0
    report = out.getvalue()
    assert "skipped Ops: mapped meanwhile" in report
    assert "group linked: Dev" in report
    mapped = await world.store.get_group_by_det_id(ops)
    assert mapped is not None
    assert mapped.scim_id == theirs


async def _crashed_create(world: World, name: str) -> tuple[str, int]:
    """A create that made its Determined user and died before mapping it: the intent is still pending."""
    scim_id = str(uuid.uuid4())
    await world.store.begin_intent(
        request_id="req-crashed",
        operation="create",
        resource_type="User",
        target=scim_id,
        payload_digest=digest({"username": name, "active": True, "remote": True}),
    )
    return scim_id, await make_master_user(world, name)


def _grace(settings: Settings, seconds: float) -> Settings:
    return dataclasses.replace(
        settings, reconcile=dataclasses.replace(settings.reconcile, intent_grace=seconds)
    )


async def test_adopt_settles_a_crashed_create_first_so_its_user_keeps_that_scim_id(world: World) -> None:
    """As start-up adoption does: the intent (older than reconcile.intent_grace) completes under its SCIM id,
    and adoption then finds that user mapped instead of linking it under a new one."""
    scim_id, det_id = await _crashed_create(world, "late@example.com")
    await make_master_user(world, "bob@example.com")
    out = io.StringIO()
    assert await run_adopt(_grace(world.app[SETTINGS], 0.0), out=out) == 0
    assert "user linked: bob@example.com" in out.getvalue()
    assert "late@example.com" not in out.getvalue()
    record = await world.store.get_user_by_det_id(det_id)
    assert record is not None
    assert record.scim_id == scim_id
    assert await world.store.pending_intents() == []


async def test_adopt_refuses_while_an_intent_stays_pending_and_its_dry_run_says_so(world: World) -> None:
    """An intent younger than reconcile.intent_grace may be a serving bridge's request in flight: it is left
    to that bridge, and adoption links nothing until it is settled (exit 1, saying why and when to rerun)."""
    _, det_id = await _crashed_create(world, "late@example.com")
    await make_master_user(world, "bob@example.com")
    dry = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], dry_run=True, out=dry) == 0
    assert (
        "(dry run) 1 write intent(s) pending: adoption would refuse until they are resolved" in dry.getvalue()
    )
    out = io.StringIO()
    assert await run_adopt(world.app[SETTINGS], out=out) == 1
    assert out.getvalue().startswith("adoption refused: 1 write intent(s) still pending")
    assert "reconcile.intent_grace, 120 s" in out.getvalue()
    assert "linked" not in out.getvalue()
    assert await world.store.get_user_by_det_id(det_id) is None
    assert await world.store.get_user_by_user_name("bob@example.com") is None
    assert len(await world.store.pending_intents()) == 1


async def test_import_builtin_refuses_while_an_intent_stays_pending(world: World, tmp_path: Path) -> None:
    """As adopt: a pending create's Determined user must not be mapped under the plugin's SCIM id meanwhile."""
    _, det_id = await _crashed_create(world, "late@example.com")
    path = tmp_path / "export.json"
    row = {"id": str(uuid.uuid4()), "user_id": det_id, "external_id": None, "name": None, "emails": None}
    path.write_text(json.dumps([row]), encoding="utf-8")
    out = io.StringIO()
    assert await run_import_builtin(world.app[SETTINGS], str(path), out=out) == 1
    assert out.getvalue().startswith("import refused: 1 write intent(s) still pending")
    assert "linked" not in out.getvalue()
    assert await world.store.get_user_by_det_id(det_id) is None
    assert len(await world.store.pending_intents()) == 1


async def test_import_builtin_names_why_a_taken_scim_id_is_skipped(world: World, tmp_path: Path) -> None:
    bob = await make_master_user(world, "bob@example.com")
    created = await (await call(world, "POST", "/Users", user_body("carol@example.com", "Carol"))).json()
    path = tmp_path / "export.json"
    row = {"id": created["id"], "user_id": bob, "external_id": None, "name": None, "emails": None}
    path.write_text(json.dumps([row]), encoding="utf-8")
    out = io.StringIO()
    assert await run_import_builtin(world.app[SETTINGS], str(path), out=out) == 0
    assert f"skipped bob@example.com: SCIM id {created['id']} is already another mapping's" in out.getvalue()
    assert await world.store.get_user_by_det_id(bob) is None


def _adopt_meanwhile(world: World, report: io.StringIO) -> Callable[[], Awaitable[None]]:
    """`scim-bridge adopt`'s own run, minus its pending-intent check: an adopt whose check ran before the
    create under test began, now listing the master while that create's answer is on its way."""

    async def adopt() -> None:
        assert (
            await run_adoption(
                world.app[SETTINGS], lambda adopter: adopter.adopt(), what="adopt", dry_run=False, out=report
            )
            == 0
        )

    return adopt


async def test_a_create_whose_new_user_adopt_maps_meanwhile_answers_409_and_leaves_the_user_alone(
    proxied: tuple[World, FaultProxy],
) -> None:
    world, proxy = proxied
    report = io.StringIO()
    proxy.rules.append(Rule("POST", "/api/v1/users", meanwhile=_adopt_meanwhile(world, report)))
    answer = await call(world, "POST", "/Users", user_body("race@example.com", "Race"))
    assert answer.status == 409
    assert (await answer.json())["scimType"] == "uniqueness"
    assert "user linked: race@example.com" in report.getvalue()
    master_user = (await world.master.state()).users["race@example.com"]
    assert master_user.active  # not deactivated, as an unrecorded create would be
    mapped = await world.store.get_user_by_det_id(master_user.id)
    assert mapped is not None
    listed = await (await call(world, "GET", '/Users?filter=userName eq "race@example.com"')).json()
    assert [r["id"] for r in listed["Resources"]] == [mapped.scim_id]
    assert await world.store.pending_intents() == []


async def test_a_create_whose_new_group_adopt_maps_meanwhile_answers_409_and_leaves_the_group_alone(
    proxied: tuple[World, FaultProxy],
) -> None:
    world, proxy = proxied
    report = io.StringIO()
    proxy.rules.append(Rule("POST", "/api/v1/groups", meanwhile=_adopt_meanwhile(world, report)))
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Racers"}
    answer = await call(world, "POST", "/Groups", body)
    assert answer.status == 409
    assert (await answer.json())["scimType"] == "uniqueness"
    assert "group linked: Racers" in report.getvalue()
    assert "Racers" in (await world.master.state()).groups  # not deleted, as an unrecorded create would be
    found = await world.master.call("POST", "/api/v1/groups/search", {"name": "Racers", "limit": 10})
    det_ids = [entry["group"]["groupId"] for entry in found["groups"]]
    assert len(det_ids) == 1
    assert await world.store.get_group_by_det_id(det_ids[0]) is not None
    assert await world.store.pending_intents() == []
