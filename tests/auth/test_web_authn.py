"""The auth middleware on a bare app over a real socket: the 401 matrix, success, rate limit, no leaks."""

from __future__ import annotations

import dataclasses
from base64 import b64encode
from typing import Any

import pytest
from aiohttp import ClientResponse
from pytest_aiohttp import AiohttpClient

from bridge.config import AuthSettings, ServerSettings, Settings
from bridge.scim.errors import ERROR_URN
from bridge.web.app import create_app
from tests.auth.apps import bare_app, settings_with
from tests.auth.fakes import (
    CLIENT_SECRET,
    ENTRA_TOKEN,
    OKTA_PASSWORD,
    ROTATED_PASSWORD,
    FakeClock,
    auth_settings,
    basic_header,
)
from tests.conftest import AppClient, LogReader

WRONG_PASSWORD = "wrong-guess-password-1234"
WRONG_TOKEN = "wrong-guess-token-abcdef123456"
REVOKED_TOKEN = "revoked-token-was-valid-yesterday"
SECRETS = (
    OKTA_PASSWORD,
    ROTATED_PASSWORD,
    ENTRA_TOKEN,
    CLIENT_SECRET,
    WRONG_PASSWORD,
    WRONG_TOKEN,
    REVOKED_TOKEN,
)


async def client_for(aiohttp_client: AiohttpClient, settings: Settings, clock: FakeClock) -> AppClient:
    return await aiohttp_client(bare_app(settings, clock))


async def issue(client: AppClient) -> str:
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "entra-client",
            "client_secret": CLIENT_SECRET,
        },
    )
    assert response.status == 200
    token: str = (await response.json())["access_token"]
    return token


async def assert_scim_401(response: ClientResponse) -> dict[str, Any]:
    assert response.status == 401
    assert response.content_type == "application/scim+json"
    assert "Basic" in response.headers["WWW-Authenticate"]
    assert "Bearer" in response.headers["WWW-Authenticate"]
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == "401"
    assert body["detail"]
    return body


