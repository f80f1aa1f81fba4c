"""The OAuth2 client-credentials token endpoint over a real socket: grants, client auth, errors."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote_plus

import pytest
from aiohttp import ClientResponse
from pytest_aiohttp import AiohttpClient

from bridge.config import OAuthClient, Secret
from tests.auth.apps import bare_app, settings_with
from tests.auth.fakes import CLIENT_SECRET, FakeClock, auth_settings, basic_header
from tests.conftest import AppClient, LogReader

GRANT = {"grant_type": "client_credentials"}
FORM_AUTH = {"client_id": "entra-client", "client_secret": CLIENT_SECRET}
ODD_ID = "ping client"
ODD_SECRET = "s3cret+with/odd=chars%"


async def token_client(aiohttp_client: AiohttpClient, limit: int = 30) -> AppClient:
    auth = auth_settings(limit=limit, ttl=900)
    odd = OAuthClient("ping", ODD_ID, Secret(ODD_SECRET))
    auth = dataclasses.replace(auth, oauth_clients=(*auth.oauth_clients, odd))
    return await aiohttp_client(bare_app(settings_with(auth), FakeClock()))


def assert_no_store(response: ClientResponse) -> None:
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


async def oauth_error(response: ClientResponse, status: int, error: str) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == "application/json"
    assert_no_store(response)
    body: dict[str, Any] = await response.json()
    assert body["error"] == error
    assert "schemas" not in body
    return body


@pytest.mark.parametrize("path", ["/oauth/token", "/scim/v2/oauth/token"])
async def test_form_field_client_auth_issues_a_bearer_token(
    aiohttp_client: AiohttpClient, captured_logs: LogReader, path: str
) -> None:
    client = await token_client(aiohttp_client)
    response = await client.post(path, data={**GRANT, **FORM_AUTH, "scope": "scim"})
    assert response.status == 200
    assert_no_store(response)
    body = await response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    used = await client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert used.status == 200
    issued = [line for line in captured_logs() if line["event"] == "auth.token_issued"]
    assert issued[0]["idp"] == "entra-oauth"
    assert [line["client"] for line in captured_logs() if line["event"] == "request"] == ["entra-oauth"] * 2
    raw = captured_logs.raw()
    assert CLIENT_SECRET not in raw
    assert body["access_token"] not in raw


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("entra-client", CLIENT_SECRET),
        (ODD_ID, ODD_SECRET),  # as many clients send it
        (quote_plus(ODD_ID), quote_plus(ODD_SECRET)),  # as RFC 6749 §2.3.1 says to send it
    ],
)
async def test_basic_header_client_auth(aiohttp_client: AiohttpClient, user: str, password: str) -> None:
    client = await token_client(aiohttp_client)
    response = await client.post(
        "/oauth/token", data=GRANT, headers={"Authorization": basic_header(user, password)}
    )
    assert response.status == 200
    assert (await response.json())["token_type"] == "Bearer"


async def test_same_credentials_in_header_and_form_are_tolerated(aiohttp_client: AiohttpClient) -> None:
    client = await token_client(aiohttp_client)
    headers = {"Authorization": basic_header("entra-client", CLIENT_SECRET)}
    assert (await client.post("/oauth/token", data={**GRANT, **FORM_AUTH}, headers=headers)).status == 200
    mixed = {**GRANT, "client_id": ODD_ID, "client_secret": ODD_SECRET}
    await oauth_error(await client.post("/oauth/token", data=mixed, headers=headers), 400, "invalid_request")


@pytest.mark.parametrize("grant", ["authorization_code", "password", "refresh_token", "CLIENT_CREDENTIALS"])
async def test_other_grants_are_unsupported(aiohttp_client: AiohttpClient, grant: str) -> None:
    client = await token_client(aiohttp_client)
    response = await client.post("/oauth/token", data={"grant_type": grant, **FORM_AUTH})
    await oauth_error(response, 400, "unsupported_grant_type")


async def test_request_shape_errors_are_invalid_request(aiohttp_client: AiohttpClient) -> None:
    client = await token_client(aiohttp_client)
    await oauth_error(await client.post("/oauth/token", data=FORM_AUTH), 400, "invalid_request")
    as_json = await client.post("/oauth/token", json={**GRANT, **FORM_AUTH})
    await oauth_error(as_json, 400, "invalid_request")
    repeated = "grant_type=client_credentials&grant_type=client_credentials"
    response = await client.post(
        "/oauth/token", data=repeated, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    await oauth_error(response, 400, "invalid_request")


async def test_a_form_that_breaks_its_content_encoding_is_invalid_request(
    aiohttp_client: AiohttpClient,
) -> None:
    async def late_body() -> AsyncIterator[bytes]:
        # After the headers, so the handler is already reading the form when the bad gzip stream arrives;
        # sent with the headers, aiohttp's protocol layer would refuse the message itself.
        await asyncio.sleep(0.05)
        yield b"not a gzip stream"

    client = await token_client(aiohttp_client)
    response = await client.post(
        "/oauth/token",
        data=late_body(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"},
    )
    await oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        ({**GRANT, "client_id": "entra-client", "client_secret": "wrong-secret-value"}, {}),
        ({**GRANT, "client_id": "entra-client"}, {}),
        (GRANT, {}),
        (GRANT, {"Authorization": basic_header("entra-client", "wrong-secret-value")}),
        (GRANT, {"Authorization": "Basic %%%"}),
        (GRANT, {"Authorization": f"Bearer {CLIENT_SECRET}"}),
    ],
)
async def test_bad_client_credentials_are_invalid_client(
    aiohttp_client: AiohttpClient, captured_logs: LogReader, data: dict[str, str], headers: dict[str, str]
) -> None:
    client = await token_client(aiohttp_client)
    response = await client.post("/oauth/token", data=data, headers=headers)
    body = await oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="scim-bridge"'
    assert "wrong-secret-value" not in str(body)
    rejected = [line for line in captured_logs() if line["event"] == "auth.rejected"]
    assert rejected[0]["reason"] == "invalid_client"
    assert rejected[0]["endpoint"] == "token"
    raw = captured_logs.raw()
    assert "wrong-secret-value" not in raw
    assert CLIENT_SECRET not in raw


async def test_token_endpoint_failures_are_rate_limited(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    client = await token_client(aiohttp_client, limit=2)
    wrong = {**GRANT, "client_id": "entra-client", "client_secret": "wrong-secret-value"}
    for _ in range(2):
        assert (await client.post("/oauth/token", data=wrong)).status == 401
    blocked = await client.post("/oauth/token", data={**GRANT, **FORM_AUTH})
    await oauth_error(blocked, 429, "temporarily_unavailable")
    assert blocked.headers["Retry-After"] == "30"
    # The same address is blocked on the SCIM side too: one budget per address.
    assert (await client.get("/scim/v2/Users")).status == 429
    assert [line["event"] for line in captured_logs()].count("auth.rate_limited") == 2
