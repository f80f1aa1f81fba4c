"""SCIM protocol edges through create_app that never reach the master: media types, JSON limits, discovery, 501s."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from bridge.config import (
    AuthSettings,
    BasicCredential,
    DatabaseSettings,
    MasterSettings,
    ScimSettings,
    Secret,
    ServerSettings,
    Settings,
)
from bridge.scim.errors import ERROR_URN
from bridge.web.app import create_app
from tests.conftest import AppClient

BASE = "/scim/v2"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"okta:okta-secret").decode()}
SCIM_JSON = "application/scim+json"


def offline_settings(tmp_path: Path, *, public_url: str | None = None) -> Settings:
    """A bridge whose master is unreachable (port 9): these tests must not need it."""
    return Settings(
        scim=ScimSettings(
            auth=AuthSettings(basic=(BasicCredential("okta", "okta", Secret("okta-secret")),)),
            max_json_depth=8,
        ),
        master=MasterSettings(url="http://127.0.0.1:9", token=Secret("unused-master-token")),
        server=ServerSettings(public_url=public_url),
        database=DatabaseSettings(path=str(tmp_path / "bridge.db")),
    )


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, tmp_path: Path) -> AppClient:
    return await aiohttp_client(create_app(offline_settings(tmp_path, public_url="https://scim.example.com")))


def assert_scim_error(body: dict[str, Any], status: int, scim_type: str | None = None) -> None:
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == str(status)
    if scim_type is not None:
        assert body["scimType"] == scim_type


async def test_empty_user_list_is_a_list_response(client: AppClient) -> None:
    response = await client.get(
        f"{BASE}/Users?filter=userName%20eq%20%22nobody%40example.com%22", headers=AUTH
    )
    assert response.status == 200
    assert response.content_type == SCIM_JSON
    body = await response.json()
    assert body["totalResults"] == 0
    assert body["startIndex"] == 1
    assert body["Resources"] == []


async def test_unknown_user_and_group_are_404(client: AppClient) -> None:
    for path in ("Users/010101001010101011001010101011", "Groups/nope"):
        response = await client.get(f"{BASE}/{path}", headers=AUTH)
        assert response.status == 404
        assert_scim_error(await response.json(), 404)


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("text/plain", 415), ("application/xml", 415)],
)
async def test_other_media_types_are_415(client: AppClient, content_type: str, status: int) -> None:
    response = await client.post(
        f"{BASE}/Users", data=b'{"userName": "x"}', headers={**AUTH, "Content-Type": content_type}
    )
    assert response.status == status
    assert_scim_error(await response.json(), status)


async def test_malformed_json_is_invalid_syntax(client: AppClient) -> None:
    response = await client.post(
        f"{BASE}/Users", data=b'{"userName": ', headers={**AUTH, "Content-Type": "application/scim+json"}
    )
    assert response.status == 400
    assert_scim_error(await response.json(), 400, "invalidSyntax")


async def test_a_body_that_breaks_its_content_encoding_is_400_not_500(client: AppClient) -> None:
    async def late_body() -> AsyncIterator[bytes]:
        # After the headers, so the handler is already reading when the bad gzip stream arrives (the fuzz
        # suite met this as a 500 under load); all at once, aiohttp's protocol layer refuses it with 400.
        await asyncio.sleep(0.05)
        yield b"not a gzip stream"

    response = await client.post(
        f"{BASE}/Users",
        data=late_body(),
        headers={**AUTH, "Content-Type": SCIM_JSON, "Content-Encoding": "gzip"},
    )
    assert response.status == 400
    if response.content_type == SCIM_JSON:
        assert_scim_error(await response.json(), 400, "invalidSyntax")


async def test_too_deep_json_is_invalid_syntax(client: AppClient) -> None:
    deep = '{"userName": "deep", "x": ' + "[" * 50 + "]" * 50 + "}"
    response = await client.post(
        f"{BASE}/Users",
        data=deep.encode(),
        headers={**AUTH, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status == 400
    assert_scim_error(await response.json(), 400, "invalidSyntax")


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.5e99999"])
async def test_numbers_beyond_a_double_are_invalid_value(client: AppClient, number: str) -> None:
    body = '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "n", "nickName": %s}'
    response = await client.post(
        f"{BASE}/Users", data=(body % number).encode(), headers={**AUTH, "Content-Type": SCIM_JSON}
    )
    assert response.status == 400
    payload = await response.json()
    assert_scim_error(payload, 400, "invalidValue")
    assert "range" in payload["detail"]


@pytest.mark.parametrize(
    ("text", "scim_type", "detail"),
    [
        ('{"userName": "s\\ud800"}', "invalidSyntax", "surrogate"),
        ('{"userName": "nan", "nickName": NaN}', "invalidSyntax", "not valid JSON"),
        ('{"userName": "comma",}', "invalidSyntax", "not valid JSON"),
    ],
)
async def test_bodies_the_fast_reader_refuses_get_the_exact_readers_error(
    client: AppClient, text: str, scim_type: str, detail: str
) -> None:
    response = await client.post(
        f"{BASE}/Users", data=text.encode(), headers={**AUTH, "Content-Type": SCIM_JSON}
    )
    assert response.status == 400
    payload = await response.json()
    assert_scim_error(payload, 400, scim_type)
    assert detail in payload["detail"]


async def test_missing_user_name_is_invalid_value(client: AppClient) -> None:
    response = await client.post(
        f"{BASE}/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}, headers=AUTH
    )
    assert response.status == 400
    assert_scim_error(await response.json(), 400, "invalidValue")


@pytest.mark.parametrize("path", ["Bulk", "Me", ".search"])
async def test_unsupported_endpoints_are_501(client: AppClient, path: str) -> None:
    response = await client.post(f"{BASE}/{path}", json={}, headers=AUTH)
    assert response.status == 501
    assert_scim_error(await response.json(), 501)


async def test_service_provider_config_reflects_configured_auth(client: AppClient) -> None:
    response = await client.get(f"{BASE}/ServiceProviderConfig", headers=AUTH)
    assert response.status == 200
    assert response.content_type == SCIM_JSON
    body = await response.json()
    assert [s["type"] for s in body["authenticationSchemes"]] == ["httpbasic"]
    assert body["bulk"]["supported"] is False
    assert body["patch"]["supported"] is True
    assert body["meta"]["location"] == "https://scim.example.com/scim/v2/ServiceProviderConfig"


async def test_resource_types_and_schemas(client: AppClient) -> None:
    listed = await (await client.get(f"{BASE}/ResourceTypes", headers=AUTH)).json()
    assert {r["name"] for r in listed["Resources"]} == {"User", "Group"}
    one = await client.get(f"{BASE}/ResourceTypes/User", headers=AUTH)
    assert (await one.json())["endpoint"] == "/Users"
    assert (await client.get(f"{BASE}/ResourceTypes/Nope", headers=AUTH)).status == 404
    schemas = await (await client.get(f"{BASE}/Schemas", headers=AUTH)).json()
    ids = {s["id"] for s in schemas["Resources"]}
    assert "urn:ietf:params:scim:schemas:core:2.0:User" in ids
    group = await client.get(f"{BASE}/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", headers=AUTH)
    assert group.status == 200
    assert (await client.get(f"{BASE}/Schemas/urn:nope", headers=AUTH)).status == 404


async def test_scim_routes_need_credentials(client: AppClient) -> None:
    response = await client.get(f"{BASE}/Users")
    assert response.status == 401
    assert_scim_error(await response.json(), 401)
