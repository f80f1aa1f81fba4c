"""The background's resolution of a create past the grace while the IdP's retry of it is in flight: the retry's
new user or group, made on the master and not yet mapped, must be left to the retry, not mapped under the older
attempt's SCIM id (the retry would hear 409 for the object it just made). The proxy runs the background's run
while the retry's answer is on its way; reconcile.intent_grace is 120 s, so nothing else resolves meanwhile."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bridge.reconcile.background import resolve_leftovers
from bridge.reconcile.factory import build_intent_resolver
from bridge.store import IntentState
from bridge.web.keys import MASTER, SETTINGS
from tests.idp.harness import World
from tests.provisioning.faults import GROUPS_PATH, USERS_PATH, FaultProxy, Rule
from tests.provisioning.scim import call, filter_ids, group_body, user_body


async def _retry_beside_the_background(
    world: World, proxy: FaultProxy, path: str, resource: str, body: dict[str, Any]
) -> tuple[int, int, list[bool]]:
    """The first attempt answered 503 (never applied), then its retry, during whose master call the background
    resolves what is older than the retry: the first attempt's intent id, the retry's status, and whether the
    background left something pending."""
    proxy.rules.append(Rule("POST", path, status=503, text="timeout"))
    assert (await call(world, "POST", f"/{resource}", body)).status == 503
    [first] = await world.store.pending_intents()
    await asyncio.sleep(0.01)  # intents are stamped to the millisecond: the retry's comes after the cut
    cut = datetime.now(UTC)
    await asyncio.sleep(0.01)
    resolver = build_intent_resolver(world.app[SETTINGS], world.store, world.app[MASTER], path="background")
    settled: list[bool] = []

    async def background() -> None:
        settled.append(await resolve_leftovers(resolver, cut))

    proxy.rules.append(Rule("POST", path, meanwhile=background))
    retried = await call(world, "POST", f"/{resource}", body)
    return first.id, retried.status, settled


async def test_the_background_leaves_a_user_create_in_flight_to_it(
    tried_once: tuple[World, FaultProxy],
) -> None:
    world, proxy = tried_once
    first, status, settled = await _retry_beside_the_background(
        world, proxy, USERS_PATH, "Users", user_body("ada@example.com", "Ada")
    )
    assert status == 201
    assert settled == [False]  # deferred behind the retry
    [mapped] = await filter_ids(world, "Users", "userName", "ada@example.com")
    record = await world.store.get_user_by_scim_id(mapped)
    assert record is not None
    assert record.det_id == (await world.master.state()).users["ada@example.com"].id
    assert (await world.store.get_intent(first)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]
    assert await world.store.pending_intents() == []


async def test_the_background_leaves_a_group_create_in_flight_to_it(
    tried_once: tuple[World, FaultProxy],
) -> None:
    world, proxy = tried_once
    first, status, settled = await _retry_beside_the_background(
        world, proxy, GROUPS_PATH, "Groups", group_body("Team")
    )
    assert status == 201
    assert settled == [False]
    assert len(await filter_ids(world, "Groups", "displayName", "Team")) == 1
    assert (await world.store.get_intent(first)).state is IntentState.ROLLED_BACK  # type: ignore[union-attr]
    assert await world.store.pending_intents() == []
