"""Adoption against the emulator: unmanaged users/groups linked by name; built-in plugin rows keep their ids."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

from bridge.commands.adopt import run_adopt
from bridge.commands.import_builtin import run_import_builtin
from bridge.provisioning.adoption import parse_builtin_export
from bridge.web.keys import SETTINGS
from tests.idp.harness import World
from tests.provisioning.scim import call, user_body


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
