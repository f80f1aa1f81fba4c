"""``mode: shadow`` holds for the operator's commands too: ``scim-bridge reconcile --repair`` run with a shadow
bridge's config (its own database, holding synthetic Determined ids) must not write to the master."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from bridge.__main__ import main
from bridge.determined import DeterminedClient
from bridge.web.app import create_app
from tests.reliability.configs import write_config
from tests.reliability.conftest import ADMIN_PASSWORD
from tests.reliability.passes import deactivate
from tests.reliability.shadow_setup import GROUP_URN, HEADERS, live_user_then_shadow_copy
from tests.reliability.test_retried_post import _settings
from tests.reliability.test_shadow_conversation import _master_state

EXIT_DRIFT = 1


async def test_reconcile_repair_with_a_shadow_config_reports_and_writes_nothing_to_the_master(
    emulator_url: str,
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    admin: DeterminedClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    carol, shadow_db = await live_user_then_shadow_copy(emulator_url, tmp_path, aiohttp_client, "carol")
    config = write_config(
        tmp_path,
        shadow_db,
        emulator_url,
        master={"url": emulator_url, "username": "admin", "password": ADMIN_PASSWORD},
        mode="shadow",
    )
    # The shadow bridge made a group the master never saw (a synthetic Determined id in its database).
    shadow = await aiohttp_client(
        create_app(dataclasses.replace(_settings(emulator_url, shadow_db), mode="shadow"))
    )
    async with shadow.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "analysts", "members": [{"value": carol}]},
        headers=HEADERS,
    ) as group:
        assert group.status == 201
    await deactivate(admin, "carol")
    before = await _master_state(admin)
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["reconcile", "--repair", "-c", str(config)])
    captured = capsys.readouterr()
    assert await _master_state(admin) == before
    assert code == EXIT_DRIFT
    assert "mode is shadow" in captured.err
    assert "user.deactivated" in captured.out
    assert "group.deleted" in captured.out
