"""``reconcile.adopt_on_start``: unmanaged master users and groups are linked by name before serving."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from aiohttp import web

from bridge.provisioning.consistency import digest
from bridge.reconcile import background
from bridge.reconcile.background import reconcile_context
from bridge.web.keys import MASTER, STORE
from tests.conftest import LogReader
from tests.reliability.conftest import World


async def _serve(world: World, aiohttp_server: Any, *, adopt: bool) -> Any:
    settings = dataclasses.replace(
        world.settings, reconcile=dataclasses.replace(world.settings.reconcile, adopt_on_start=adopt)
    )
    app = web.Application()
    app[STORE] = world.store
    app[MASTER] = world.bridge
    app.cleanup_ctx.append(reconcile_context(settings))
    return await aiohttp_server(app)


async def test_unmanaged_users_and_groups_are_adopted_at_start_up(
    world: World, aiohttp_server: Any, captured_logs: LogReader
) -> None:
    stranger = await world.admin.create_user("stranger", "Stranger", True)
    await world.admin.create_group("lab", [stranger.id])
    server = await _serve(world, aiohttp_server, adopt=True)
    try:
        user = await world.store.get_user_by_user_name("stranger")
        assert user is not None
        assert user.det_id == stranger.id
        group = await world.store.get_group_by_display_name("lab")
        assert group is not None
        assert [m.member_scim_id for m in await world.store.list_members(group.scim_id)] == [user.scim_id]
        # The built-in accounts are never linked.
        assert await world.store.get_user_by_user_name("admin") is None
        assert await world.store.get_user_by_user_name("determined") is None
    finally:
        await server.close()
    [report] = [e for e in captured_logs() if e["event"] == "adoption.report"]
    assert (report["users_linked"], report["groups_linked"]) == (1, 1)


async def test_adoption_is_off_by_default(world: World, aiohttp_server: Any) -> None:
    await world.admin.create_user("stranger", "Stranger", True)
    server = await _serve(world, aiohttp_server, adopt=world.settings.reconcile.adopt_on_start)
    try:
        assert await world.store.get_user_by_user_name("stranger") is None
    finally:
        await server.close()


async def test_adoption_waits_for_a_crashed_create_to_be_settled(
    world: World, aiohttp_server: Any, captured_logs: LogReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user a crashed create made belongs to that create's SCIM id, never to a new adopted one."""
    monkeypatch.setattr(background, "START_BUDGET", 0.0)
    scim_id = str(uuid.uuid4())
    await world.store.begin_intent(
        request_id="req-crashed",
        operation="create",
        resource_type="User",
        target=scim_id,
        payload_digest=digest({"username": "late", "active": True, "remote": True}),
    )
    await world.bridge.create_user("late", "Late", True)
    server = await _serve(world, aiohttp_server, adopt=True)
    await server.close()
    assert [e["reason"] for e in captured_logs() if e["event"] == "adoption.skipped"] == ["intents_pending"]
    record = await world.store.get_user_by_user_name("late")
    assert record is None or record.scim_id == scim_id
