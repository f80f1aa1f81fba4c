"""A shadow bridge's own background reconciliation (``reconcile.interval`` > 0) reads through the overlay: what
the shadow bridge pretended to create is not drift, and the repairs of real drift are shadow writes too."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pytest_aiohttp import AiohttpClient

from bridge.config import ReconcileSettings
from bridge.determined import create_master_client
from bridge.web.app import create_app
from tests.conftest import LogReader
from tests.reliability.conftest import client_settings
from tests.reliability.shadow_setup import GROUP_URN, HEADERS, USER_URN, live_user_then_shadow_copy
from tests.reliability.test_background_passes import _metric, _until_metric
from tests.reliability.test_retried_post import _settings

DRIFT = "scim_bridge_reconcile_drift_total"


async def test_a_shadow_bridges_periodic_pass_sees_its_own_objects_and_repairs_only_in_the_overlay(
    emulator_url: str, tmp_path: Path, aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    carol, shadow_db = await live_user_then_shadow_copy(emulator_url, tmp_path, aiohttp_client, "carol")
    settings = dataclasses.replace(
        _settings(emulator_url, shadow_db), mode="shadow", reconcile=ReconcileSettings(interval=0.1)
    )
    shadow = await aiohttp_client(create_app(settings))
    async with shadow.post(
        "/scim/v2/Users", json={"schemas": [USER_URN], "userName": "ada", "active": True}, headers=HEADERS
    ) as created:
        assert created.status == 201
        ada = (await created.json(content_type=None))["id"]
    async with shadow.post(
        "/scim/v2/Groups",
        json={
            "schemas": [GROUP_URN],
            "displayName": "analysts",
            "members": [{"value": ada}, {"value": carol}],
        },
        headers=HEADERS,
    ) as group:
        assert group.status == 201
    admin = create_master_client(client_settings(emulator_url))
    try:
        carol_det = await admin.get_user_by_username("carol")
        assert carol_det is not None
        await admin.patch_user(carol_det.id, active=False)  # real drift, behind both bridges' backs
        assert await _until_metric(shadow, DRIFT, kind="user.deactivated") == 1
        assert await _until_metric(shadow, "scim_bridge_reconcile_runs_total", outcome="ok") >= 1
        # The repair went to the overlay only.
        assert (await admin.get_user(carol_det.id)).active is False
        assert [g async for g in admin.iter_groups()] == []
    finally:
        await admin.close()
    for kind in (
        "user.missing",
        "group.deleted",
        "user.unmanaged",
        "group.unmanaged",
        "group.member_removed",
    ):
        assert await _metric(shadow, DRIFT, kind=kind) == 0, kind
    repairs = [
        e
        for e in captured_logs()
        if e["event"] == "shadow.master_call" and e["method"] == "PATCH" and e.get("det_id") == carol_det.id
    ]
    assert [r["fields"] for r in repairs] == [["active"]]
    async with shadow.get(f"/scim/v2/Users/{ada}", headers=HEADERS) as fetched:
        assert fetched.status == 200
