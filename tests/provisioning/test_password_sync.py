"""Optional password sync for local (non-remote) users: users.create_remote false, users.password_sync true."""

from __future__ import annotations

from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.idp.harness import start_world
from tests.idp.master_view import can_log_in
from tests.provisioning.scim import call, patch, user_body


async def test_local_users_get_and_change_the_idp_password(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(
        aiohttp_server, aiohttp_client, tmp_path, users={"create_remote": False, "password_sync": True}
    )
    url = str(world.emulator.make_url("")).rstrip("/")
    created = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada", password="Init1alPass"))
    assert created.status == 201
    body = await created.json()
    assert "password" not in body
    assert not (await world.master.state()).users["ada@example.com"].remote
    assert await can_log_in(url, "ada@example.com", "Init1alPass")
    changed = await call(
        world,
        "PATCH",
        f"/Users/{body['id']}",
        patch({"op": "replace", "value": {"password": "n3wP4ssw0rd!"}}),
    )
    assert changed.status == 200
    assert await can_log_in(url, "ada@example.com", "n3wP4ssw0rd!")
    assert not await can_log_in(url, "ada@example.com", "Init1alPass")


async def test_without_sync_local_users_never_get_a_blank_password(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path, users={"create_remote": False})
    url = str(world.emulator.make_url("")).rstrip("/")
    created = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada", password="Init1alPass"))
    assert created.status == 201
    assert not await can_log_in(url, "ada@example.com", "")
    assert not await can_log_in(url, "ada@example.com", "Init1alPass")