async def test_auth_matrix_rejects_with_scim_401(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    clock = FakeClock()
    client = await client_for(aiohttp_client, settings_with(auth_settings(ttl=60)), clock)
    expired = await issue(client)
    tampered = expired[:-3] + ("AAA" if not expired.endswith("AAA") else "BBB")
    clock.advance(61)
    cases: dict[str, dict[str, str]] = {
        "none": {},
        "wrong basic": {"Authorization": basic_header("determined", WRONG_PASSWORD)},
        "malformed basic": {"Authorization": "Basic %%%not-base64%%%"},
        "wrong bearer": {"Authorization": f"Bearer {WRONG_TOKEN}"},
        "expired oauth": {"Authorization": f"Bearer {expired}"},
        "tampered oauth": {"Authorization": f"Bearer {tampered}"},
        "revoked bearer": {"Authorization": f"Bearer {REVOKED_TOKEN}"},
        "unknown scheme": {"Authorization": f"Digest {ENTRA_TOKEN}x"},
    }
    bodies = []
    for path in ("/scim/v2/Users", "/scim/v2/ServiceProviderConfig", "/scim/v2/NoSuchEndpoint"):
        for name, headers in cases.items():
            response = await client.get(path, headers=headers)
            assert response.status == 401, (path, name)
            bodies.append(await assert_scim_401(response))
    assert {b["detail"] for b in bodies} >= {"Authentication required.", "The access token has expired."}
    rejected = [line for line in captured_logs() if line["event"] == "auth.rejected"]
    assert len(rejected) == 3 * len(cases)
    assert {line["reason"] for line in rejected} == {
        "missing",
        "bad_credentials",
        "malformed",
        "expired_token",
        "unsupported_scheme",
    }
    assert all(line["client_address"] == "127.0.0.1" for line in rejected)
    raw = captured_logs.raw()
    for secret in (*SECRETS, expired):
        assert secret not in raw
        assert all(secret not in str(body) for body in bodies)


async def test_revoked_bearer_was_accepted_before_removal(aiohttp_client: AiohttpClient) -> None:
    with_old = settings_with(auth_settings(bearer=(REVOKED_TOKEN, ENTRA_TOKEN)))
    before = await client_for(aiohttp_client, with_old, FakeClock())
    assert (
        await before.get("/scim/v2/Users", headers={"Authorization": f"Bearer {REVOKED_TOKEN}"})
    ).status == 200
    after = await client_for(aiohttp_client, settings_with(auth_settings()), FakeClock())
    await assert_scim_401(
        await after.get("/scim/v2/Users", headers={"Authorization": f"Bearer {REVOKED_TOKEN}"})
    )


@pytest.mark.parametrize(
    ("header", "name", "method"),
    [
        (basic_header("determined", OKTA_PASSWORD), "okta", "basic"),
        (basic_header("determined", ROTATED_PASSWORD), "okta-next", "basic"),
        (f"Bearer {ENTRA_TOKEN}", "bearer-0", "bearer"),
        (ENTRA_TOKEN, "bearer-0", "bearer"),
    ],
)
async def test_right_credentials_reach_the_handler_and_the_log(
    aiohttp_client: AiohttpClient, captured_logs: LogReader, header: str, name: str, method: str
) -> None:
    client = await client_for(aiohttp_client, settings_with(auth_settings()), FakeClock())
    response = await client.get("/scim/v2/Users", headers={"Authorization": header})
    assert response.status == 200
    assert await response.json() == {"client": name, "method": method}
    request_lines = [line for line in captured_logs() if line["event"] == "request"]
    assert request_lines[-1]["client"] == name
    assert request_lines[-1]["idp"] == name
    raw = captured_logs.raw()
    assert all(secret not in raw for secret in SECRETS)
    assert header.split()[-1] not in raw


async def test_oauth_token_from_the_endpoint_authenticates(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    client = await client_for(aiohttp_client, settings_with(auth_settings()), FakeClock())
    token = await issue(client)
    response = await client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
    assert await response.json() == {"client": "entra-oauth", "method": "oauth"}
    raw = captured_logs.raw()
    assert token not in raw
    assert CLIENT_SECRET not in raw
    assert [line["client"] for line in captured_logs() if line["event"] == "request"] == [
        "entra-oauth",
        "entra-oauth",
    ]


async def test_open_routes_need_no_credentials(aiohttp_client: AiohttpClient) -> None:
    client = await client_for(aiohttp_client, settings_with(auth_settings()), FakeClock())
    assert (await client.get("/healthz")).status == 200
    unknown_outside_base = await client.get("/elsewhere")
    assert unknown_outside_base.status == 404


async def test_unknown_endpoints_under_base_are_hidden_until_authenticated(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await client_for(aiohttp_client, settings_with(auth_settings()), FakeClock())
    await assert_scim_401(await client.get("/scim/v2/Nope"))
    authed = await client.get("/scim/v2/Nope", headers={"Authorization": f"Bearer {ENTRA_TOKEN}"})
    assert authed.status == 404


async def test_failed_attempts_are_rate_limited_per_address(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    clock = FakeClock()
    client = await client_for(aiohttp_client, settings_with(auth_settings(limit=3)), clock)
    good = {"Authorization": f"Bearer {ENTRA_TOKEN}"}
    for _ in range(5):
        # Successes spend no budget.
        assert (await client.get("/scim/v2/Users", headers=good)).status == 200
    wrong = {"Authorization": basic_header("determined", WRONG_PASSWORD)}
    for _ in range(3):
        assert (await client.get("/scim/v2/Users", headers=wrong)).status == 401
    blocked = await client.get("/scim/v2/Users", headers=wrong)
    assert blocked.status == 429
    assert blocked.headers["Retry-After"] == "20"
    body = await blocked.json(content_type=None)
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == "429"
    # While blocked even right credentials are refused: otherwise guessing would go on unhindered.
    assert (await client.get("/scim/v2/Users", headers=good)).status == 429
    clock.advance(20)
    assert (await client.get("/scim/v2/Users", headers=good)).status == 200
    limited = [line for line in captured_logs() if line["event"] == "auth.rate_limited"]
    assert len(limited) == 2
    assert limited[0]["client_address"] == "127.0.0.1"
    assert limited[0]["retry_after"] == 20
    assert WRONG_PASSWORD not in captured_logs.raw()


async def test_forwarded_address_is_used_only_behind_a_trusted_proxy(aiohttp_client: AiohttpClient) -> None:
    wrong = {"Authorization": f"Bearer {WRONG_TOKEN}"}
    trusting = settings_with(auth_settings(limit=1), trusted_proxies=("127.0.0.0/8",))
    client = await client_for(aiohttp_client, trusting, FakeClock())
    attacker = {**wrong, "X-Forwarded-For": "203.0.113.7"}
    assert (await client.get("/scim/v2/Users", headers=attacker)).status == 401
    assert (await client.get("/scim/v2/Users", headers=attacker)).status == 429
    other = {**wrong, "X-Forwarded-For": "198.51.100.1, 127.0.0.1"}
    assert (await client.get("/scim/v2/Users", headers=other)).status == 401

    untrusting = await client_for(aiohttp_client, settings_with(auth_settings(limit=1)), FakeClock())
    assert (await untrusting.get("/scim/v2/Users", headers=attacker)).status == 401
    spoofed = {**wrong, "X-Forwarded-For": "198.51.100.99"}
    assert (await untrusting.get("/scim/v2/Users", headers=spoofed)).status == 429


async def test_basic_with_raw_non_ascii_bytes_is_a_plain_401(aiohttp_client: AiohttpClient) -> None:
    client = await client_for(aiohttp_client, settings_with(auth_settings()), FakeClock())
    header = "Basic " + b64encode(b"determined:\xff\xfe").decode()
    await assert_scim_401(await client.get("/scim/v2/Users", headers={"Authorization": header}))


async def test_no_credentials_configured_rejects_everything(aiohttp_client: AiohttpClient) -> None:
    client = await client_for(aiohttp_client, settings_with(AuthSettings()), FakeClock())
    await assert_scim_401(
        await client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {ENTRA_TOKEN}"})
    )
    assert (await client.post("/oauth/token", data={"grant_type": "client_credentials"})).status == 404


def test_bad_trusted_proxy_entry_fails_the_app_factory() -> None:
    """The factory parses the entries once for the app (config validation refuses a bad one before)."""
    settings = dataclasses.replace(
        settings_with(auth_settings()), server=ServerSettings(trusted_proxies=("nope",))
    )
    with pytest.raises(ValueError, match=r"server\.trusted_proxies"):
        create_app(settings)


async def test_forwarded_hops_all_trusted_or_not_addresses_are_limited_by_what_they_say(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    """Behind trusted proxies only, the client is the nearest untrusted hop; when every hop is trusted (an
    internal caller), the furthest one; a hop that is no IP address is never trusted, so it is the client."""
    wrong = {"Authorization": f"Bearer {WRONG_TOKEN}"}
    settings = settings_with(auth_settings(limit=1), trusted_proxies=("127.0.0.0/8", "10.0.0.0/8"))
    client = await client_for(aiohttp_client, settings, FakeClock())
    internal = {**wrong, "X-Forwarded-For": "10.1.1.1, 10.2.2.2"}
    assert (await client.get("/scim/v2/Users", headers=internal)).status == 401
    assert (
        await client.get("/scim/v2/Users", headers={**wrong, "X-Forwarded-For": "10.1.1.1"})
    ).status == 429
    junk = {**wrong, "X-Forwarded-For": "10.9.9.9, not-an-ip, 10.2.2.2"}
    assert (await client.get("/scim/v2/Users", headers=junk)).status == 401
    assert (await client.get("/scim/v2/Users", headers=junk)).status == 429
    assert (await client.get("/scim/v2/Users", headers={**wrong, "X-Forwarded-For": " , "})).status == 401
    rejected = [e["client_address"] for e in captured_logs() if e.get("event") == "auth.rejected"]
    assert rejected == ["10.1.1.1", "not-an-ip", "127.0.0.1"]
    limited = [e["client_address"] for e in captured_logs() if e.get("event") == "auth.rate_limited"]
    assert limited == ["10.1.1.1", "not-an-ip"]


async def test_malformed_oauth_tokens_are_a_scim_401(aiohttp_client: AiohttpClient) -> None:
    client = await client_for(aiohttp_client, settings_with(auth_settings()), FakeClock())
    token = await issue(client)
    for forged in (token.rpartition(".")[0] + ".a", "sb1.a", "sb1."):
        await assert_scim_401(
            await client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {forged}"})
        )


async def test_route_verdicts_are_the_same_on_every_request(aiohttp_client: AiohttpClient) -> None:
    # The policy keeps each registered route's verdict after its first request; unmatched requests are
    # decided by their path each time.
    client = await client_for(aiohttp_client, settings_with(auth_settings()), FakeClock())
    right = {"Authorization": f"Bearer {ENTRA_TOKEN}"}
    for _ in range(2):
        await assert_scim_401(await client.get("/scim/v2/Users"))
        assert (await client.get("/scim/v2/Users", headers=right)).status == 200
        assert (await client.get("/healthz")).status == 200
        await assert_scim_401(await client.get("/scim/v2/Nope"))
        assert (await client.get("/elsewhere")).status == 404
        assert (await client.post("/healthz")).status == 405
