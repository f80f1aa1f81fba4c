"""The User `groups` attribute (RFC 7643 §4.1.2) end to end: shown from the membership table, readOnly,
filterable, projected, and never served stale from a kept rendering (bridge/web/rendered.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.store import open_store
from tests.idp.harness import BASE_PATH, OKTA_BASIC, World, start_world

HEADERS = {"Authorization": OKTA_BASIC, "Content-Type": "application/scim+json"}
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def _create_user(world: World, user_name: str, **extra: Any) -> dict[str, Any]:
    created = await world.bridge.post(
        f"{BASE_PATH}/Users", json={"schemas": [USER_URN], "userName": user_name, **extra}, headers=HEADERS
    )
    assert created.status == 201, await created.text()
    body: dict[str, Any] = await created.json(content_type=None)
    return body


async def _create_group(world: World, name: str, member_ids: list[str]) -> str:
    body = {"schemas": [GROUP_URN], "displayName": name, "members": [{"value": i} for i in member_ids]}
    created = await world.bridge.post(f"{BASE_PATH}/Groups", json=body, headers=HEADERS)
    assert created.status == 201, await created.text()
    return str((await created.json(content_type=None))["id"])


async def _patch_group(world: World, group_id: str, *operations: dict[str, Any]) -> None:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    patched = await world.bridge.patch(f"{BASE_PATH}/Groups/{group_id}", json=body, headers=HEADERS)
    assert patched.status in (200, 204), await patched.text()


async def _get(
    world: World, scim_id: str, query: str = "", **headers: str
) -> tuple[int, str, dict[str, Any]]:
    response = await world.bridge.get(f"{BASE_PATH}/Users/{scim_id}{query}", headers={**HEADERS, **headers})
    body = await response.json(content_type=None) if response.status != 304 else {}
    return response.status, response.headers.get("ETag", ""), body


async def _list(world: World, query: str) -> tuple[int, dict[str, Any]]:
    response = await world.bridge.get(f"{BASE_PATH}/Users?{query}", headers=HEADERS)
    body: dict[str, Any] = await response.json(content_type=None)
    return response.status, body


def _entry(world: World, group_id: str, display: str) -> dict[str, str]:
    ref = str(world.bridge.make_url(f"{BASE_PATH}/Groups/{group_id}"))
    return {"value": group_id, "$ref": ref, "display": display, "type": "direct"}


async def test_group_writes_show_on_the_user_with_a_new_etag_and_never_a_stale_kept_body(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    ada = (await _create_user(world, "ada"))["id"]
    bob = (await _create_user(world, "bob"))["id"]
    status, ada_etag, body = await _get(world, ada)
    assert (status, "groups" in body) == (200, False)  # RFC 7643 §2.5: unassigned, not returned as []
    _, bob_etag, _ = await _get(world, bob)

    devs = await _create_group(world, "devs", [ada])
    status, etag, body = await _get(world, ada)
    assert body["groups"] == [_entry(world, devs, "devs")]
    assert etag != ada_etag
    assert etag == body["meta"]["version"]
    assert (await _get(world, ada, **{"If-None-Match": ada_etag}))[0] == 200
    assert (await _get(world, ada, **{"If-None-Match": etag}))[0] == 304
    assert (await _get(world, bob))[1] == bob_etag  # only the users whose groups changed move
    ada_etag = etag

    await _patch_group(world, devs, {"op": "add", "path": "members", "value": [{"value": bob}]})
    _, etag, body = await _get(world, bob)
    assert (body["groups"], etag != bob_etag) == ([_entry(world, devs, "devs")], True)
    assert (await _get(world, ada))[1] == ada_etag

    ops = await _create_group(world, "Ops", [ada])
    _, etag, body = await _get(world, ada)
    assert body["groups"] == [_entry(world, devs, "devs"), _entry(world, ops, "Ops")]  # by displayName
    await _patch_group(world, devs, {"op": "remove", "path": f'members[value eq "{ada}"]'})
    assert (await _get(world, ada))[2]["groups"] == [_entry(world, ops, "Ops")]

    # A PUT renames the group and sets its members: every member shows the new display.
    put = {"schemas": [GROUP_URN], "displayName": "builders", "members": [{"value": ada}, {"value": bob}]}
    replaced = await world.bridge.put(f"{BASE_PATH}/Groups/{devs}", json=put, headers=HEADERS)
    assert replaced.status == 200
    for user, expected in ((ada, ["builders", "Ops"]), (bob, ["builders"])):
        assert [g["display"] for g in (await _get(world, user))[2]["groups"]] == expected
    await _patch_group(world, ops, {"op": "replace", "path": "displayName", "value": "Admins"})
    assert [g["display"] for g in (await _get(world, ada))[2]["groups"]] == ["Admins", "builders"]

    # Lists render each user as GET /Users/{id} does.
    _, listed = await _list(world, "sortBy=userName")
    assert listed["Resources"] == [(await _get(world, ada))[2], (await _get(world, bob))[2]]

    # A membership written by another process on the same database (scim-bridge reconcile) shows at once.
    other = await open_store(tmp_path / "bridge.db")
    try:
        await other.remove_members(devs, [bob])
    finally:
        await other.close()
    assert "groups" not in (await _get(world, bob))[2]

    _, etag, _ = await _get(world, ada)
    deleted = await world.bridge.delete(f"{BASE_PATH}/Groups/{devs}", headers=HEADERS)
    assert deleted.status == 204
    status, new_etag, body = await _get(world, ada)
    assert (body["groups"], new_etag != etag) == ([_entry(world, ops, "Admins")], True)


async def test_groups_filters_and_projections(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    ada = (await _create_user(world, "ada"))["id"]
    bob = (await _create_user(world, "bob"))["id"]
    await _create_user(world, "cy")
    devs = await _create_group(world, "devs", [ada, bob])
    ops = await _create_group(world, "ops", [ada])

    async def names(query: str) -> list[str]:
        status, body = await _list(world, query + "&sortBy=userName")
        assert status == 200, body
        return [r["userName"] for r in body["Resources"]]

    assert await names(f'filter=groups.value eq "{ops}"') == ["ada"]
    assert await names(f'filter=groups eq "{devs.upper()}"') == ["ada", "bob"]  # value, not caseExact
    assert await names('filter=groups.display eq "DEVS" and not (groups.display eq "ops")') == ["bob"]
    assert await names(f'filter=groups[value eq "{ops}" or display sw "de"]') == ["ada", "bob"]
    assert await names("filter=not (groups pr)") == ["cy"]
    assert await names('filter=groups.value eq "no-such-group"') == []
    assert await names('filter=groups.type eq "direct"') == ["ada", "bob"]
    _, by_group = await _list(world, "sortBy=groups.display&sortOrder=descending")
    assert [r["userName"] for r in by_group["Resources"]] == ["ada", "bob", "cy"]  # min display; none last
    status, body = await _list(world, 'filter=groups.$ref eq "x"')
    assert (status, body["scimType"]) == (400, "invalidFilter")
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]

    _, _, only = await _get(world, ada, "?attributes=groups")
    assert set(only) == {"schemas", "id", "meta", "groups"}
    assert only["groups"] == [_entry(world, devs, "devs"), _entry(world, ops, "ops")]
    _, _, display = await _get(world, ada, "?attributes=groups.display")
    assert display["groups"] == [{"display": "devs"}, {"display": "ops"}]
    _, _, excluded = await _get(world, ada, "?excludedAttributes=groups")
    assert ("groups" in excluded, excluded["userName"]) == (False, "ada")
    _, listed = await _list(world, f'filter=groups eq "{ops}"&attributes=groups.value')
    (resource,) = listed["Resources"]
    assert (resource["id"], resource["groups"]) == (ada, [{"value": devs}, {"value": ops}])
    assert "userName" not in resource


async def test_groups_is_read_only_for_idps(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    ada = (await _create_user(world, "ada", groups=[]))["id"]  # Okta sends an empty list on create
    devs = await _create_group(world, "devs", [ada])
    # A client-sent `groups` neither joins nor leaves a group on POST or PUT.
    bob = await _create_user(world, "bob", groups=[{"value": devs}])
    assert "groups" not in bob
    put = {"schemas": [USER_URN], "userName": "ada", "groups": [{"value": "elsewhere"}]}
    replaced = await world.bridge.put(f"{BASE_PATH}/Users/{ada}", json=put, headers=HEADERS)
    assert replaced.status == 200
    assert (await replaced.json(content_type=None))["groups"] == [_entry(world, devs, "devs")]
    patch_body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "A"}],
    }
    patched = await world.bridge.patch(f"{BASE_PATH}/Users/{ada}", json=patch_body, headers=HEADERS)
    assert (await patched.json(content_type=None))["groups"] == [_entry(world, devs, "devs")]

    for operation in (
        {"op": "add", "path": "groups", "value": [{"value": devs}]},
        {"op": "remove", "path": f'groups[value eq "{devs}"]'},
        {"op": "replace", "value": {"groups": []}},
    ):
        body = {"schemas": [PATCH_OP], "Operations": [operation]}
        refused = await world.bridge.patch(f"{BASE_PATH}/Users/{ada}", json=body, headers=HEADERS)
        error = await refused.json(content_type=None)
        assert (refused.status, error["scimType"]) == (400, "mutability"), operation
    group = await (await world.bridge.get(f"{BASE_PATH}/Groups/{devs}", headers=HEADERS)).json(
        content_type=None
    )
    assert [m["value"] for m in group["members"]] == [ada]


async def test_a_deleted_user_leaves_its_groups_and_comes_back_without_them(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    ada = (await _create_user(world, "ada"))["id"]
    devs = await _create_group(world, "devs", [ada])
    assert len((await _get(world, ada))[2]["groups"]) == 1
    deleted = await world.bridge.delete(f"{BASE_PATH}/Users/{ada}", headers=HEADERS)
    assert deleted.status == 204
    assert (await _get(world, ada))[0] == 404
    assert await world.store.list_members(devs) == []
    assert (await _list(world, f'filter=groups eq "{devs}"'))[1]["totalResults"] == 0

    again = await _create_user(world, "ada")  # re-links the same Determined user under a new id
    assert "groups" not in again
    assert "groups" not in (await _get(world, again["id"]))[2]
    assert await world.store.list_members(devs) == []
