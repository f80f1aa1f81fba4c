"""IdP dialect detection: User-Agent table, Entra query flags and body shapes, and the middleware's log field."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.web.context import context_middleware
from bridge.web.dialect import (
    MAX_SNIFF_BYTES,
    IdpDialect,
    detect_dialect,
    dialect_from_body,
    dialect_from_document,
    dialect_from_query,
    dialect_from_user_agent,
)
from bridge.web.errors import error_middleware
from tests.conftest import LogReader
from tests.idp.harness import BASE_PATH, OKTA_BASIC, start_world

SCENARIOS = Path(__file__).parent / "scenarios"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        ("Okta SCIM Client 1.0.0", IdpDialect.OKTA),
        ("OKTA SCIM Integration", IdpDialect.OKTA),
        ("Microsoft Azure AD SCIM provisioning 1.0", IdpDialect.ENTRA),
        ("OneLogin SCIM", IdpDialect.ONELOGIN),
        ("JumpCloud SCIM/2.0", IdpDialect.JUMPCLOUD),
        ("Google-Auto-Provisioning", IdpDialect.GOOGLE),
        ("authentik@2025.10.1", IdpDialect.AUTHENTIK),
        ("keycloak-scim/1.2", IdpDialect.KEYCLOAK),
        ("PingFederate/12.1", IdpDialect.PINGFEDERATE),
        ("PostmanRuntime/7.39.0", IdpDialect.GENERIC),
        ("python-httpx/0.28", IdpDialect.GENERIC),
        ("Apache-HttpClient/4.5.14 (Java/17)", IdpDialect.GENERIC),
        ("Mozilla/5.0 (Windows NT 10.0) Chrome/120 goktan", IdpDialect.GENERIC),
        ("", IdpDialect.GENERIC),
        (None, IdpDialect.GENERIC),
    ],
)
def test_user_agent(user_agent: str | None, expected: IdpDialect) -> None:
    assert dialect_from_user_agent(user_agent) is expected


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/scim/v2/Users", {"aadOptscim062020": ""}, IdpDialect.ENTRA),
        ("/scim/v2/Users", {"AzureAdScimPatch2017": ""}, IdpDialect.ENTRA),
        (
            "/scim/v2/Groups",
            {"excludedAttributes": "members", "filter": 'displayName eq "x"'},
            IdpDialect.ENTRA,
        ),
        ("/scim/v2/Groups/7", {"excludedAttributes": "members"}, IdpDialect.ENTRA),
        ("/scim/v2/Users", {"excludedAttributes": "members"}, IdpDialect.GENERIC),
        ("/scim/v2/Groups", {"excludedAttributes": "members,meta"}, IdpDialect.GENERIC),
        ("/scim/v2/Users", {"startIndex": "1", "count": "100"}, IdpDialect.GENERIC),
    ],
)
def test_query(path: str, query: dict[str, str], expected: IdpDialect) -> None:
    assert dialect_from_query(path, query) is expected


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (patch({"op": "Replace", "path": "active", "value": "False"}), IdpDialect.ENTRA),
        (patch({"op": "Add", "path": "members", "value": [{"$ref": None, "value": "u1"}]}), IdpDialect.ENTRA),
        (
            patch({"op": "replace", "value": {"displayName": "A", "name.givenName": "A"}}),
            IdpDialect.ENTRA,
        ),
        (
            patch(
                {
                    "op": "replace",
                    "value": {
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7"
                    },
                }
            ),
            IdpDialect.ENTRA,
        ),
        (
            {
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
                ],
                "displayName": "Engineering",
            },
            IdpDialect.ENTRA,
        ),
        (
            {"schemas": ["urn:scim:schemas:core:1.0"], "userName": "ada", "active": "true"},
            IdpDialect.ONELOGIN,
        ),
        # Shapes every IdP sends stay generic: lower-case ops, path+value, Okta's no-path {active}.
        (patch({"op": "replace", "path": "active", "value": False}), IdpDialect.GENERIC),
        (patch({"op": "replace", "value": {"active": False}}), IdpDialect.GENERIC),
        (patch({"op": "remove", "path": 'members[value eq "u1"]'}), IdpDialect.GENERIC),
        ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada"}, IdpDialect.GENERIC),
        ({"Operations": "not a list", "schemas": "not a list"}, IdpDialect.GENERIC),
        ({"Operations": ["junk", {"op": 3}]}, IdpDialect.GENERIC),
        # Unhashable ops once raised TypeError in the middleware: a 500 instead of the handler's 400.
        ({"Operations": [{"op": []}, {"op": {}}]}, IdpDialect.GENERIC),
        ([{"op": "Replace"}], IdpDialect.GENERIC),
        ("Replace", IdpDialect.GENERIC),
        (None, IdpDialect.GENERIC),
    ],
)
def test_document(document: object, expected: IdpDialect) -> None:
    assert dialect_from_document(document) is expected
    assert dialect_from_body(json.dumps(document).encode()) is expected


def test_documents_that_are_other_mappings_are_classified_alike() -> None:
    """Dicts are told by their type before the Mapping ABC; any other mapping is read the same way."""
    entra = {"schemas": [PATCH_OP], "Operations": [MappingProxyType({"op": "Replace", "path": "active"})]}
    assert dialect_from_document(MappingProxyType(entra)) is IdpDialect.ENTRA
    dotted = {"op": "replace", "value": MappingProxyType({"name.givenName": "Ada"})}
    assert dialect_from_document({"schemas": [PATCH_OP], "Operations": [dotted]}) is IdpDialect.ENTRA


def test_body_that_is_not_json_or_too_big_is_generic() -> None:
    entra = json.dumps(patch({"op": "Replace", "path": "active", "value": "False"}))
    assert dialect_from_body(entra.encode()) is IdpDialect.ENTRA
    assert dialect_from_body(b"") is IdpDialect.GENERIC
    assert dialect_from_body(b"{not json") is IdpDialect.GENERIC
    assert dialect_from_body(b"\xff\xfe") is IdpDialect.GENERIC
    assert dialect_from_body(b"[" * 100_000 + b"]" * 100_000) is IdpDialect.GENERIC
    padded = entra[:-1] + ', "pad": "' + "x" * MAX_SNIFF_BYTES + '"}'
    assert dialect_from_body(padded.encode()) is IdpDialect.GENERIC


def test_user_agent_wins_over_shape() -> None:
    entra_body = json.dumps(patch({"op": "Replace", "path": "active", "value": "False"})).encode()
    assert detect_dialect("Okta SCIM Client 1.0.0", "/scim/v2/Users/1", {}, entra_body) is IdpDialect.OKTA
    assert detect_dialect(None, "/scim/v2/Users/1", {}, entra_body) is IdpDialect.ENTRA
    assert detect_dialect(None, "/scim/v2/Users", {"aadOptscim062020": ""}) is IdpDialect.ENTRA
    assert detect_dialect(None) is IdpDialect.GENERIC


def test_own_scenarios_are_recognised_where_they_name_themselves() -> None:
    """Every step of the OneLogin and Okta AIW replays carries a UA that names the IdP."""
    for name, expected in (("onelogin.json", IdpDialect.ONELOGIN), ("okta-aiw.json", IdpDialect.OKTA)):
        scenario = json.loads((SCENARIOS / name).read_text(encoding="utf-8"))
        for step in scenario["steps"]:
            assert dialect_from_user_agent(step["headers"].get("User-Agent")) is expected, step["name"]


def dialect_app() -> web.Application:
    async def reads_body(request: web.Request) -> web.Response:
        if request.body_exists:
            await request.json()
        return web.json_response({"ok": True})

    async def ignores_body(_: web.Request) -> web.Response:
        return web.json_response({"ok": True}, status=401)

    async def streams_body(request: web.Request) -> web.Response:
        await request.content.read()
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[context_middleware, error_middleware])
    app.router.add_route("*", "/scim/v2/Users", reads_body)
    app.router.add_route("*", "/scim/v2/Groups", reads_body)
    app.router.add_route("*", "/unread", ignores_body)
    app.router.add_route("*", "/streamed", streams_body)
    return app


def dialects_logged(logs: LogReader) -> list[str | None]:
    return [line.get("idp_dialect") for line in logs() if line["event"] == "request"]


async def test_middleware_logs_dialect_per_request(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    client = await aiohttp_client(dialect_app())
    entra_patch = patch({"op": "Replace", "path": "active", "value": "False"})
    assert (
        await client.get("/scim/v2/Users", headers={"User-Agent": "Okta SCIM Client 1.0.0"})
    ).status == 200
    assert (await client.get("/scim/v2/Users?aadOptscim062020")).status == 200
    assert (await client.patch("/scim/v2/Users", json=entra_patch)).status == 200
    assert (await client.get("/scim/v2/Users")).status == 200
    assert (await client.post("/scim/v2/Groups", json={"displayName": "x"})).status == 200
    assert dialects_logged(captured_logs) == ["okta", "entra", "entra", "generic", "generic"]


async def test_middleware_never_reads_a_body_the_handler_left(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    client = await aiohttp_client(dialect_app())
    entra_patch = patch({"op": "Replace", "path": "active", "value": "False"})
    assert (await client.patch("/unread", json=entra_patch)).status == 401
    assert (await client.patch("/streamed", json=entra_patch)).status == 200
    assert dialects_logged(captured_logs) == ["generic", "generic"]


async def test_dialect_does_not_leak_between_requests(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    client = await aiohttp_client(dialect_app())
    await client.get("/scim/v2/Users", headers={"User-Agent": "authentik@2025.10.1"})
    await client.get("/scim/v2/Users", headers={"User-Agent": "curl/8.5.0"})
    assert dialects_logged(captured_logs) == ["authentik", "generic"]


async def test_bridge_logs_the_dialect_of_real_idp_traffic(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    """The application factory wires the middleware: Okta by User-Agent, Entra by its PATCH shape."""
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    okta = {"Authorization": OKTA_BASIC, "User-Agent": "Okta SCIM Client 1.0.0"}
    plain = {"Authorization": OKTA_BASIC, "Content-Type": "application/scim+json"}
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "dana"}
    created = await world.bridge.post(f"{BASE_PATH}/Users", json=user, headers=okta)
    assert created.status == 201
    user_id = (await created.json(content_type=None))["id"]
    entra_patch = patch({"op": "Replace", "path": "active", "value": "False"})
    assert (
        await world.bridge.patch(f"{BASE_PATH}/Users/{user_id}", json=entra_patch, headers=plain)
    ).status == 200
    assert (await world.bridge.get(f"{BASE_PATH}/Users/{user_id}", headers=plain)).status == 200
    assert (await world.bridge.get(f"{BASE_PATH}/Users/nope", headers=okta)).status == 404
    assert dialects_logged(captured_logs) == ["okta", "entra", "generic", "okta"]
    assert not (await world.master.state()).users["dana"].active
