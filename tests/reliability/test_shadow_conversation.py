"""``mode: shadow`` over a whole IdP conversation, as an operator runs it: a shadow bridge on a backup of the
live database, beside the live bridge, in front of the same master (docs/reliability.md, "Shadow mode").

The master must not change at all; every write the shadow bridge would have made is one ``shadow.master_call``
event naming fields but never their values; and the shadow bridge's own reads of the master (the overlay) must
agree with the writes it pretended to make, so later requests in the conversation get the answers they would
get in normal mode.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from bridge.determined import DeterminedClient, create_master_client
from bridge.reconcile.shadow import SHADOW_ID_BASE
from bridge.store import open_store
from bridge.web.app import create_app
from tests.conftest import LogReader
from tests.reliability.conftest import client_settings
from tests.reliability.shadow_setup import GROUP_URN, HEADERS, USER_URN
from tests.reliability.test_retried_post import _settings

PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Every value the IdP sends in the conversation that could identify a person or a team.
PERSONAL = (
    "ada.lovelace@example.com",
    "Ada Lovelace",
    "Ada King",
    "carol@example.com",
    "carol.new@example.com",
    "Carol Shaw",
    "dora",
    "analysts",
    "quants",
    "finance",
)
MASTER_FIELDS = {"username", "displayName", "active", "admin", "remote", "password", "name", "addUsers"}


async def _master_state(master: DeterminedClient) -> tuple[object, ...]:
    """Everything the bridge could change on the master (logins aside: the shadow bridge logs in too)."""
    users = sorted([u._replace(last_auth_at=None) async for u in master.iter_users()], key=lambda u: u.id)
    groups = []
    async for listed in master.iter_groups():
        details = await master.get_group(listed.id)
        groups.append((details.id, details.name, sorted(u.id for u in details.users)))
    return tuple(users), tuple(sorted(groups))


async def _send(
    idp: TestClient[Any, Any], method: str, path: str, body: Mapping[str, object] | None = None
) -> tuple[int, Any]:
    async with idp.request(method, f"/scim/v2{path}", json=body, headers=HEADERS) as answer:
        text = await answer.text()
        return answer.status, json.loads(text) if text else None


def _user(name: str, display: str, **extra: object) -> dict[str, object]:
    return {"schemas": [USER_URN], "userName": name, "displayName": display, "active": True, **extra}


def _patch(*operations: dict[str, object]) -> dict[str, object]:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


async def test_a_whole_conversation_in_shadow_mode_leaves_the_master_as_it_was(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    live_db, shadow_db = tmp_path / "live.db", tmp_path / "shadow.db"
    live = await aiohttp_client(create_app(_settings(emulator_url, live_db)))
    status, carol = await _send(live, "POST", "/Users", _user("carol@example.com", "Carol Shaw"))
    assert status == 201, carol
    status, ops = await _send(
        live,
        "POST",
        "/Groups",
        {"schemas": [GROUP_URN], "displayName": "ops", "members": [{"value": carol["id"]}]},
    )
    assert status == 201, ops
    admin = create_master_client(client_settings(emulator_url))
    try:
        # A Determined user and group nobody provisioned: the master refuses a second one of either name.
        await admin.create_user("dora", "Dora", True)
        await admin.create_group("finance")
        store = await open_store(live_db)
        try:
            await store.backup(shadow_db)
        finally:
            await store.close()
        before = await _master_state(admin)
        shadow = await aiohttp_client(
            create_app(dataclasses.replace(_settings(emulator_url, shadow_db), mode="shadow"))
        )

        status, ada = await _send(shadow, "POST", "/Users", _user("ada.lovelace@example.com", "Ada Lovelace"))
        assert status == 201, ada
        status, dup = await _send(shadow, "POST", "/Users", _user("dora", "Dora"))
        assert status == 409, dup
        assert "exists on the Determined master" in dup["detail"]
        status, ada = await _send(
            shadow,
            "PATCH",
            f"/Users/{ada['id']}",
            _patch({"op": "replace", "value": {"displayName": "Ada King", "active": False}}),
        )
        assert status == 200, ada
        assert (ada["displayName"], ada["active"]) == ("Ada King", False)
        # A rename of a live (real) user, then the old name provisioned again: the overlay has freed it.
        status, renamed = await _send(
            shadow,
            "PATCH",
            f"/Users/{carol['id']}",
            _patch({"op": "replace", "path": "userName", "value": "carol.new@example.com"}),
        )
        assert status == 200, renamed
        status, again = await _send(shadow, "POST", "/Users", _user("carol@example.com", "Carol Shaw"))
        assert status == 201, again
        status, clash = await _send(
            shadow,
            "PATCH",
            f"/Users/{again['id']}",
            _patch({"op": "replace", "path": "userName", "value": "dora"}),
        )
        assert status == 409, clash

        status, analysts = await _send(
            shadow,
            "POST",
            "/Groups",
            {"schemas": [GROUP_URN], "displayName": "analysts", "members": [{"value": ada["id"]}]},
        )
        assert status == 201, analysts
        status, taken = await _send(
            shadow, "POST", "/Groups", {"schemas": [GROUP_URN], "displayName": "finance"}
        )
        assert status == 409, taken
        status, _ = await _send(
            shadow,
            "PATCH",
            f"/Groups/{analysts['id']}",
            _patch(
                {"op": "add", "path": "members", "value": [{"value": carol["id"]}, {"value": again["id"]}]},
                {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
                {"op": "replace", "path": "displayName", "value": "quants"},
            ),
        )
        assert status == 204
        status, quants = await _send(shadow, "GET", f"/Groups/{analysts['id']}")
        assert status == 200, quants
        assert quants["displayName"] == "quants"
        assert {m["value"] for m in quants["members"]} == {carol["id"], again["id"]}
        status, _ = await _send(
            shadow,
            "PATCH",
            f"/Groups/{ops['id']}",
            _patch({"op": "remove", "path": "members", "value": [{"value": carol["id"]}]}),
        )
        assert status == 204
        status, listed = await _send(shadow, "GET", f"/Users/{carol['id']}")
        assert status == 200, listed
        assert listed["userName"] == "carol.new@example.com"
        assert [g["value"] for g in listed.get("groups", [])] == [analysts["id"]]

        assert (await _send(shadow, "DELETE", f"/Users/{again['id']}"))[0] == 204
        assert (await _send(shadow, "DELETE", f"/Groups/{ops['id']}"))[0] == 204
        assert (await _send(shadow, "GET", f"/Groups/{ops['id']}"))[0] == 404
        # The deleted real group's name is free again in the overlay, as it would be on the master.
        status, reborn = await _send(
            shadow, "POST", "/Groups", {"schemas": [GROUP_URN], "displayName": "ops"}
        )
        assert status == 201, reborn
        status, quants = await _send(shadow, "GET", f"/Groups/{analysts['id']}")
        assert [m["value"] for m in quants["members"]] == [carol["id"]]

        assert await _master_state(admin) == before
        # The live bridge still answers from the untouched mapping.
        status, live_carol = await _send(live, "GET", f"/Users/{carol['id']}")
        assert (status, live_carol["userName"]) == (200, "carol@example.com")
    finally:
        await admin.close()

    shadow_store = await open_store(shadow_db)
    try:
        record = await shadow_store.get_user_by_scim_id(ada["id"])
        assert record is not None
        assert record.det_id > SHADOW_ID_BASE
    finally:
        await shadow_store.close()

    calls = [e for e in captured_logs() if e["event"] == "shadow.master_call"]
    for call in calls:
        assert not [value for value in PERSONAL if value in json.dumps(call)], call
        assert set(call.get("fields", [])) <= MASTER_FIELDS, call
    assert [(c["method"], c["path"]) for c in calls] == [
        ("POST", "/api/v1/users"),  # ada
        ("POST", "/api/v1/users"),  # dora, refused
        ("PATCH", "/api/v1/users/{id}"),  # ada: display name and active
        ("PATCH", "/api/v1/users/{id}"),  # carol: to local, renamed
        ("PATCH", "/api/v1/users/{id}"),  # carol: back to remote
        ("POST", "/api/v1/users"),  # carol@example.com again
        ("POST", "/api/v1/groups"),  # analysts
        ("POST", "/api/v1/groups"),  # finance, refused
        ("PUT", "/api/v1/groups/{id}"),  # analysts: members and rename
        ("PATCH", "/api/v1/users/assignments"),  # carol leaves ops
        ("PATCH", "/api/v1/users/{id}"),  # carol@example.com deactivated
        ("PATCH", "/api/v1/users/assignments"),  # ... and leaves quants
        ("DELETE", "/api/v1/groups/{id}"),  # ops
        ("POST", "/api/v1/groups"),  # ops again
    ]
    ada_patch = calls[2]
    assert set(ada_patch["fields"]) == {"active", "displayName"}
    assert ada_patch["det_id"] > SHADOW_ID_BASE
    assert "password" in calls[3]["fields"]
    assert calls[6]["fields"] == ["name", "addUsers"]
    assert calls[6]["add_users"] == [ada_patch["det_id"]]
