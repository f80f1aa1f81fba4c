"""What the shadow-mode tests share: the IdP's credentials and schema URNs, a live bridge's database with
one provisioned user copied for a shadow bridge (as an operator starts a shadow run: from a backup), and the
same calls made through a real client and a ShadowClient on two identical masters, with an administrator
changing each master behind the client's back if the test wants one."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.determined import DeterminedClient, create_master_client
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.reconcile.shadow import ShadowClient
from bridge.store import open_store
from bridge.web.app import create_app
from tests.reliability.conftest import ADMIN_PASSWORD, client_settings
from tests.reliability.test_retried_post import AUTH, _settings

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
T = TypeVar("T")
Ids = dict[str, int]  # names of the objects a test made -> their Determined ids
Seed = Callable[[DeterminedClient, web.Application], Awaitable[Ids]]
AdminStep = Callable[[DeterminedClient], Awaitable[object]]
# Runs an administrator's changes on the master the client under test talks to.
Behind = Callable[[AdminStep], Awaitable[None]]
HEADERS = {"Authorization": "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()}


async def live_user_then_shadow_copy(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient, user_name: str
) -> tuple[str, Path]:
    """Provision `user_name` through a live bridge (it stays up until the test ends); return the user's SCIM id
    and a backup of the live database for a shadow bridge."""
    live_db, shadow_db = tmp_path / "live.db", tmp_path / "shadow.db"
    live = await aiohttp_client(create_app(_settings(emulator_url, live_db)))
    async with live.post(
        "/scim/v2/Users", json={"schemas": [USER_URN], "userName": user_name, "active": True}, headers=HEADERS
    ) as created:
        assert created.status == 201
        scim_id: str = (await created.json(content_type=None))["id"]
    store = await open_store(live_db)
    try:
        await store.backup(shadow_db)
    finally:
        await store.close()
    return scim_id, shadow_db


async def recording_emulator(
    aiohttp_server: AiohttpServer, *, rbac: bool = False
) -> tuple[str, web.Application, list[tuple[str, str]]]:
    """The master emulator on a socket (RBAC or basic), its app, and every (method, path) it received, ids as
    ``{id}``."""
    received: list[tuple[str, str]] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        received.append((request.method, re.sub(r"/\d+", "/{id}", request.path)))
        return await handler(request)

    app = create_emulator_app(EmulatorConfig(initial_password=ADMIN_PASSWORD, rbac=rbac))
    app.middlewares.insert(0, record)  # outermost: sees every request, even one a fault answers
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), app, received


def writes(received: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The requests that could change the master; a login changes only sessions, which the shadow bridge's
    reads need too."""
    return [(m, p) for m, p in received if m != "GET" and p not in READS_BY_POST]


# POSTs that read: group search (§4.12) and login (§4.1).
READS_BY_POST = {"/api/v1/groups/search", "/api/v1/auth/login"}


async def seeded_emulator(
    aiohttp_server: AiohttpServer, seed: Seed, *, rbac: bool = False
) -> tuple[str, Ids, list[tuple[str, str]]]:
    """A recording emulator an admin filled with ``seed`` (given the admin's client and the emulator's app):
    its URL, the seeded ids, and the requests it receives from now on."""
    url, app, received = await recording_emulator(aiohttp_server, rbac=rbac)
    admin = create_master_client(client_settings(url))
    try:
        ids = await seed(admin, app)
    finally:
        await admin.close()
    received.clear()
    return url, ids, received


async def same_through_shadow(
    aiohttp_server: AiohttpServer,
    seed: Seed,
    run: Callable[[DeterminedClient, Ids], Awaitable[T]],
    *,
    rbac: bool = False,
) -> T:
    """``run`` through a real client on one seeded master and through a ShadowClient on an identical second
    one: asserts both give the same outcome and the second master got no write; returns the real outcome."""

    async def alone(client: DeterminedClient, behind: Behind, ids: Ids) -> T:
        return await run(client, ids)

    return await same_through_shadow_with_admin(aiohttp_server, seed, alone, rbac=rbac)


async def same_through_shadow_with_admin(
    aiohttp_server: AiohttpServer,
    seed: Seed,
    run: Callable[[DeterminedClient, Behind, Ids], Awaitable[T]],
    *,
    rbac: bool = False,
) -> T:
    """``same_through_shadow``, where ``run`` is also given ``behind``: an administrator's changes to the master
    of the client it runs with, made then and there (their requests are not counted as the shadow side's)."""
    real_url, real_ids, _ = await seeded_emulator(aiohttp_server, seed, rbac=rbac)
    shadow_url, shadow_ids, shadow_received = await seeded_emulator(aiohttp_server, seed, rbac=rbac)
    assert real_ids == shadow_ids
    real = create_master_client(client_settings(real_url))
    shadow = ShadowClient(create_master_client(client_settings(shadow_url)))
    admins = [create_master_client(client_settings(url)) for url in (real_url, shadow_url)]

    def behind(admin: DeterminedClient, received: list[tuple[str, str]]) -> Behind:
        async def change(step: AdminStep) -> None:
            start = len(received)
            await step(admin)
            del received[start:]

        return change

    try:
        expected = await run(real, behind(admins[0], []), real_ids)
        through_shadow = await run(shadow, behind(admins[1], shadow_received), shadow_ids)
        assert through_shadow == expected, f"shadow: {through_shadow!r}\nmaster: {expected!r}"
    finally:
        for client in (real, shadow, *admins):
            await client.close()
    assert writes(shadow_received) == []
    return expected
