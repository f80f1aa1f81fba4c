"""Fixtures: the master emulator on a real socket, and clients of it built from settings."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from bridge.determined import DeterminedClient, MasterClientSettings, create_master_client
from bridge.emulator import EmulatorConfig, create_emulator_app

ClientFactory = Callable[..., DeterminedClient]


@pytest.fixture
async def emulator(aiohttp_server: AiohttpServer) -> TestServer:
    """The emulated master, seeded with ``admin`` (id 1) and ``determined`` (id 2), blank passwords."""
    return await aiohttp_server(create_emulator_app(EmulatorConfig()))


@dataclass(frozen=True, slots=True)
class ClientTarget:
    """The master ``make_client``'s clients talk to, and its admin's password."""

    url: str
    password: str


@pytest.fixture
def client_target(emulator: TestServer) -> ClientTarget:
    """The emulator (its seeded admin has a blank password); a module testing another server overrides this."""
    return ClientTarget(str(emulator.make_url("")), "")


@pytest.fixture
async def make_client(client_target: ClientTarget) -> AsyncIterator[ClientFactory]:
    """Build clients of ``client_target`` (settings overrides, plus ``clock``); default: ``admin``, zero
    backoff."""
    made: list[DeterminedClient] = []

    def make(**overrides: Any) -> DeterminedClient:
        fields: dict[str, Any] = {
            "url": client_target.url,
            "token": None,
            "username": "admin",
            "password": client_target.password,
            "connect_timeout": 5.0,
            "request_timeout": 5.0,
            "login_timeout": 10.0,
            "retries": 2,
        }
        clock = overrides.pop("clock", time.monotonic)
        fields.update(overrides)
        client = create_master_client(MasterClientSettings(**fields), clock=clock, rng=lambda: 0.0)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def admin(make_client: ClientFactory) -> DeterminedClient:
    """A client logged in as the seeded admin."""
    return make_client()
