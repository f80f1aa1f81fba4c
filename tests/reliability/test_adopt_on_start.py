"""``reconcile.adopt_on_start``: unmanaged master users and groups are linked by name before serving."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from pytest_aiohttp import AiohttpServer

from bridge.determined import create_master_client
from bridge.provisioning.consistency import digest
from bridge.reconcile import background
from tests.chaos.processes import free_port
from tests.conftest import LogReader
from tests.reliability.conftest import World, client_settings


async def test_unmanaged_users_and_groups_are_adopted_at_start_up(
    world: World, aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    stranger = await world.admin.create_user("stranger", "Stranger", True)
    await world.admin.create_group("lab", [stranger.id])
    server = await world.serve_reconciling(aiohttp_server, adopt=True)
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


async def test_adoption_is_off_by_default(world: World, aiohttp_server: AiohttpServer) -> None:
    await world.admin.create_user("stranger", "Stranger", True)
    server = await world.serve_reconciling(aiohttp_server)
    try:
        assert await world.store.get_user_by_user_name("stranger") is None
    finally:
        await server.close()


async def test_adoption_waits_for_a_crashed_create_to_be_settled(
    world: World, aiohttp_server: AiohttpServer, captured_logs: LogReader, monkeypatch: pytest.MonkeyPatch
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
    server = await world.serve_reconciling(aiohttp_server, adopt=True)
    await server.close()
    assert [e["reason"] for e in captured_logs() if e["event"] == "adoption.skipped"] == ["intents_pending"]
    record = await world.store.get_user_by_user_name("late")
    assert record is None or record.scim_id == scim_id


async def test_adoption_waits_while_a_leftover_intent_is_deferred(
    world: World, aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    """An intent the master could not answer for stays pending: adoption must not run past it."""
    alice = await world.user("alice")
    await world.store.begin_intent(
        request_id="req-crashed",
        operation="patch",
        resource_type="User",
        target=alice.scim_id,
        payload_digest=digest({"det_id": alice.det_id, "active": False}),
    )
    settings = client_settings(f"http://127.0.0.1:{free_port()}")
    unreachable = create_master_client(dataclasses.replace(settings, retries=0, connect_timeout=1.0))
    try:
        server = await world.serve_reconciling(aiohttp_server, adopt=True, master=unreachable)
        await server.close()
    finally:
        await unreachable.close()
    assert [e["reason"] for e in captured_logs() if e["event"] == "adoption.skipped"] == ["intents_pending"]
    assert not [e for e in captured_logs() if e["event"] in ("adoption.report", "adoption.failed")]
    assert len(await world.store.pending_intents()) == 1
