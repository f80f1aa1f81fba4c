"""Secrets sent through every path (headers, cookies, bodies, query, OAuth form, master login) never reach logs."""

from __future__ import annotations

import base64
from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.conftest import LogReader
from tests.idp.harness import ADMIN_PASSWORD, ENTRA_TOKEN, OKTA_BASIC, start_world

USER_PASSWORD = "Pa55-user-secret-XYZZY"
WRONG_PASSWORD = "wrong-basic-secret-QWERTY"
WRONG_TOKEN = "wrong-bearer-token-ASDFGH-123456"
COOKIE = "session-cookie-secret-ZXCVBN"
CLIENT_SECRET = "oauth-client-secret-POIUYT"
SCIM = "application/scim+json"


async def test_no_secret_appears_in_any_log_line(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    captured_logs: LogReader,
) -> None:
    world = await start_world(
        aiohttp_server,
        aiohttp_client,
        tmp_path,
        users={"create_remote": False, "password_sync": True},
    )
    bridge = world.bridge
    okta = {"Authorization": OKTA_BASIC, "Content-Type": SCIM}
    wrong_basic = "Basic " + base64.b64encode(f"determined:{WRONG_PASSWORD}".encode()).decode()
    for auth in (wrong_basic, f"Bearer {WRONG_TOKEN}", WRONG_TOKEN, f"Bearer {ENTRA_TOKEN}x"):
        response = await bridge.get(
            "/scim/v2/Users", headers={"Authorization": auth, "Cookie": f"auth={COOKIE}"}
        )
        assert response.status == 401
        assert WRONG_PASSWORD not in await response.text()
    created = await bridge.post(
        "/scim/v2/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "secretive",
            "password": USER_PASSWORD,
            "active": True,
        },
        headers=okta,
    )
    assert created.status == 201
    body = await created.json(content_type=None)
    assert "password" not in body
    patched = await bridge.patch(
        f"/scim/v2/Users/{body['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "password", "value": USER_PASSWORD + "2"}],
        },
        headers=okta,
    )
    assert patched.status in (200, 204)
    await bridge.get(f'/scim/v2/Users?filter=password eq "{USER_PASSWORD}"', headers=okta)
    await bridge.get("/scim/v2/Users", headers={"Authorization": f"Bearer {ENTRA_TOKEN}"})
    await bridge.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": CLIENT_SECRET},
    )
    await bridge.post("/scim/v2/Users", data=f'{{"password": "{USER_PASSWORD}", bad json', headers=okta)

    raw = captured_logs.raw()
    events = {line["event"] for line in captured_logs()}
    assert "request" in events
    assert "auth.rejected" in events
    for secret in (
        USER_PASSWORD,
        WRONG_PASSWORD,
        WRONG_TOKEN,
        ENTRA_TOKEN,
        COOKIE,
        CLIENT_SECRET,
        ADMIN_PASSWORD,
        'password":',
    ):
        assert secret not in raw, secret
    assert base64.b64encode(b"determined:password").decode() not in raw
