"""What the tests of background passes share: a pass every 0.1 s, the /metrics a pass publishes, and the
drift an administrator makes behind the bridges' backs for a pass to find."""

from __future__ import annotations

import dataclasses

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bridge.config import ReconcileSettings, Settings
from bridge.determined import DeterminedClient, MasterUser
from tests.polling import until

Bridge = TestClient[web.Request, web.Application]


def periodic(settings: Settings) -> Settings:
    """A pass every 0.1 s, so a test sees one soon."""
    return dataclasses.replace(settings, reconcile=ReconcileSettings(interval=0.1))


async def metric(bridge: Bridge, name: str, **labels: str) -> float:
    """The sample of `name` with exactly these labels in the bridge's /metrics, 0 if there is none."""
    async with bridge.get("/metrics") as answer:
        text = await answer.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def until_metric(bridge: Bridge, name: str, **labels: str) -> float:
    """The metric once a background pass has set it (the pass runs on this loop; nothing finer to await)."""
    value = 0.0

    async def is_set() -> bool:
        nonlocal value
        value = await metric(bridge, name, **labels)
        return bool(value)

    await until(is_set, f"no background pass set {name} {labels}", polls=400, every=0.05)
    return value


async def deactivate(admin: DeterminedClient, username: str) -> MasterUser:
    """Deactivate `username` on the master as an administrator does, behind every bridge's back (real drift);
    the user as it was before."""
    user = await admin.get_user_by_username(username)
    assert user is not None
    await admin.patch_user(user.id, active=False)
    return user
