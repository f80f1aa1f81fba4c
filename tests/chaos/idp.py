"""IdP-side clients for the chaos suite: Okta/Entra request shapes, their retry habits, and the intended state.

Each client owns its users and groups (as one IdP app owns its assignments) and runs one operation at a
time, retrying it until the bridge gives a definite answer: connection errors, 5xx and 429 are retried
with jittered backoff (Retry-After honoured, capped), as Okta and Entra do. The model is updated only when
an operation is known to have succeeded, so at the end it is exactly what the IdP intended.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

USER_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN: Final = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OP_DEADLINE: Final = 180.0


class ChaosFailure(AssertionError):
    """An answer no amount of retrying explains: the bridge broke its contract."""


@dataclass(slots=True)
class IntendedUser:
    """What the IdP wants for one user."""

    user_name: str
    display_name: str
    active: bool = True
    scim_id: str | None = None
    deleted: bool = False


@dataclass(slots=True)
class IntendedGroup:
    """What the IdP wants for one group (members by userName)."""

    name: str
    scim_id: str | None = None
    members: set[str] = field(default_factory=set)
    deleted: bool = False


@dataclass(slots=True)
class Figures:
    """Counters shared by all clients."""

    operations: int = 0
    requests: int = 0
    retries: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    by_operation: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class IdpClient:
    """One IdP app: a session, a seeded random source, its objects, and the shared figures."""

    index: int
    base_url: str
    authorization: str
    session: aiohttp.ClientSession
    rng: random.Random
    figures: Figures
    on_operation: Callable[[], Awaitable[None]] | None = None
    users: dict[str, IntendedUser] = field(default_factory=dict)
    groups: dict[str, IntendedGroup] = field(default_factory=dict)
    serial: int = 0

    # --- transport with IdP retry habits ------------------------------------------------------------

    async def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """Send until the answer is definite (not a connection error, 5xx or 429); return status and JSON."""
        deadline = time.monotonic() + OP_DEADLINE
        attempt = 0
        headers = {
            "Authorization": self.authorization,
            "Content-Type": "application/scim+json; charset=utf-8",
        }
        data = None if body is None else json.dumps(body).encode()
        while True:
            self.figures.requests += 1
            retry_after: float | None = None
            try:
                async with self.session.request(
                    method, self.base_url + path, data=data, headers=headers
                ) as resp:
                    status = resp.status
                    self.figures.by_status[status] += 1
                    raw = await resp.read()
                    if status < 500 and status != 429:
                        return status, json.loads(raw) if raw else None
                    header = resp.headers.get("Retry-After", "")
                    retry_after = float(header) if header.isdigit() else None
            except (aiohttp.ClientError, TimeoutError):
                self.figures.connection_errors += 1
            if time.monotonic() > deadline:
                raise ChaosFailure(f"client {self.index}: {method} {path} never got a definite answer")
            attempt += 1
            self.figures.retries += 1
            backoff = min(1.0, 0.02 * 2 ** min(attempt, 6)) * (0.5 + self.rng.random())
            # Honour Retry-After, scaled down and capped so the suite stays fast (the order is what matters).
            await asyncio.sleep(min(retry_after / 4, 0.5) if retry_after is not None else backoff)

    def _expect(self, status: int, allowed: tuple[int, ...], what: str, body: Any) -> None:
        if status not in allowed:
            raise ChaosFailure(f"client {self.index}: {what} answered {status}: {body!r}")

    async def _find(self, kind: str, attribute: str, value: str) -> str | None:
        """Okta's first move for an object it may already have created: filter by its name."""
        status, body = await self.call("GET", f"/{kind}?filter={attribute}%20eq%20%22{value}%22")
        self._expect(status, (200,), f"filter {kind}", body)
        resources = body.get("Resources", [])
        if len(resources) > 1:
            raise ChaosFailure(f"client {self.index}: {len(resources)} {kind} named {value}")
        return str(resources[0]["id"]) if resources else None

    # --- users --------------------------------------------------------------------------------------

    def _user_doc(self, user: IntendedUser) -> dict[str, Any]:
        return {
            "schemas": [USER_URN],
            "userName": user.user_name,
            "displayName": user.display_name,
            "name": {"givenName": "Chaos", "familyName": user.user_name},
            "emails": [{"value": f"{user.user_name}@example.com", "type": "work", "primary": True}],
            "active": user.active,
        }

    async def create_user(self) -> None:
        """POST /Users; on 409 find it by filter and PUT the full document (Okta's link-then-update)."""
        self.serial += 1
        name = f"c{self.index}-u{self.serial}"
        user = IntendedUser(user_name=name, display_name=f"Chaos {name} v0")
        while True:
            status, body = await self.call("POST", "/Users", self._user_doc(user))
            if status == 201:
                user.scim_id = body["id"]
                break
            self._expect(status, (409,), "create user", body)
            found = await self._find("Users", "userName", name)
            if found is not None:
                user.scim_id = found
                status, body = await self.call("PUT", f"/Users/{found}", self._user_doc(user))
                self._expect(status, (200,), "put linked user", body)
                break
            # The master has the user but the bridge has not recorded it yet (a journalled create that the
            # bridge resolves after a crash or timeout): ask again later, as Okta's retry queue does.
            await asyncio.sleep(0.2)
        self.users[name] = user

    def _live_users(self) -> list[IntendedUser]:
        return [u for u in self.users.values() if not u.deleted]

    async def toggle_active(self, user: IntendedUser) -> None:
        """Entra's PATCH with a capitalised op and a string boolean (idp-traffic: Entra quirks)."""
        wanted = not user.active
        body = {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "Replace", "path": "active", "value": "True" if wanted else "False"}],
        }
        status, answer = await self.call("PATCH", f"/Users/{user.scim_id}", body)
        self._expect(status, (200, 204), "patch active", answer)
        user.active = wanted

    async def replace_user(self, user: IntendedUser) -> None:
        """Okta's PUT of the whole user with a new display name."""
        version = int(user.display_name.rsplit("v", 1)[1]) + 1
        changed = IntendedUser(
            user.user_name, f"Chaos {user.user_name} v{version}", user.active, user.scim_id
        )
        status, answer = await self.call("PUT", f"/Users/{user.scim_id}", self._user_doc(changed))
        self._expect(status, (200,), "put user", answer)
        user.display_name = changed.display_name

    async def delete_user(self, user: IntendedUser) -> None:
        """DELETE; a 404 on a retry means the first attempt did it."""
        status, answer = await self.call("DELETE", f"/Users/{user.scim_id}")
        self._expect(status, (204, 404), "delete user", answer)
        user.deleted = True
        for group in self.groups.values():
            group.members.discard(user.user_name)

    # --- groups -------------------------------------------------------------------------------------

    def _group_doc(self, group: IntendedGroup) -> dict[str, Any]:
        return {
            "schemas": [GROUP_URN],
            "displayName": group.name,
            "members": [{"value": self.users[m].scim_id} for m in sorted(group.members)],
        }

    async def create_group(self) -> None:
        """POST /Groups with up to three members; on 409 find and PUT."""
        self.serial += 1
        group = IntendedGroup(name=f"c{self.index}-g{self.serial}")
        live = self._live_users()
        group.members = {u.user_name for u in self.rng.sample(live, min(len(live), 3))}
        while True:
            status, body = await self.call("POST", "/Groups", self._group_doc(group))
            if status == 201:
                group.scim_id = body["id"]
                break
            self._expect(status, (409,), "create group", body)
            found = await self._find("Groups", "displayName", group.name)
            if found is not None:
                group.scim_id = found
                status, body = await self.call("PUT", f"/Groups/{found}", self._group_doc(group))
                self._expect(status, (200,), "put linked group", body)
                break
            await asyncio.sleep(0.2)
        self.groups[group.name] = group

    async def change_members(self, group: IntendedGroup) -> None:
        """Entra-style PATCH adding one member and removing another (deltas; repeats are no-ops)."""
        candidates = [u for u in self._live_users() if u.user_name not in group.members]
        ops: list[dict[str, Any]] = []
        added = removed = None
        if candidates:
            added = self.rng.choice(candidates).user_name
            ops.append({"op": "Add", "path": "members", "value": [{"value": self.users[added].scim_id}]})
        if group.members and self.rng.random() < 0.5:
            removed = self.rng.choice(sorted(group.members))
            ops.append({"op": "Remove", "path": f'members[value eq "{self.users[removed].scim_id}"]'})
        if not ops:
            return
        status, answer = await self.call(
            "PATCH", f"/Groups/{group.scim_id}", {"schemas": [PATCH_URN], "Operations": ops}
        )
        self._expect(status, (200, 204), "patch members", answer)
        if added:
            group.members.add(added)
        if removed:
            group.members.discard(removed)

    async def rename_group(self, group: IntendedGroup) -> None:
        """PATCH replace displayName (Entra)."""
        self.serial += 1
        new_name = f"c{self.index}-g{self.serial}"
        body = {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "Replace", "path": "displayName", "value": new_name}],
        }
        status, answer = await self.call("PATCH", f"/Groups/{group.scim_id}", body)
        self._expect(status, (200, 204), "rename group", answer)
        del self.groups[group.name]
        group.name = new_name
        self.groups[new_name] = group

    async def delete_group(self, group: IntendedGroup) -> None:
        """DELETE; 404 on a retry means done."""
        status, answer = await self.call("DELETE", f"/Groups/{group.scim_id}")
        self._expect(status, (204, 404), "delete group", answer)
        group.deleted = True

    # --- scenario -----------------------------------------------------------------------------------

    async def one_operation(self) -> str:
        """Pick and run one operation in proportions like a directory's daily churn."""
        live = self._live_users()
        groups = [g for g in self.groups.values() if not g.deleted]
        roll = self.rng.random()
        if len(live) < 3 or roll < 0.12:
            await self.create_user()
            return "create_user"
        if roll < 0.32:
            await self.toggle_active(self.rng.choice(live))
            return "patch_active"
        if roll < 0.47:
            await self.replace_user(self.rng.choice(live))
            return "put_user"
        if roll < 0.51:
            await self.delete_user(self.rng.choice(live))
            return "delete_user"
        if not groups or roll < 0.58:
            await self.create_group()
            return "create_group"
        if roll < 0.90:
            await self.change_members(self.rng.choice(groups))
            return "patch_members"
        if roll < 0.97:
            await self.rename_group(self.rng.choice(groups))
            return "rename_group"
        await self.delete_group(self.rng.choice(groups))
        return "delete_group"

    async def run(self, operations: int) -> None:
        """Run this client's share of the operations."""
        for _ in range(operations):
            kind = await self.one_operation()
            self.figures.operations += 1
            self.figures.by_operation[kind] += 1
            if self.on_operation is not None:
                await self.on_operation()
