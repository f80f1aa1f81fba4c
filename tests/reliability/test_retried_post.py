"""A bridge killed between the master create and the mapping write: the IdP's retried POST converges to one
Determined object (issue 7). The crash is reproduced exactly: the journal entry provisioning writes, the
master write, no store write; then a fresh bridge (create_app) starts on the same database file."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

from pytest_aiohttp import AiohttpClient

from bridge.config import (
    AuthSettings,
    BasicCredential,
    DatabaseSettings,
    MasterSettings,
    ScimSettings,
    Secret,
    Settings,
)
from bridge.determined import create_master_client
from bridge.provisioning.consistency import digest
from bridge.store import open_store
from bridge.web.app import create_app
from tests.reliability.conftest import ADMIN_PASSWORD, client_settings

AUTH = ("okta", "okta-password")


def _settings(master_url: str, database: Path) -> Settings:
    return Settings(
        scim=ScimSettings(auth=AuthSettings(basic=(BasicCredential("okta", AUTH[0], Secret(AUTH[1])),))),
        master=MasterSettings(url=master_url, username="admin", password=Secret(ADMIN_PASSWORD)),
        database=DatabaseSettings(path=str(database)),
    )


async def _crash_after_master_write(master_url: str, database: Path, kind: str, name: str) -> str:
    """What a bridge leaves behind when SIGKILLed right after the master answered a create."""
    scim_id = str(uuid.uuid4())
    store = await open_store(database)
    client = create_master_client(client_settings(master_url))
    try:
        if kind == "User":
            payload: object = {"username": name, "active": True, "remote": True}
            await store.begin_intent(
                request_id="r1",
                operation="create",
                resource_type="User",
                target=scim_id,
                payload_digest=digest(payload),
            )
            await client.create_user(name, name, True)
        else:
            await store.begin_intent(
                request_id="r1",
                operation="create",
                resource_type="Group",
                target=scim_id,
                payload_digest=digest({"name": name, "members": []}),
            )
            await client.create_group(name)
    finally:
        await client.close()
        await store.close()
    return scim_id


async def test_retried_user_post_after_a_crash_finds_the_one_user(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    database = tmp_path / "bridge.db"
    minted = await _crash_after_master_write(emulator_url, database, "User", "grace.hopper")
    idp = await aiohttp_client(create_app(_settings(emulator_url, database)))
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "grace.hopper",
        "active": True,
    }
    retried = await idp.post("/scim/v2/Users", json=body, headers=_basic())
    assert retried.status == 409
    # Okta's next move after a 409: look the user up by userName, then link to it.
    found = await idp.get('/scim/v2/Users?filter=userName eq "grace.hopper"', headers=_basic())
    resources = (await found.json(content_type=None))["Resources"]
    assert [r["id"] for r in resources] == [minted]
    master = create_master_client(client_settings(emulator_url))
    try:
        named = [u async for u in master.iter_users() if u.username.lower() == "grace.hopper"]
    finally:
        await master.close()
    assert len(named) == 1


async def test_retried_group_post_after_a_crash_finds_the_one_group(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    database = tmp_path / "bridge.db"
    minted = await _crash_after_master_write(emulator_url, database, "Group", "compilers")
    idp = await aiohttp_client(create_app(_settings(emulator_url, database)))
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "compilers"}
    retried = await idp.post("/scim/v2/Groups", json=body, headers=_basic())
    assert retried.status == 409
    found = await idp.get('/scim/v2/Groups?filter=displayName eq "compilers"', headers=_basic())
    assert [r["id"] for r in (await found.json(content_type=None))["Resources"]] == [minted]
    master = create_master_client(client_settings(emulator_url))
    try:
        named = [g async for g in master.iter_groups(name="compilers")]
    finally:
        await master.close()
    assert len(named) == 1


def _basic() -> dict[str, str]:
    token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
