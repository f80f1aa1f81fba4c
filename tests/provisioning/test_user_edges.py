"""User requests the other end-to-end tests leave out: a password for a remote user under password_sync, and
the userName probe qualified by a schema URN. The bridge on a socket, the emulator over HTTP and the SQLite
store are real."""

from __future__ import annotations

from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.scim.schemas import ENTERPRISE_USER_URN, USER_URN
from tests.idp.harness import World, start_world
from tests.idp.master_view import can_log_in
from tests.provisioning.scim import call, create_user, patch, user_body


async def test_a_password_for_a_remote_user_is_ignored_even_with_password_sync(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """Remote users log in through SSO only (master-api §5.3): the IdP's password never becomes a master
    password login, and a PATCH carrying only a password makes no master write."""
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path, users={"password_sync": True})
    url = str(world.emulator.make_url("")).rstrip("/")
    created = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada", password="Init1alPass"))
    assert created.status == 201
    body = await created.json()
    before = await world.master.state()
    assert before.users["ada@example.com"].remote
    changed = await call(
        world,
        "PATCH",
        f"/Users/{body['id']}",
        patch({"op": "replace", "value": {"password": "n3wP4ssw0rd!"}}),
    )
    assert changed.status == 200, await changed.text()
    assert "password" not in await changed.json()
    assert not await can_log_in(url, "ada@example.com", "n3wP4ssw0rd!")
    assert not await can_log_in(url, "ada@example.com", "Init1alPass")
    assert await world.master.state() == before
    assert (await world.store.recent_audit(1))[0].master_calls == 1  # the read that found the user remote


async def test_the_username_probe_under_the_core_urn_finds_the_user_and_under_another_urn_is_refused(
    world: World,
) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    found = await call(world, "GET", f'/Users?filter={USER_URN}:userName eq "ADA@example.com"')
    assert found.status == 200
    assert [u["id"] for u in (await found.json())["Resources"]] == [ada["id"]]
    # The enterprise extension has no userName: not the probe's shortcut, but the filter's own 400.
    foreign = await call(world, "GET", f'/Users?filter={ENTERPRISE_USER_URN}:userName eq "ada@example.com"')
    assert foreign.status == 400
    body = await foreign.json()
    assert body["scimType"] == "invalidFilter"
    assert "unknown attribute" in body["detail"]


async def test_a_scim_1_body_with_core_attributes_under_their_urn_creates_the_user(world: World) -> None:
    """OneLogin's 1.x templates nest the core attributes under their 1.0 URN (compat.LEGACY_URNS): they are
    lifted to the top level, and a top-level attribute of the same name wins."""
    body = {
        "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
        "urn:scim:schemas:core:1.0": {"userName": "ada@example.com", "displayName": "Nested", "title": "Eng"},
        "displayName": "Ada Lovelace",
        "urn:scim:schemas:extension:enterprise:1.0": {"department": "Analytics"},
    }
    created = await call(world, "POST", "/Users", body)
    assert created.status == 201, await created.text()
    user = await created.json()
    assert (user["userName"], user["displayName"], user["title"]) == (
        "ada@example.com",
        "Ada Lovelace",
        "Eng",
    )
    assert user[ENTERPRISE_USER_URN]["department"] == "Analytics"
    master = (await world.master.state()).users["ada@example.com"]
    assert master.display_name == "Ada Lovelace"
