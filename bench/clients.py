"""HTTP clients for both sides of a comparison: SCIM (bridge or peer) and the master's native REST API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import aiohttp

SCIM_JSON: Final = "application/scim+json"
USER_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
Json = dict[str, Any]


def new_session(limit: int = 256) -> aiohttp.ClientSession:
    """One pooled keep-alive session for a whole run (no per-request connection setup on either side)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit),
        timeout=aiohttp.ClientTimeout(total=120),
    )


class HttpSide:
    """A base URL plus bearer token; requests return (status, parsed JSON body or None)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str, content_type: str) -> None:
        self._session = session
        self.base = base
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}

    async def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        """Send one request and read the whole answer."""
        data = None if body is None else json.dumps(body)
        async with self._session.request(method, self.base + path, data=data, headers=self._headers) as resp:
            raw = await resp.read()
            return resp.status, (json.loads(raw) if raw else None)

    async def status(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> int:
        """Send one request, read and discard the answer, return the status (what the load loop times)."""
        data = None if body is None else json.dumps(body)
        async with self._session.request(method, self.base + path, data=data, headers=self._headers) as resp:
            await resp.read()
            return resp.status


def scim_side(session: aiohttp.ClientSession, base: str, token: str) -> HttpSide:
    """SCIM endpoints under `base` (e.g. http://host:port/scim/v2)."""
    return HttpSide(session, base, token, SCIM_JSON)


async def native_side(
    session: aiohttp.ClientSession, master_url: str, username: str, password: str
) -> HttpSide:
    """The master's /api/v1 with a login session token (contract §4.1)."""
    async with session.post(
        master_url + "/api/v1/auth/login", json={"username": username, "password": password}
    ) as resp:
        resp.raise_for_status()
        token = str((await resp.json())["token"])
    return HttpSide(session, master_url + "/api/v1", token, "application/json")


def user_doc(user_name: str, seq: int) -> Json:
    """An Okta-shaped POST /Users body (shared/idp/idp-traffic.md)."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "externalId": f"ext-{seq}",
        "name": {"givenName": f"Given{seq}", "familyName": f"Family{seq}"},
        "displayName": f"Bench User {seq}",
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "active": True,
    }


def native_user_doc(user_name: str, seq: int) -> Json:
    """The PostUser body the bridge itself sends for a new remote user (contract §4.7)."""
    return {
        "user": {
            "username": user_name,
            "admin": False,
            "active": True,
            "remote": True,
            "displayName": f"Bench User {seq}",
        },
        "password": "",
        "isHashed": False,
    }


def patch_body(*operations: Json) -> Json:
    """A PatchOp message (RFC 7644 §3.5.2)."""
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def members_remove_one(scim_id: str) -> Json:
    """PATCH op removing one member by a value filter, as Okta's group push sends it."""
    return {"op": "remove", "path": f'members[value eq "{scim_id}"]'}


def members_add(scim_ids: list[str]) -> Json:
    """PATCH op adding members, as Entra and Okta send it."""
    return {"op": "add", "path": "members", "value": [{"value": i} for i in scim_ids]}
