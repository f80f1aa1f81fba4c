"""Reliability fixtures: the master emulator on a socket, a client as the bridge, a client as a human admin.

Drift is made the way it happens in production: an administrator changes the master through its REST API
(what Determined's UI and CLI call), behind the bridge's back.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from bridge.config import DatabaseSettings, MasterSettings, Secret, Settings
from bridge.determined import DeterminedClient, MasterClientSettings, create_master_client
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.metrics import MetricsRecorder
from bridge.reconcile import Reconciler, build_reconciler
from bridge.reconcile.background import reconcile_context
from bridge.store import MemberRecord, Store, UserFields, UserRecord, open_store
from bridge.web.keys import MASTER, STORE
from bridge.web.metrics import METRICS
from tests.idp.master_view import MasterView
from tests.provisioning.faults import FaultProxy, start_proxy

ADMIN_PASSWORD = "emulator-admin-pw"


def client_settings(url: str) -> MasterClientSettings:
    """Login as the emulator's admin; short timeouts, no retries beyond the client's defaults."""
    return MasterClientSettings(
        url=url,
        token=None,
        username="admin",
        password=ADMIN_PASSWORD,
        connect_timeout=5.0,
        request_timeout=10.0,
        login_timeout=10.0,
    )


@dataclass(frozen=True, slots=True)
class World:
    """The bridge's store and master client, plus an admin client acting out of band."""

    store: Store
    bridge: DeterminedClient
    admin: DeterminedClient
    settings: Settings

    async def user(self, name: str, *, active: bool = True, display: str | None = None) -> UserRecord:
        """A user as provisioning leaves it: created remote on the master, mapped in the store."""
        shown = display or name.title()
        master = await self.bridge.create_user(name, shown, active)
        return await self.store.insert_user(
            scim_id=str(uuid.uuid4()),
            det_id=master.id,
            fields=UserFields(
                user_name=name,
                external_id=None,
                display_name=shown,
                active=active,
                doc={"userName": name, "displayName": shown, "active": active},
            ),
        )

    async def group(self, name: str, members: Sequence[UserRecord] = ()) -> str:
        """A group as provisioning leaves it; returns its SCIM id."""
        master = await self.bridge.create_group(name, [m.det_id for m in members])
        scim_id = str(uuid.uuid4())
        await self.store.insert_group(
            scim_id=scim_id,
            det_id=master.id,
            display_name=name,
            external_id=None,
            doc={"displayName": name},
            members=[MemberRecord(m.scim_id, display=m.user_name) for m in members],
        )
        return scim_id

    async def serve_reconciling(
        self,
        aiohttp_server: AiohttpServer,
        *,
        adopt: bool | None = None,
        master: DeterminedClient | None = None,
        metrics: MetricsRecorder | None = None,
    ) -> TestServer:
        """An app holding only the store, a master client (and a metrics recorder) and the reconcile context,
        on a socket.

        ``adopt`` overrides ``reconcile.adopt_on_start``; None keeps the settings' own value.
        """
        settings = self.settings
        if adopt is not None:
            settings = dataclasses.replace(
                settings, reconcile=dataclasses.replace(settings.reconcile, adopt_on_start=adopt)
            )
        app = web.Application()
        app[STORE] = self.store
        app[MASTER] = master or self.bridge
        if metrics is not None:
            app[METRICS] = metrics
        app.cleanup_ctx.append(reconcile_context(settings))
        return await aiohttp_server(app)

    async def reconciler(self) -> Reconciler:
        """The reconciler the CLI and the background task build."""
        return await build_reconciler(self.settings, self.store, self.bridge)


@pytest.fixture
async def emulator_url(aiohttp_server: AiohttpServer) -> str:
    """The master emulator on 127.0.0.1."""
    server = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password=ADMIN_PASSWORD)))
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def admin(emulator_url: str) -> AsyncIterator[DeterminedClient]:
    """A human administrator's client on the emulator, changing the master behind the bridges' backs."""
    client = create_master_client(client_settings(emulator_url))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def world(emulator_url: str, tmp_path: Path) -> AsyncIterator[World]:
    """Store file, bridge client and admin client against one emulator."""
    settings = Settings(
        master=MasterSettings(url=emulator_url, username="admin", password=Secret(ADMIN_PASSWORD)),
        database=DatabaseSettings(path=str(tmp_path / "bridge.db")),
    )
    store = await open_store(tmp_path / "bridge.db")
    bridge = create_master_client(client_settings(emulator_url))
    admin = create_master_client(client_settings(emulator_url))
    try:
        yield World(store=store, bridge=bridge, admin=admin, settings=settings)
    finally:
        await admin.close()
        await bridge.close()
        await store.close()


@dataclass(frozen=True, slots=True)
class WrongMaster:
    """A healthy master that never saw the bridge's users or groups (a reset or foreign database)."""

    client: DeterminedClient
    view: MasterView
    url: str


@pytest.fixture
async def wrong(aiohttp_server: AiohttpServer) -> AsyncIterator[WrongMaster]:
    """A second, fresh emulator: what a bridge pointed at the wrong master talks to."""
    server = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password=ADMIN_PASSWORD)))
    url = str(server.make_url("")).rstrip("/")
    client = create_master_client(client_settings(url))
    try:
        yield WrongMaster(client, MasterView(url, "admin", ADMIN_PASSWORD), url)
    finally:
        await client.close()


@dataclass(frozen=True, slots=True)
class Proxied:
    """The bridge's master client reaching the world's emulator through a fault proxy."""

    proxy: FaultProxy
    client: DeterminedClient


@pytest.fixture
async def proxied(emulator_url: str, aiohttp_server: AiohttpServer) -> AsyncIterator[Proxied]:
    proxy, server = await start_proxy(aiohttp_server, emulator_url)
    client = create_master_client(client_settings(str(server.make_url("")).rstrip("/")))
    try:
        yield Proxied(proxy, client)
    finally:
        await client.close()


def bounded(world: World, **reconcile: Any) -> World:
    """The same world with these reconcile settings (max_retire, intent_grace, ...)."""
    settings = world.settings
    return dataclasses.replace(
        world,
        settings=dataclasses.replace(
            settings, reconcile=dataclasses.replace(settings.reconcile, **reconcile)
        ),
    )


@pytest.fixture
def reset_logging() -> Iterator[None]:
    """For tests that run a command's `main`: it points logging at the test's captured stdout, which is closed
    once the test ends, so structlog goes back to its defaults after the test."""
    yield
    structlog.reset_defaults()
