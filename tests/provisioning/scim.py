"""Small SCIM request helpers for the end-to-end service tests (Okta's seed credentials), and the background's
intent resolution on demand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientResponse

from bridge.reconcile.background import resolve_leftovers
from bridge.reconcile.factory import build_intent_resolver
from bridge.web.keys import MASTER, SETTINGS
from tests.idp.harness import BASE_PATH, OKTA_BASIC, World

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
HEADERS = {"Authorization": OKTA_BASIC}


async def call(world: World, method: str, path: str, body: Any = None, **headers: str) -> ClientResponse:
    """One SCIM request with the seed's Basic credentials."""
    return await world.bridge.request(method, BASE_PATH + path, json=body, headers={**HEADERS, **headers})


def user_body(user_name: str, display: str | None = None, **extra: Any) -> dict[str, Any]:
    """An Okta-style POST /Users body."""
    given, _, family = (display or "Test User").partition(" ")
    body: dict[str, Any] = {
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "active": True,
    }
    if display is not None:
        body["displayName"] = display
    body.update(extra)
    return body


def group_body(name: str, members: list[str] | None = None) -> dict[str, Any]:
    """A POST /Groups body with these members."""
    return {"schemas": [GROUP_URN], "displayName": name, "members": [{"value": m} for m in members or []]}


async def filter_ids(world: World, resource: str, attribute: str, value: str) -> list[str]:
    """The ids an IdP's `<attribute> eq "<value>"` lookup finds."""
    found = await call(world, "GET", f'/{resource}?filter={attribute} eq "{value}"')
    assert found.status == 200
    return [r["id"] for r in (await found.json())["Resources"]]


async def past_the_grace(world: World) -> None:
    """The background's resolution once reconcile.intent_grace has passed for every pending intent; it must
    leave none pending."""
    resolver = build_intent_resolver(world.app[SETTINGS], world.store, world.app[MASTER], path="background")
    assert await resolve_leftovers(resolver, datetime.now(UTC))


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    """A PatchOp body."""
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


async def create_user(
    world: World, user_name: str, display: str | None = None, **extra: Any
) -> dict[str, Any]:
    """POST /Users and return the created resource."""
    response = await call(world, "POST", "/Users", user_body(user_name, display, **extra))
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def create_group(world: World, name: str, members: list[str] | None = None) -> dict[str, Any]:
    """POST /Groups and return the created resource."""
    body: dict[str, Any] = {"schemas": [GROUP_URN], "displayName": name}
    if members is not None:
        body["members"] = [{"value": m} for m in members]
    response = await call(world, "POST", "/Groups", body)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def assert_delete_half_done_then_retried(world: World, scim_id: str) -> None:
    """A user DELETE whose deactivation landed but whose leaving of group "Team" failed: ada@example.com is
    inactive and still in Team, the delete intent stays pending, and the IdP's retry finishes it (204)."""
    state = await world.master.state()
    assert not state.users["ada@example.com"].active, "the first call (deactivate) was applied"
    assert state.groups == {"Team": frozenset({"ada@example.com"})}
    pending = await world.store.pending_intents()
    assert [(p.operation, p.target) for p in pending] == [("delete", scim_id)]
    assert (await call(world, "DELETE", f"/Users/{scim_id}")).status == 204
    assert (await world.master.state()).groups == {"Team": frozenset()}
