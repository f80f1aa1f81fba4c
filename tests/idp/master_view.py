"""What the master holds, read straight from its REST API (master-api.md §4) with raw HTTP, not the bridge's client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True, slots=True)
class MasterUserState:
    """A user as the master reports it."""

    id: int
    username: str
    active: bool
    display_name: str
    remote: bool


@dataclass(frozen=True, slots=True)
class MasterState:
    """Users by username and non-personal groups by name (with member usernames)."""

    users: dict[str, MasterUserState]
    groups: dict[str, frozenset[str]]


class MasterView:
    """Logs in as an admin and reads users and groups."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self._base = base_url.rstrip("/")
        self._username = username
        self._password = password

    async def _json(self, session: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> Any:
        async with session.request(method, self._base + path, **kw) as response:
            assert response.status == 200, (method, path, response.status, await response.text())
            return await response.json()

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """One admin call behind the bridge's back (what the Determined UI or CLI would do)."""
        async with aiohttp.ClientSession() as session:
            login = await self._json(
                session,
                "POST",
                "/api/v1/auth/login",
                json={"username": self._username, "password": self._password},
            )
            headers = {"Authorization": f"Bearer {login['token']}"}
            return await self._json(session, method, path, json=body, headers=headers)

    async def state(self) -> MasterState:
        """One consistent-enough snapshot (the tests run nothing concurrently while reading)."""
        async with aiohttp.ClientSession() as session:
            login = await self._json(
                session,
                "POST",
                "/api/v1/auth/login",
                json={"username": self._username, "password": self._password},
            )
            headers = {"Authorization": f"Bearer {login['token']}"}
            users_doc = await self._json(session, "GET", "/api/v1/users?limit=0", headers=headers)
            users = {
                u["username"]: MasterUserState(
                    u["id"], u["username"], u["active"], u["displayName"], u["remote"]
                )
                for u in users_doc["users"]
            }
            search = await self._json(
                session, "POST", "/api/v1/groups/search", json={"limit": 500}, headers=headers
            )
            groups: dict[str, frozenset[str]] = {}
            for entry in search["groups"]:
                group_id = entry["group"]["groupId"]
                details = await self._json(session, "GET", f"/api/v1/groups/{group_id}", headers=headers)
                groups[details["group"]["name"]] = frozenset(u["username"] for u in details["group"]["users"])
        return MasterState(users, groups)


async def can_log_in(base_url: str, username: str, password: str) -> bool:
    """Whether the master accepts this username and password (POST /api/v1/auth/login, §4.1)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            base_url.rstrip("/") + "/api/v1/auth/login", json={"username": username, "password": password}
        ) as response,
    ):
        return response.status == 200
