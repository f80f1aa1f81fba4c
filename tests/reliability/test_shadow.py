"""``mode: shadow``: the bridge answers the IdP, logs the master calls it would make, and makes none."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from pathlib import Path

from pytest_aiohttp import AiohttpClient

from bridge.determined import create_master_client
from bridge.provisioning.stale import PROBE_GETS
from bridge.store import UserFields
from bridge.web.app import create_app
from bridge.web.keys import STORE
from tests.conftest import LogReader
from tests.reliability.conftest import client_settings
from tests.reliability.test_retried_post import AUTH, _settings

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _headers() -> dict[str, str]:
    token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_shadow_mode_logs_master_writes_and_makes_none(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    settings = dataclasses.replace(_settings(emulator_url, tmp_path / "shadow.db"), mode="shadow")
    idp = await aiohttp_client(create_app(settings))
    created = await idp.post(
        "/scim/v2/Users",
        json={"schemas": [USER_URN], "userName": "ada", "displayName": "Ada L", "active": True},
        headers=_headers(),
    )
    assert created.status == 201, await created.text()
    ada = (await created.json(content_type=None))["id"]
    patched = await idp.patch(
        f"/scim/v2/Users/{ada}",
        json={"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": False}]},
        headers=_headers(),
    )
    assert patched.status in (200, 204)
    group = await idp.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "analysts", "members": [{"value": ada}]},
        headers=_headers(),
    )
    assert group.status == 201, await group.text()
    fetched = await idp.get(f"/scim/v2/Users/{ada}", headers=_headers())
    assert (await fetched.json(content_type=None))["active"] is False

    master = create_master_client(client_settings(emulator_url))
    try:
        assert [u.username async for u in master.iter_users()] == ["admin", "determined"]
        assert [g async for g in master.iter_groups()] == []
    finally:
        await master.close()
    calls = [(e["method"], e["path"]) for e in captured_logs() if e["event"] == "shadow.master_call"]
    assert calls == [
        ("POST", "/api/v1/users"),
        ("PATCH", "/api/v1/users/{id}"),
        ("POST", "/api/v1/groups"),
    ]
    patch_call = next(
        e for e in captured_logs() if e["event"] == "shadow.master_call" and e["method"] == "PATCH"
    )
    assert "active" in patch_call["fields"]


async def test_shadow_mode_simulates_member_assignments(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    settings = dataclasses.replace(_settings(emulator_url, tmp_path / "shadow.db"), mode="shadow")
    idp = await aiohttp_client(create_app(settings))
    ids = []
    for name in ("ada", "bob"):
        created = await idp.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": name, "displayName": name.title(), "active": True},
            headers=_headers(),
        )
        assert created.status == 201, await created.text()
        ids.append((await created.json(content_type=None))["id"])
    ada, bob = ids
    group = await idp.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "analysts", "members": [{"value": ada}]},
        headers=_headers(),
    )
    group_id = (await group.json(content_type=None))["id"]
    for op, member in (("add", bob), ("remove", ada)):
        changed = await idp.patch(
            f"/scim/v2/Groups/{group_id}",
            json={
                "schemas": [PATCH_URN],
                "Operations": [{"op": op, "path": "members", "value": [{"value": member}]}],
            },
            headers=_headers(),
        )
        assert changed.status == 204, await changed.text()
    assert (await idp.delete(f"/scim/v2/Users/{bob}", headers=_headers())).status == 204
    fetched = await idp.get(f"/scim/v2/Groups/{group_id}", headers=_headers())
    assert (await fetched.json(content_type=None)).get("members", []) == []

    master = create_master_client(client_settings(emulator_url))
    try:
        assert [g async for g in master.iter_groups()] == []
    finally:
        await master.close()
    shadowed = [e for e in captured_logs() if e["event"] == "shadow.master_call"]
    assignments = [
        (e.get("add_groups"), e.get("remove_groups"))
        for e in shadowed
        if (e["method"], e["path"]) == ("PATCH", "/api/v1/users/assignments")
    ]
    assert len(assignments) == 3
    assert [bool(added) for added, _ in assignments] == [True, False, False]


async def test_a_shadow_bridges_status_names_the_mode_and_probes_the_real_master(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """/status probes the master through app[MASTER], which in shadow mode is the ShadowClient."""
    settings = dataclasses.replace(_settings(emulator_url, tmp_path / "shadow.db"), mode="shadow")
    idp = await aiohttp_client(create_app(settings))
    answer = await idp.get("/status")
    assert answer.status == 200
    status = await answer.json()
    assert status["mode"] == "shadow"
    assert status["master"]["reachable"] is True
    master = create_master_client(client_settings(emulator_url))
    try:
        assert status["master"]["version"] == (await master.master_info()).version
    finally:
        await master.close()


async def test_a_shadow_write_naming_a_stale_member_retires_only_that_member(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """As in normal mode (tests/provisioning/test_stale_members.py): the add fails, the bridge asks the master
    which of the named users it lacks and retires only those. Past stale.PROBE_GETS users that question is one
    listing of every user, which must include the users the shadow bridge created."""
    settings = dataclasses.replace(_settings(emulator_url, tmp_path / "shadow.db"), mode="shadow")
    app = create_app(settings)
    idp = await aiohttp_client(app)
    members = []
    for i in range(PROBE_GETS + 1):
        created = await idp.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": f"user{i}", "active": True},
            headers=_headers(),
        )
        assert created.status == 201, await created.text()
        members.append((await created.json(content_type=None))["id"])
    ghost = await app[STORE].insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=987_654,  # a Determined user this master never had (a stale mapping)
        fields=UserFields("ghost", None, None, True, {"userName": "ghost", "active": True}),
    )
    group = await idp.post(
        "/scim/v2/Groups",
        json={
            "schemas": [GROUP_URN],
            "displayName": "everyone",
            "members": [{"value": m} for m in [*members, ghost.scim_id]],
        },
        headers=_headers(),
    )
    assert group.status == 400, await group.text()
    assert ghost.scim_id in (await group.json(content_type=None))["detail"]
    assert (await idp.get(f"/scim/v2/Users/{ghost.scim_id}", headers=_headers())).status == 404
    statuses = [(await idp.get(f"/scim/v2/Users/{m}", headers=_headers())).status for m in members]
    assert statuses == [200] * len(members)
