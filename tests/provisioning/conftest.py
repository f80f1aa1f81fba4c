"""End-to-end fixtures for the services: emulator and bridge on sockets, SQLite in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.idp.harness import World, start_world


@pytest.fixture
async def world(
    aiohttp_server: Callable[..., Any], aiohttp_client: Callable[..., Any], tmp_path: Path
) -> World:
    """The seed configuration against a fresh emulator."""
    return await start_world(aiohttp_server, aiohttp_client, tmp_path)
