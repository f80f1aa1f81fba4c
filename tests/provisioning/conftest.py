"""End-to-end fixtures for the services: emulator and bridge on sockets, SQLite in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.idp.harness import World, start_world
from tests.provisioning.faults import FaultProxy, start_world_behind_proxy


@pytest.fixture
async def world(aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path) -> World:
    """The seed configuration against a fresh emulator."""
    return await start_world(aiohttp_server, aiohttp_client, tmp_path)


@pytest.fixture
async def proxied(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> tuple[World, FaultProxy]:
    """The same, with the bridge reaching the emulator through a FaultProxy (rules added by each test)."""
    return await start_world_behind_proxy(aiohttp_server, aiohttp_client, tmp_path)


@pytest.fixture
async def tried_once(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> tuple[World, FaultProxy]:
    """As `proxied`, each master call tried once: one injected fault is one failure, and the circuit breaker
    stays closed."""
    return await start_world_behind_proxy(aiohttp_server, aiohttp_client, tmp_path, master={"retries": 0})
