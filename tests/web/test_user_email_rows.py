"""A user PATCH keeps the email rows (what `emails` filters read) those of the document it stores."""

from __future__ import annotations

from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.idp.harness import BASE_PATH, OKTA_BASIC, World, start_world

HEADERS = {"Authorization": OKTA_BASIC, "Content-Type": "application/scim+json"}
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def _patch(world: World, scim_id: str, *operations: dict[str, object]) -> None:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    patched = await world.bridge.patch(f"{BASE_PATH}/Users/{scim_id}", json=body, headers=HEADERS)
    assert patched.status == 200


async def _found(world: World, address: str) -> int:
    response = await world.bridge.get(
        f'{BASE_PATH}/Users?filter=emails.value eq "{address}"', headers=HEADERS
    )
    assert response.status == 200
    return int((await response.json(content_type=None))["totalResults"])


async def test_a_patch_of_an_email_moves_its_row_and_a_deactivation_keeps_it(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """A deactivation leaves the read document's emails list as it is (the store then skips comparing the
    rows); a PATCH of one email's value, made on that same record, must still rewrite them."""
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada",
        "emails": [{"value": "ada@old.example", "type": "work", "primary": True}],
    }
    created = await world.bridge.post(f"{BASE_PATH}/Users", json=body, headers=HEADERS)
    assert created.status == 201
    scim_id = str((await created.json(content_type=None))["id"])

    await _patch(world, scim_id, {"op": "replace", "path": "active", "value": False})
    assert (await _found(world, "ada@old.example"), await _found(world, "ada@new.example")) == (1, 0)

    await _patch(
        world, scim_id, {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@new.example"}
    )
    assert (await _found(world, "ada@old.example"), await _found(world, "ada@new.example")) == (0, 1)

    await _patch(world, scim_id, {"op": "replace", "path": "active", "value": True})
    assert (await _found(world, "ada@old.example"), await _found(world, "ada@new.example")) == (0, 1)
