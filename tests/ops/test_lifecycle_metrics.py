"""A scripted SCIM lifecycle through the real app and the master emulator; /metrics reflects it exactly."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.web.app import create_app
from tests.ops.settings import BASIC_PASSWORD, BASIC_USER, make_settings

ADMIN_PASSWORD = "Adm1n-emulator-password"
SCIM = "application/scim+json"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_lifecycle_counts(
    tmp_path: Path, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient
) -> None:
    emulator = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password=ADMIN_PASSWORD)))
    master_url = str(emulator.make_url("")).rstrip("/")
    settings = make_settings(
        tmp_path, master={"url": master_url, "token": None, "username": "admin", "password": ADMIN_PASSWORD}
    )
    client = await aiohttp_client(create_app(settings))
    auth = {"Authorization": aiohttp.encode_basic_auth(BASIC_USER, BASIC_PASSWORD), "Content-Type": SCIM}

    created = await client.post(
        "/scim/v2/Users",
        json={"schemas": [USER_URN], "userName": "jane.doe@example.com", "active": True},
        headers=auth,
    )
    assert created.status == 201, await created.text()
    user_id = (await created.json())["id"]
    assert (await client.get(f"/scim/v2/Users/{user_id}", headers=auth)).status == 200
    listed = await client.get('/scim/v2/Users?filter=userName eq "jane.doe@example.com"', headers=auth)
    assert listed.status == 200
    patch = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert (await client.patch(f"/scim/v2/Users/{user_id}", json=patch, headers=auth)).status == 200
    group = await client.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "ml-team", "members": [{"value": user_id}]},
        headers=auth,
    )
    assert group.status == 201, await group.text()
    group_id = (await group.json())["id"]
    assert (await client.delete(f"/scim/v2/Groups/{group_id}", headers=auth)).status == 204
    assert (await client.delete(f"/scim/v2/Users/{user_id}", headers=auth)).status == 204
    assert (await client.get(f"/scim/v2/Users/{user_id}", headers=auth)).status == 404
    assert (await client.get("/scim/v2/ServiceProviderConfig", headers=auth)).status == 200
    assert (await client.get("/scim/v2/Groups")).status == 401

    samples = _samples(await (await client.get("/metrics")).text())

    def requests(resource: str, operation: str, status: str, client_name: str = "basic") -> float:
        labels = {"resource": resource, "operation": operation, "status": status, "client": client_name}
        return samples.get(("scim_bridge_requests_total", frozenset(labels.items())), 0.0)

    assert requests("Users", "create", "201") == 1
    assert requests("Users", "get", "200") == 1
    assert requests("Users", "list", "200") == 1
    assert requests("Users", "patch", "200") == 1
    assert requests("Groups", "create", "201") == 1
    assert requests("Groups", "delete", "204") == 1
    assert requests("Users", "delete", "204") == 1
    assert requests("Users", "get", "404") == 1
    assert requests("ServiceProviderConfig", "list", "200") == 1
    assert requests("Groups", "list", "401", "none") == 1
    total = sum(v for (name, _), v in samples.items() if name == "scim_bridge_requests_total")
    assert total == 10
    hist = samples[
        (
            "scim_bridge_request_duration_seconds_count",
            frozenset({"resource": "Users", "operation": "get"}.items()),
        )
    ]
    assert hist == 2
    assert samples[("scim_bridge_auth_failures_total", frozenset({"reason": "unauthorized"}.items()))] == 1
    assert samples[("scim_bridge_intents_pending", frozenset())] == 0

    def master_calls(method: str, path: str, outcome: str) -> float:
        labels = {"method": method, "endpoint": path, "outcome": outcome}
        return samples.get(("scim_bridge_master_calls_total", frozenset(labels.items())), 0.0)

    assert master_calls("POST", "/api/v1/users", "200") == 1
    assert master_calls("POST", "/api/v1/groups", "200") == 1
    assert master_calls("DELETE", "/api/v1/groups/{id}", "200") == 1


async def test_a_call_whose_login_the_master_refuses_is_counted_as_login(
    tmp_path: Path, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient
) -> None:
    """The call itself was never sent: its outcome is the session's opening, not a status it did not get."""
    emulator = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password=ADMIN_PASSWORD)))
    master_url = str(emulator.make_url("")).rstrip("/")
    settings = make_settings(
        tmp_path,
        master={"url": master_url, "token": None, "username": "admin", "password": "not-the-password"},
    )
    client = await aiohttp_client(create_app(settings))
    auth = {"Authorization": aiohttp.encode_basic_auth(BASIC_USER, BASIC_PASSWORD), "Content-Type": SCIM}
    created = await client.post(
        "/scim/v2/Users", json={"schemas": [USER_URN], "userName": "jane.doe@example.com"}, headers=auth
    )
    assert created.status >= 500, await created.text()
    samples = _samples(await (await client.get("/metrics")).text())
    outcomes = {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "scim_bridge_master_calls_total" and dict(labels)["endpoint"] == "/api/v1/users"
    }
    assert outcomes == {"login": 1}
