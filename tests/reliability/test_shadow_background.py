"""A shadow bridge's own background reconciliation (``reconcile.interval`` > 0) reads through the overlay: what
the shadow bridge pretended to create is not drift, and the repairs of real drift are shadow writes too."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pytest_aiohttp import AiohttpClient

from bridge.determined import DeterminedClient
from bridge.web.app import create_app
from tests.conftest import LogReader
from tests.reliability.passes import deactivate, metric, periodic, until_metric
from tests.reliability.shadow_setup import GROUP_URN, HEADERS, USER_URN, live_user_then_shadow_copy
from tests.reliability.test_retried_post import _settings

DRIFT = "scim_bridge_reconcile_drift_total"


async def test_a_shadow_bridges_periodic_pass_sees_its_own_objects_and_repairs_only_in_the_overlay(
    emulator_url: str,
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    admin: DeterminedClient,
    captured_logs: LogReader,
) -> None:
    carol, shadow_db = await live_user_then_shadow_copy(emulator_url, tmp_path, aiohttp_client, "carol")
    shadow = await aiohttp_client(
        create_app(periodic(dataclasses.replace(_settings(emulator_url, shadow_db), mode="shadow")))
    )
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
    carol_det = await deactivate(admin, "carol")
    assert await until_metric(shadow, DRIFT, kind="user.deactivated") == 1
    assert await until_metric(shadow, "scim_bridge_reconcile_runs_total", outcome="ok") >= 1
    # The repair went to the overlay only.
    assert (await admin.get_user(carol_det.id)).active is False
    assert [g async for g in admin.iter_groups()] == []
    for kind in (
        "user.missing",
        "group.deleted",
        "user.unmanaged",
        "group.unmanaged",
        "group.member_removed",
    ):
        assert await metric(shadow, DRIFT, kind=kind) == 0, kind
    repairs = [
        e
        for e in captured_logs()
        if e["event"] == "shadow.master_call" and e["method"] == "PATCH" and e.get("det_id") == carol_det.id
    ]
    assert [r["fields"] for r in repairs] == [["active"]]
    async with shadow.get(f"/scim/v2/Users/{ada}", headers=HEADERS) as fetched:
        assert fetched.status == 200
