"""The end-to-end world: master emulator on a socket, bridge from create_app on a socket, SQLite in tmp_path."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.config import Settings, parse_settings
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.emulator.keys import EMULATOR_STATE
from bridge.store import Store
from bridge.web.app import create_app
from bridge.web.keys import STORE
from tests.conftest import AppClient
from tests.idp.master_view import MasterView

SEED_CONFIG = Path(__file__).resolve().parents[2] / "scim-bridge.yaml"
ADMIN_PASSWORD = "demo-admin-password"
OKTA_BASIC = "Basic " + base64.b64encode(b"determined:password").decode()
ENTRA_TOKEN = "entra-secret-token-for-replay"
BASE_PATH = "/scim/v2"


def seed_settings(master_url: str, db_path: Path, *, entra_bearer: bool = True, **overrides: Any) -> Settings:
    """The shipped scim-bridge.yaml: its `scim:` block (Okta, basic determined/password) as is, optionally
    with an Entra bearer token beside it; only the master URL and database path point at the test world."""
    raw = yaml.safe_load(SEED_CONFIG.read_text())
    if entra_bearer:
        basic = raw["scim"]["auth"]
        raw["scim"]["auth"] = [basic, {"type": "bearer", "tokens": [{"name": "entra", "token": ENTRA_TOKEN}]}]
    raw["master"]["url"] = master_url
    raw["database"] = {"path": str(db_path)}
    for section, values in overrides.items():
        target = raw.setdefault(section, {})
        for key, value in values.items():
            if value is None:
                target.pop(key, None)  # None removes a seed key (e.g. master.password for token auth)
            else:
                target[key] = value
    return parse_settings(raw, environ={}, base_dir=SEED_CONFIG.parent)


@dataclass(frozen=True, slots=True)
class World:
    """Bridge client, emulator server and a raw reader of the master's state."""

    bridge: AppClient
    emulator: TestServer
    master: MasterView
    app: web.Application

    @property
    def store(self) -> Store:
        """The bridge's own store (for tombstones, intents and audit lines)."""
        return self.app[STORE]

    def end_master_sessions(self) -> None:
        """The master forgets every session (a restart): the bridge's next call logs in again."""
        state = self.emulator.app[EMULATOR_STATE]
        state.sessions.clear()
        state.sessions_by_secret.clear()


async def start_world(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    emulator_config: EmulatorConfig | None = None,
    *,
    bridge_master_url: Callable[[str], Awaitable[str]] | None = None,
    entra_bearer: bool = True,
    **overrides: Any,
) -> World:
    """Start the emulator (admin password as in the seed config) and the bridge pointed at it.

    `bridge_master_url` may put something (a fault-injecting proxy) between the bridge and the emulator;
    the MasterView always reads the emulator itself.
    """
    config = emulator_config or EmulatorConfig(initial_password=ADMIN_PASSWORD)
    emulator: TestServer = await aiohttp_server(create_emulator_app(config))
    url = str(emulator.make_url("")).rstrip("/")
    master_url = url if bridge_master_url is None else await bridge_master_url(url)
    settings = seed_settings(master_url, tmp_path / "bridge.db", entra_bearer=entra_bearer, **overrides)
    app = create_app(settings)
    bridge = await aiohttp_client(app)
    return World(bridge, emulator, MasterView(url, "admin", ADMIN_PASSWORD), app)
