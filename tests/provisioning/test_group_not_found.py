"""A group write's 404 means "the group is gone" only when it is the master's own answer for that group.

DELETE /Groups reaches its goal when the master says it has no such group, and forgets the mapping; a 404 from
anything else in the way (a proxy's page, a wrong path) says nothing about the group: the mapping stays, the IdP
hears a retryable error rather than a 404 (which it would take as "deleted" or "re-create it"). Emulator and bridge
on sockets, a fault proxy between them, SQLite in tmp_path.
"""

from __future__ import annotations

import pytest

from tests.idp.harness import World
from tests.provisioning.faults import ASSIGNMENTS_PATH, GROUP_PATH, GROUPS_PATH, PROXY_404, FaultProxy, Rule
from tests.provisioning.scim import GROUP_URN, call, create_group, create_user, patch

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


async def test_delete_of_a_group_the_master_lacks_forgets_the_mapping(
    proxied: tuple[World, FaultProxy],
) -> None:
    """The master's own `Error deleting group <id>: not found`: the goal is reached, 204."""
    world, _proxy = proxied
    group = await create_group(world, "Team")
    record = await world.store.get_group_by_scim_id(group["id"])
    assert record is not None
    await world.master.call("DELETE", f"/api/v1/groups/{record.det_id}")  # deleted by hand in Determined
    assert (await call(world, "DELETE", f"/Groups/{group['id']}")).status == 204
    assert await world.store.get_group_by_scim_id(group["id"]) is None


async def test_a_proxys_404_on_delete_keeps_the_mapping_and_is_retried(
    proxied: tuple[World, FaultProxy],
) -> None:
    """Before the fix any 404 was "already gone": 204, the mapping forgotten, and the group left on the master
    with nothing managing it."""
    world, proxy = proxied
    group = await create_group(world, "Team")
    proxy.rules.append(Rule("DELETE", GROUP_PATH, status=404, text=PROXY_404))
    response = await call(world, "DELETE", f"/Groups/{group['id']}")
    assert response.status == 500
    body = await response.json()
    assert (body["schemas"], body["status"]) == ([ERROR_URN], "500")
    assert await world.store.get_group_by_scim_id(group["id"]) is not None
    assert (await world.master.state()).groups == {"Team": frozenset()}
    assert await world.store.pending_intents() == []
    # The IdP retries; the master answers for itself this time.
    assert (await call(world, "DELETE", f"/Groups/{group['id']}")).status == 204
    assert await world.store.get_group_by_scim_id(group["id"]) is None
    assert (await world.master.state()).groups == {}


async def test_a_proxys_404_on_a_member_change_is_not_a_missing_group(
    proxied: tuple[World, FaultProxy],
) -> None:
    """Before the fix the IdP heard 404 for a group the master still has (and Entra or Okta would re-create it);
    the master's own "group does not exist" is still a 404."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    group = await create_group(world, "Team")
    add_ada = patch({"op": "add", "path": "members", "value": [{"value": ada["id"]}]})
    proxy.rules.append(Rule("PATCH", ASSIGNMENTS_PATH, status=404, text=PROXY_404))
    refused = await call(world, "PATCH", f"/Groups/{group['id']}", add_ada)
    assert refused.status == 500
    assert (await refused.json())["schemas"] == [ERROR_URN]
    assert await world.store.get_group_by_scim_id(group["id"]) is not None

    record = await world.store.get_group_by_scim_id(group["id"])
    assert record is not None
    await world.master.call("DELETE", f"/api/v1/groups/{record.det_id}")
    gone = await call(world, "PATCH", f"/Groups/{group['id']}", add_ada)
    assert gone.status == 404
    assert (await gone.json())["schemas"] == [ERROR_URN]


@pytest.mark.parametrize(
    "fault",
    [
        Rule("POST", GROUPS_PATH, status=404, text=PROXY_404),
        # A page quoting part of the master's unknown-member text is not that answer either (it read as 400).
        Rule(
            "POST",
            GROUPS_PATH,
            status=404,
            page="<html><body>Error adding 1 user(s) to 1 group(s): upstream not found</body></html>",
        ),
    ],
    ids=["proxy-404", "page-quoting-user(s)"],
)
async def test_a_proxys_404_on_a_group_create_is_retried_not_a_missing_group(
    proxied: tuple[World, FaultProxy], fault: Rule
) -> None:
    """A create names no existing group, so no 404 means "gone" for it; before the fix the IdP heard 404 (or
    400 for a page with "user(s)" in it), and an IdP takes neither as "try again": the group was never made."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    body = {"schemas": [GROUP_URN], "displayName": "Team", "members": [{"value": ada["id"]}]}
    proxy.rules.append(fault)
    refused = await call(world, "POST", "/Groups", body)
    assert refused.status == 500, await refused.text()
    error = await refused.json()
    assert (error["schemas"], error["status"]) == ([ERROR_URN], "500")
    assert (await world.master.state()).groups == {}
    assert await world.store.get_group_by_display_name("Team") is None
    assert await world.store.pending_intents() == []
    # The IdP retries; the master answers for itself this time.
    created = await call(world, "POST", "/Groups", body)
    assert created.status == 201, await created.text()
    assert (await world.master.state()).groups == {"Team": frozenset({"ada@example.com"})}


async def test_the_masters_own_unknown_member_on_a_group_create_is_still_a_bad_value(
    proxied: tuple[World, FaultProxy],
) -> None:
    """The master's whole text for an added user it lacks (here on a create whose member the probe still finds,
    so it is not a stale mapping) stays the IdP's 400 invalidValue, not a retry."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    text = "Error adding 1 user(s) to 1 group(s) because one or more of them were not found: not found"
    proxy.rules.append(Rule("POST", GROUPS_PATH, status=404, text=text))
    body = {"schemas": [GROUP_URN], "displayName": "Team", "members": [{"value": ada["id"]}]}
    refused = await call(world, "POST", "/Groups", body)
    assert refused.status == 400, await refused.text()
    assert (await refused.json())["scimType"] == "invalidValue"
    assert (await world.master.state()).groups == {}
