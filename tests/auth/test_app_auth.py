"""The auth matrix against the real ``create_app``: every SCIM route it has, plus the well-known paths."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from bridge.auth.oauth import OAuthTokens
from bridge.config import load_settings, parse_settings
from bridge.scim.errors import ERROR_URN
from bridge.web.app import create_app
from tests.auth.fakes import basic_header
from tests.conftest import AppClient, LogReader

SEED_CONFIG = Path(__file__).resolve().parents[2] / "scim-bridge.yaml"
STATIC_TOKEN = "entra-static-token-for-app-tests"
REVOKED_TOKEN = "revoked-static-token-for-app-tests"
CLIENT_SECRET = "oauth-client-secret-for-app-tests"
WELL_KNOWN = (
    "/scim/v2/Users",
    "/scim/v2/Users/{id}",
    "/scim/v2/Groups",
    "/scim/v2/Groups/{id}",
    "/scim/v2/ServiceProviderConfig",
    "/scim/v2/Schemas",
    "/scim/v2/ResourceTypes",
    "/scim/v2/Bulk",
    "/scim/v2/Me",
)


@pytest.fixture(autouse=True)
def _isolated_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The configs here keep the default relative database path; keep that file out of the checkout."""
    monkeypatch.chdir(tmp_path)


def raw_config(failures_per_minute: int = 30) -> dict[str, Any]:
    return {
        "master": {"url": "http://127.0.0.1:9", "token": "master-token-not-used-here"},
        "scim": {
            "auth": [
                {
                    "type": "basic",
                    "name": "okta",
                    "username": "determined",
                    "password": "password",
                    "failed_attempts_per_minute": failures_per_minute,
                },
                {"type": "bearer", "tokens": [{"name": "entra", "token": STATIC_TOKEN}]},
                {
                    "type": "oauth",
                    "token_ttl": 600,
                    "signing_key": "app-test-signing-key-0123456789",
                    "clients": [{"name": "ping", "client_id": "ping", "client_secret": CLIENT_SECRET}],
                },
            ]
        },
    }


def endpoints(client: AppClient) -> set[tuple[str, str]]:
    """(method, concrete path) for every app route under the base path, plus the well-known ones."""
    found = {("GET", path) for path in WELL_KNOWN}
    for route in client.app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if canonical.startswith("/scim/v2/") and not canonical.endswith("/oauth/token"):
            found.add((route.method, canonical))
    sample_id = str(uuid.uuid4())
    return {(method, path.replace("{id}", sample_id)) for method, path in found if method != "HEAD"}


async def test_seed_okta_basic_config_authenticates_unchanged(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    settings = load_settings(SEED_CONFIG, environ={})
    client = await aiohttp_client(create_app(settings))
    response = await client.get(
        "/scim/v2/Users?startIndex=1&count=2",
        headers={"Authorization": basic_header("determined", "password")},
    )
    assert response.status not in (401, 429)
    assert [line["client"] for line in captured_logs() if line["event"] == "request"] == ["basic"]
    rejected = await client.get(
        "/scim/v2/Users", headers={"Authorization": basic_header("determined", "wrong")}
    )
    assert rejected.status == 401


async def test_every_endpoint_rejects_bad_credentials(
    aiohttp_client: AiohttpClient, captured_logs: LogReader
) -> None:
    # A budget large enough for the whole matrix from one address; the limiter has its own tests.
    settings = parse_settings(raw_config(failures_per_minute=100_000), environ={})
    client = await aiohttp_client(create_app(settings))
    token_response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "ping", "client_secret": CLIENT_SECRET},
    )
    assert token_response.status == 200
    forged = (await token_response.json())["access_token"][:-4] + "AAAA"
    cases = {
        "none": {},
        "wrong basic": {"Authorization": basic_header("determined", "not-the-password")},
        "wrong bearer": {"Authorization": "Bearer not-a-configured-token-123"},
        "revoked bearer": {"Authorization": f"Bearer {REVOKED_TOKEN}"},
        "forged oauth": {"Authorization": f"Bearer {forged}"},
    }
    matrix = endpoints(client)
    assert len(matrix) >= len(WELL_KNOWN)
    for method, path in sorted(matrix):
        for name, headers in cases.items():
            response = await client.request(method, path, headers=headers)
            assert response.status == 401, (method, path, name)
            assert "WWW-Authenticate" in response.headers
            body = await response.json(content_type=None)
            assert body["schemas"] == [ERROR_URN]
            assert body["status"] == "401"
    raw = captured_logs.raw()
    wrong_basic = cases["wrong basic"]["Authorization"].split()[1]
    for secret in ("not-the-password", wrong_basic, CLIENT_SECRET, STATIC_TOKEN, REVOKED_TOKEN, forged):
        assert secret not in raw
    assert '"password"' not in raw  # the configured password as a logged value


async def test_expired_oauth_token_is_rejected_by_the_app(aiohttp_client: AiohttpClient) -> None:
    settings = parse_settings(raw_config(), environ={})
    client = await aiohttp_client(create_app(settings))
    # Minted with the app's signing key on a clock an hour back: validly signed, 50 minutes expired.
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    stale = OAuthTokens(settings.scim.auth, lambda: an_hour_ago).issue_token("ping", CLIENT_SECRET, None)[0]
    response = await client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {stale}"})
    assert response.status == 401
    assert (await response.json(content_type=None))["detail"] == "The access token has expired."
    fresh = await client.post(
        "/scim/v2/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "ping", "client_secret": CLIENT_SECRET},
    )
    token = (await fresh.json())["access_token"]
    accepted = await client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
    assert accepted.status not in (401, 429)


async def test_probes_stay_open(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(parse_settings(raw_config(), environ={})))
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status not in (401, 429)


async def test_right_credentials_pass_every_endpoint(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(parse_settings(raw_config(), environ={})))
    for method, path in sorted(endpoints(client)):
        response = await client.request(method, path, headers={"Authorization": f"Bearer {STATIC_TOKEN}"})
        assert response.status not in (401, 429), (method, path)
