"""Routes kept for Microsoft's SCIMReferenceCode clients: /serviceConfiguration and trailing-slash collections."""

from __future__ import annotations

from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.idp.harness import BASE_PATH, OKTA_BASIC, start_world

AUTH = {"Authorization": OKTA_BASIC}
SCIM_JSON = {**AUTH, "Content-Type": "application/scim+json"}


async def test_service_configuration_alias(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    alias = await world.bridge.get(f"{BASE_PATH}/serviceConfiguration", headers=AUTH)
    standard = await world.bridge.get(f"{BASE_PATH}/ServiceProviderConfig", headers=AUTH)
    assert alias.status == 200
    assert alias.content_type == "application/scim+json"
    body = await alias.json(content_type=None)
    assert body["patch"]["supported"] is True
    assert body == await standard.json(content_type=None)
    unauthenticated = await world.bridge.get(f"{BASE_PATH}/serviceConfiguration")
    assert unauthenticated.status == 401


async def test_collections_accept_a_trailing_slash(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ryan",
        "displayName": "Bob",
    }
    created = await world.bridge.post(f"{BASE_PATH}/Users/", json=user, headers=SCIM_JSON)
    assert created.status == 201
    user_id = (await created.json(content_type=None))["id"]
    found = await world.bridge.get(f"{BASE_PATH}/Users/?filter=DisplayName+eq+%22Bob%22", headers=AUTH)
    assert found.status == 200
    assert [r["id"] for r in (await found.json(content_type=None))["Resources"]] == [user_id]
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Slashed"}
    assert (await world.bridge.post(f"{BASE_PATH}/Groups/", json=group, headers=SCIM_JSON)).status == 201
    listed = await world.bridge.get(f"{BASE_PATH}/Groups/", headers=AUTH)
    assert [g["displayName"] for g in (await listed.json(content_type=None))["Resources"]] == ["Slashed"]
    state = await world.master.state()
    assert state.users["ryan"].active
    assert state.groups == {"Slashed": frozenset()}
