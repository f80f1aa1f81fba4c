"""After a member add fails, the bridge asks the master which added users it lacks (stale mappings, answered
400 naming them) before answering the master's own error: a bounded number of calls whatever the member count.

The bridge talks to the emulator over HTTP through a fault proxy that fails the write and records every
request; the store is a real SQLite file.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bridge.provisioning.stale import PROBE_GETS
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.faults import PROXY_404, FaultProxy, Rule
from tests.provisioning.scim import GROUP_URN, call, create_group, create_user, patch
from tests.provisioning.test_stale_members import LOST_DET_ID, stale_user

CREATE_GROUP = ("POST", "/api/v1/groups")
LISTING = "GET /api/v1/users"
ONE_USER = re.compile(r"GET /api/v1/users/\d+")


async def _users(world: World, count: int) -> list[str]:
    return [(await create_user(world, f"u{i}@example.com", f"User {i}"))["id"] for i in range(count)]


def _group(members: list[str]) -> dict[str, Any]:
    return {"schemas": [GROUP_URN], "displayName": "Team", "members": [{"value": m} for m in members]}


def _probes(proxy: FaultProxy, since: int) -> tuple[int, int]:
    """(per-user GETs, listings) the bridge sent since request number `since`."""
    seen = proxy.seen[since:]
    return sum(1 for s in seen if ONE_USER.fullmatch(s)), seen.count(LISTING)


async def _nothing_created(world: World) -> None:
    assert (await world.master.state()).groups == {}
    assert await world.store.get_group_by_display_name("Team") is None
    assert await world.store.pending_intents() == []


async def test_a_failed_create_with_many_members_is_answered_after_one_listing(
    proxied: tuple[World, FaultProxy],
) -> None:
    world, proxy = proxied
    members = await _users(world, PROBE_GETS + 4)
    proxy.rules.append(Rule(*CREATE_GROUP, status=500, text="database is on fire"))
    since = len(proxy.seen)
    response = await call(world, "POST", "/Groups", _group(members))
    # Every member exists, so the master's own failure is the answer, unchanged.
    assert response.status == 500
    assert (await response.json())["status"] == "500"
    assert _probes(proxy, since) == (0, 1)
    await _nothing_created(world)


async def test_a_stale_member_among_many_is_still_named_after_one_listing(
    proxied: tuple[World, FaultProxy],
) -> None:
    world, proxy = proxied
    members = await _users(world, PROBE_GETS + 4)
    ghost = await stale_user(world)
    since = len(proxy.seen)
    # The master itself refuses the create: its 404 names no one.
    response = await call(world, "POST", "/Groups", _group([*members[:10], ghost.scim_id, *members[10:]]))
    assert response.status == 400
    body = await response.json()
    assert body["scimType"] == "invalidValue"
    assert ghost.scim_id in body["detail"]
    assert _probes(proxy, since) == (0, 1)
    await _nothing_created(world)


async def test_a_failed_create_with_few_members_asks_for_each(proxied: tuple[World, FaultProxy]) -> None:
    world, proxy = proxied
    members = await _users(world, 3)
    ghost = await stale_user(world)
    since = len(proxy.seen)
    response = await call(world, "POST", "/Groups", _group([*members, ghost.scim_id]))
    assert response.status == 400
    assert ghost.scim_id in (await response.json())["detail"]
    assert _probes(proxy, since) == (4, 0)
    assert f"GET /api/v1/users/{LOST_DET_ID}" in proxy.seen[since:]
    await _nothing_created(world)


async def test_a_failing_listing_leaves_the_master_error_as_the_answer(
    proxied: tuple[World, FaultProxy],
) -> None:
    world, proxy = proxied
    members = await _users(world, PROBE_GETS + 1)
    proxy.rules.append(Rule(*CREATE_GROUP, status=500, text="database is on fire"))
    proxy.rules.append(Rule("GET", "/api/v1/users", status=500, times=10))
    response = await call(world, "POST", "/Groups", _group(members))
    assert response.status == 500
    await _nothing_created(world)


async def test_a_failing_probe_retires_no_mapping(
    proxied: tuple[World, FaultProxy], captured_logs: LogReader
) -> None:
    """Only the master's answer that it lacks that user retires a mapping: a probe the master fails to answer
    (here 503 on the ghost's GET) leaves the create refused by the master's own error and the mapping live."""
    world, proxy = proxied
    members = await _users(world, 2)
    ghost = await stale_user(world)
    proxy.rules.append(Rule("GET", f"/api/v1/users/{LOST_DET_ID}", status=503, times=10))
    response = await call(world, "POST", "/Groups", _group([*members, ghost.scim_id]))
    assert response.status >= 400
    assert (await response.json())["status"] == str(response.status)
    await _nothing_created(world)
    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 200
    assert [e for e in captured_logs() if e.get("event") == "user.missing_on_master"] == []


@pytest.mark.parametrize(
    "write",
    ["create", "patch-add", "put-rename"],
    ids=["create: POST groups", "patch add: assignments", "put with a rename: PUT groups/{id}"],
)
async def test_a_proxys_404_on_an_add_is_answered_without_asking_about_the_members(
    proxied: tuple[World, FaultProxy], write: str
) -> None:
    """Only the master's own 404 for an added user it lacks (is_unknown_member), or its bare 500 on assignments,
    can come from a stale member. Before the fix any 404 made the bridge ask about every added member (here 3
    GETs, up to PROBE_GETS, else a listing of every user) before answering the 500 it answers now at once."""
    world, proxy = proxied
    members = await _users(world, 3)
    if write == "create":
        proxy.rules.append(Rule(*CREATE_GROUP, status=404, text=PROXY_404))
        since = len(proxy.seen)
        response = await call(world, "POST", "/Groups", _group(members))
    else:
        team = await create_group(world, "Team")
        since = len(proxy.seen)
        if write == "patch-add":
            proxy.rules.append(Rule("PATCH", "/api/v1/users/assignments", status=404, text=PROXY_404))
            added = patch({"op": "add", "path": "members", "value": [{"value": m} for m in members]})
            response = await call(world, "PATCH", f"/Groups/{team['id']}", added)
        else:
            proxy.rules.append(Rule("PUT", r"/api/v1/groups/\d+", status=404, text=PROXY_404))
            response = await call(
                world, "PUT", f"/Groups/{team['id']}", {**_group(members), "displayName": "Crew"}
            )
    assert response.status == 500, await response.text()
    assert (await response.json())["status"] == "500"
    assert _probes(proxy, since) == (0, 0)
    assert await world.store.pending_intents() == []
