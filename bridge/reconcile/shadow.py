"""``mode: shadow``: a DeterminedClient that logs the master writes it would make and makes none (issue 7).

Reads go to the real master, overlaid with the objects the shadowed writes would have produced, so a whole
IdP conversation (create, then patch, then add to a group) computes the same calls it would in normal mode.
Listings (user list, group search) are filtered, ordered and paged after that overlay, as the master would
(``shadow_listing``): a shadow-created object takes the place its id would have had, after every object the
master had when it was made and before any made since. A membership write moves the ``modifiedAt`` of every
user it names, as the master's does. An id the overlay does not hold is asked of the master, so a synthetic
id the overlay lost (a restart) is "not found" in the master's own words, RBAC or not.
Each write is one ``shadow.master_call`` event: method, path template, Determined ids and the names of the
fields sent (never their values: they can hold personal data or passwords). Synthetic ids start at
``SHADOW_ID_BASE`` so they cannot collide with the master's. A shadow bridge must have its own
``database.path``: its mapping holds the synthetic ids.

Group writes the master would refuse are refused alike (``shadow_rules``). A write the overlay cannot
simulate (an access token: its secret would have to work on the real master) raises ``ShadowRefused``, and so
does any client method not overridden here: this class never reaches ``DeterminedClient._call``, so a method
added to the client later cannot write to the real master from a shadow bridge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import structlog

from bridge.determined import (
    CreatedToken,
    DeterminedClient,
    MasterCredential,
    MasterError,
    MasterGroup,
    MasterGroupDetails,
    MasterGroupPage,
    MasterInfo,
    MasterInternal,
    MasterNotFound,
    MasterUser,
    MasterUserPage,
)
from bridge.determined.client import GROUP_PAGE_MAX
from bridge.reconcile import shadow_listing, shadow_rules

SHADOW_ID_BASE: Final = 1_000_000_000
_log = structlog.get_logger("bridge.shadow")


class ShadowRefused(MasterError):
    """A master call a shadow bridge neither makes nor simulates; nothing was sent to the master."""

    default_status = 501


class ShadowClient(DeterminedClient):
    """Wraps the real client: reads pass through (plus the overlay), writes are logged and simulated."""

    def __init__(self, real: DeterminedClient) -> None:  # the real client owns the session
        self._real = real
        self._users: dict[int, MasterUser] = {}
        self._groups: dict[int, MasterGroupDetails] = {}
        self._deleted_groups: set[int] = set()
        # When a shadowed membership write moved a user's modifiedAt; applied to every read of that user, so
        # the master's later answers about it (another field changed by an administrator) still show.
        self._touched: dict[int, datetime] = {}
        # A shadow-created object's place in id order: the highest id the master had when it was made.
        self._anchors: dict[int, int] = {}
        self._real_user_high: int | None = None
        self._last_now = datetime.min.replace(tzinfo=UTC)
        self._next_id = SHADOW_ID_BASE
        self.recorded: list[dict[str, object]] = []

    def _record(self, method: str, path: str, **fields: object) -> None:
        entry: dict[str, object] = {"method": method, "path": path, **fields}
        self.recorded.append(entry)
        _log.info("shadow.master_call", **entry)

    def _new_id(self, anchor: int) -> int:
        self._next_id += 1
        self._anchors[self._next_id] = anchor
        return self._next_id

    def _now(self) -> datetime:
        """Strictly increasing, as the master's NOW() of one transaction after another."""
        self._last_now = max(datetime.now(UTC), self._last_now + timedelta(microseconds=1))
        return self._last_now

    def _position(self, det_id: int) -> tuple[int, int, int]:
        """Where the master's id order puts ``det_id``: a shadow-created object right after the master's newest
        object when it was made (ties among shadow-created ones by creation), a real one at its id."""
        anchor = self._anchors.get(det_id)
        return (det_id, 0, 0) if anchor is None else (anchor, 1, det_id)

    def _touch(self, det_ids: Iterable[int]) -> None:
        """Move the ``modifiedAt`` of the users a membership write named, members or not, to one instant (usergroup
        UpdateUsersTimestampTx: ``modified_at = NOW()`` for every listed id)."""
        now = self._now()
        for det_id in det_ids:
            self._touched[det_id] = now

    def _current(self, user: MasterUser) -> MasterUser:
        """``user`` as the master would answer it now: the overlay's fields, the later of the two modifiedAt."""
        user = self._users.get(user.id, user)
        touched = self._touched.get(user.id)
        if touched is None or (user.modified_at is not None and user.modified_at >= touched):
            return user
        return user._replace(modified_at=touched)

    def _details(self, details: MasterGroupDetails) -> MasterGroupDetails:
        """A group's members as the master builds them: from the users' current rows."""
        return dataclasses.replace(details, users=tuple(self._current(u) for u in details.users))

    # --- pass-through ------------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """The real master's health."""
        return self._real.healthy

    async def close(self) -> None:
        """Close the real client."""
        await self._real.close()

    async def ping(self) -> bool:
        """Ping the real master."""
        return await self._real.ping()

    async def master_info(self) -> MasterInfo:
        """The real master's info."""
        return await self._real.master_info()

    async def identify(self) -> MasterInfo:
        """The real master's info (one probe)."""
        return await self._real.identify()

    async def me(self) -> MasterUser:
        """The bridge's real account."""
        return await self._real.me()

    async def current_user(self) -> MasterUser:
        """The bridge's real account (``GET /api/v1/auth/user``, a read)."""
        return await self._real.current_user()

    @property
    def credential(self) -> MasterCredential:
        """The real client's credential (its logins are real: reads need them)."""
        return self._real.credential

    async def _call(
        self,
        method: str,
        template: str,
        path_params: Mapping[str, int | str] | None = None,
        **options: Any,
    ) -> Any:
        """Refuse: every call this class makes goes through ``_real`` or the overlay, so only a client method
        it does not override gets here, and that method's write must not reach the real master."""
        raise self._refused(method, template)

    @staticmethod
    def _refused(method: str, template: str) -> ShadowRefused:
        _log.warning("shadow.refused", method=method, path=template)
        return ShadowRefused(f"shadow mode: {method} {template} is not simulated and was not sent")

    # --- users -------------------------------------------------------------------------------------

    async def get_user(self, det_id: int) -> MasterUser:
        """Overlay first, then the real master (which answers a synthetic id the overlay lost in its own words)."""
        if det_id in self._users:
            return self._current(self._users[det_id])
        return self._current(await self._real.get_user(det_id))

    async def get_user_by_username(self, name: str) -> MasterUser | None:
        """Overlay first (exact, as the master), then the real master unless the overlay renamed it."""
        for user in self._users.values():
            if user.username == name:
                return self._current(user)
        found = await self._real.get_user_by_username(name)
        if found is None:
            return None
        if found.id in self._users:
            return None  # renamed away in the overlay
        return self._current(found)

    async def list_users(
        self,
        offset: int = 0,
        limit: int = 0,
        name: str | None = None,
        *,
        active: bool | None = None,
        admin: bool | None = None,
        sort_by: str | None = None,
        descending: bool = False,
    ) -> MasterUserPage:
        """``GET /api/v1/users`` as the master would answer it after the overlay's writes: filtered on the
        overlaid fields, sorted and paged by the master's rules (shadow_listing), shadow-created users included.

        stale.missing_users asks for the whole listing to tell which of a failed write's users the master
        lacks: without the shadow-created users, every one it named would read as gone and be retired.
        """
        column = shadow_listing.sort_column(sort_by)
        if column is None:
            # A sort column the master does not know: its own 400, nothing to overlay.
            return await self._real.list_users(
                offset, limit, name, active=active, admin=admin, sort_by=sort_by, descending=descending
            )
        users = shadow_listing.filtered_users(await self._all_users(), name, active, admin)
        return shadow_listing.user_page(
            shadow_listing.ordered_users(users, column, descending, self._position), offset, limit
        )

    async def iter_users(self, name: str | None = None, page_size: int = 500) -> AsyncIterator[MasterUser]:
        """Every user matching ``name`` after the overlay's writes, in id order, as the client pages them."""
        users = shadow_listing.filtered_users(await self._all_users(page_size), name, None, None)
        ordered = shadow_listing.ordered_users(users, "SORT_BY_UNSPECIFIED", False, self._position)
        for user in ordered:
            yield user

    async def _all_users(self, page_size: int = 500) -> list[MasterUser]:
        """Every real user (overlaid), then the shadow-created ones. The real master is read whole because an
        overlaid user can enter or leave any filter and page."""
        real = [u async for u in self._real.iter_users(None, page_size)]
        if real:
            self._real_user_high = max(self._real_user_high or 0, max(u.id for u in real))
        created = [user for det_id, user in self._users.items() if det_id > SHADOW_ID_BASE]
        return [self._current(u) for u in real + created]

    async def _newest_real_user(self) -> int:
        """The master's highest user id now: a shadow-created user goes right after it in id order.

        Known from the last whole listing (or one listing of the newest user, the first time), then probed id
        by id: the master never deletes users, so its ids only grow, by one a user. A failed insert leaves a
        gap that ends the probe early; a user made past one since the last listing is then placed after."""
        if self._real_user_high is None:
            newest = (await self._real.list_users(-1, 1)).users
            self._real_user_high = newest[0].id if newest else 0
        while True:
            try:
                await self._real.get_user(self._real_user_high + 1)
            except MasterNotFound as err:
                if err.is_unknown_user():
                    return self._real_user_high
                raise
            self._real_user_high += 1

    async def _newest_real_group(self) -> int:
        """The master's highest non-personal group id now (its search pages in id order, §4.12): a
        shadow-created group goes right after it."""
        total = (await self._real.search_groups(limit=1)).pagination.total
        if not total:
            return 0
        return (await self._real.search_groups(offset=total - 1, limit=1)).groups[0].id

    async def create_user(
        self,
        username: str,
        display_name: str,
        active: bool,
        admin: bool = False,
        remote: bool = True,
        password: str | None = None,
    ) -> MasterUser:
        """Log ``POST /api/v1/users``; simulate the master's duplicate check."""
        self._record(
            "POST",
            "/api/v1/users",
            fields=["username", "displayName", "active", "admin", "remote"]
            + (["password"] if password else []),
        )
        if await self.get_user_by_username(username) is not None:
            raise MasterInternal("code=400, message=user already exists", grpc_code=2)
        user = MasterUser(
            id=self._new_id(await self._newest_real_user()),
            username=username,
            admin=admin,
            active=active,
            display_name=display_name,
            remote=remote,
            modified_at=self._now(),
            last_auth_at=None,
            agent_user_group=None,
        )
        self._users[user.id] = user
        return user

    async def patch_user(
        self,
        det_id: int,
        *,
        active: bool,
        display_name: str | None = None,
        username: str | None = None,
        remote: bool | None = None,
        password: str | None = None,
        admin: bool | None = None,
    ) -> MasterUser:
        """Log ``PATCH /api/v1/users/{id}`` and apply it to the overlay."""
        sent = {
            "active": active,
            "displayName": display_name,
            "username": username,
            "remote": remote,
            "admin": admin,
        }
        names = [k for k, v in sent.items() if v is not None] + (["password"] if password is not None else [])
        self._record("PATCH", "/api/v1/users/{id}", det_id=det_id, fields=names)
        current = await self.get_user(det_id)
        changes: dict[str, object] = {"active": active, "modified_at": self._now()}
        if display_name is not None:
            changes["display_name"] = display_name
        if username is not None:
            changes["username"] = username
        if remote is not None:
            changes["remote"] = remote
        if admin is not None:
            changes["admin"] = admin
        updated = current._replace(**changes)  # type: ignore[arg-type]
        self._users[det_id] = updated
        return updated

    async def set_password(self, det_id: int, password: str) -> MasterUser:
        """Log ``POST /api/v1/users/{id}/password``; simulate the master's 404 and its new ``modifiedAt``."""
        self._record("POST", "/api/v1/users/{id}/password", det_id=det_id, fields=["password"])
        updated = (await self.get_user(det_id))._replace(modified_at=self._now())
        self._users[det_id] = updated
        return updated

    # --- tokens ------------------------------------------------------------------------------------

    async def create_token(
        self, user_id: int, lifespan: str | None = "-1", description: str = "scim-bridge"
    ) -> CreatedToken:
        """Refuse ``POST /api/v1/tokens``: a simulated token's secret would not work on the real master, and a
        real one would be a master write."""
        raise self._refused("POST", "/api/v1/tokens")

    # --- groups ------------------------------------------------------------------------------------

    async def get_group(self, det_group_id: int) -> MasterGroupDetails:
        """Overlay first, then the real master."""
        if det_group_id in self._deleted_groups or (
            det_group_id > SHADOW_ID_BASE and det_group_id not in self._groups
        ):
            raise MasterNotFound(f"Error getting group {det_group_id}: not found", grpc_code=5)
        if det_group_id in self._groups:
            return self._details(self._groups[det_group_id])
        return self._details(await self._real.get_group(det_group_id))

    async def search_groups(
        self,
        name: str | None = None,
        user_id: int | None = None,
        offset: int = 0,
        limit: int = GROUP_PAGE_MAX,
    ) -> MasterGroupPage:
        """``POST /api/v1/groups/search`` as the master would answer it after the overlay's writes: renamed,
        deleted, shadow-created groups and changed memberships seen, in id order, paged as the master pages."""
        if limit == 0 or limit > GROUP_PAGE_MAX:
            # The master's own 400 ("limit is required and must be <= 500"), nothing to overlay.
            return await self._real.search_groups(name, user_id, offset, limit)
        return shadow_listing.group_page(await self._all_groups(name, user_id), offset, limit)

    async def iter_groups(
        self, name: str | None = None, user_id: int | None = None
    ) -> AsyncIterator[MasterGroup]:
        """Every group search_groups would page through, read from the real master once."""
        for group in await self._all_groups(name, user_id):
            yield group

    async def _all_groups(self, name: str | None, user_id: int | None) -> list[MasterGroup]:
        """The matching groups after the overlay's writes: real ones the overlay has not touched (the master
        filters them), and the overlaid ones matching by their overlaid name and members; deleted ones left out."""
        untouched = [
            group
            async for group in self._real.iter_groups(name, user_id)
            if group.id not in self._deleted_groups and group.id not in self._groups
        ]
        return shadow_listing.merged_groups(untouched, self._groups, name, user_id, self._position)

    async def _name_taken(self, name: str, det_group_id: int | None = None) -> bool:
        """Whether a group other than ``det_group_id`` has exactly ``name`` (the master's unique key)."""
        async for existing in self.iter_groups(name=name):
            if existing.id != det_group_id:
                return True
        return False

    async def _lookup_users(self, ids: Sequence[int]) -> tuple[dict[int, MasterUser], list[int]]:
        """The users of ``ids`` the overlay or master has, and the ids it has not."""
        found: dict[int, MasterUser] = {}
        unknown: list[int] = []
        for det_id in dict.fromkeys(ids):
            try:
                found[det_id] = await self.get_user(det_id)
            except MasterNotFound as err:
                # As the master would refuse only users it lacks: a proxy's 404 is passed on as it came.
                if not err.is_unknown_user():
                    raise
                unknown.append(det_id)
        return found, unknown

    async def create_group(self, name: str, add_users: Sequence[int] = ()) -> MasterGroupDetails:
        """Log ``POST /api/v1/groups``; refuse as the master would (shadow_rules.check_create)."""
        self._record("POST", "/api/v1/groups", fields=["name", "addUsers"], add_users=list(add_users))
        found, unknown = await self._lookup_users(add_users)
        shadow_rules.check_create(name, add_users, name_taken=await self._name_taken(name), unknown=unknown)
        details = MasterGroupDetails(
            self._new_id(await self._newest_real_group()), name, tuple(found.values())
        )
        self._groups[details.id] = details
        self._touch(add_users)
        return self._details(details)

    async def update_group(
        self,
        det_group_id: int,
        *,
        name: str | None = None,
        add_users: Sequence[int] = (),
        remove_users: Sequence[int] = (),
    ) -> MasterGroupDetails:
        """Log ``PUT /api/v1/groups/{id}``; refuse as the master would (shadow_rules.check_update), else apply
        it to the overlay."""
        self._record(
            "PUT",
            "/api/v1/groups/{id}",
            det_id=det_group_id,
            rename=name is not None,
            add_users=list(add_users),
            remove_users=list(remove_users),
        )
        current = await self.get_group(det_group_id)
        members = {u.id: u for u in current.users}
        renamed = bool(name) and name != current.name  # "" keeps the name on the master (§4.14 step 2)
        found, unknown = await self._lookup_users(add_users)
        shadow_rules.check_update(
            det_group_id,
            members,
            add_users,
            remove_users,
            name_taken=renamed and await self._name_taken(name or "", det_group_id),
            unknown=unknown,
        )
        members.update(found)
        for det_id in remove_users:
            members.pop(det_id, None)
        updated = MasterGroupDetails(current.id, name or current.name, tuple(members.values()))
        self._groups[det_group_id] = updated
        self._touch([*add_users, *remove_users])
        return self._details(updated)

    async def change_group(
        self,
        det_group_id: int,
        *,
        name: str | None = None,
        add_users: Sequence[int] = (),
        remove_users: Sequence[int] = (),
    ) -> None:
        """``update_group`` without the answer."""
        await self.update_group(det_group_id, name=name, add_users=add_users, remove_users=remove_users)

    async def add_to_groups(self, user_ids: Sequence[int], group_ids: Sequence[int]) -> None:
        """Log ``PATCH /api/v1/users/assignments`` (adds) and apply it to the overlay."""
        self._record(
            "PATCH", "/api/v1/users/assignments", user_ids=list(user_ids), add_groups=list(group_ids)
        )
        await self._assign(user_ids, group_ids, adding=True)

    async def remove_from_groups(self, user_ids: Sequence[int], group_ids: Sequence[int]) -> None:
        """Log ``PATCH /api/v1/users/assignments`` (removes) and apply it to the overlay; the master's "none
        were members" 404 is success, as DeterminedClient.remove_from_groups takes it."""
        self._record(
            "PATCH", "/api/v1/users/assignments", user_ids=list(user_ids), remove_groups=list(group_ids)
        )
        try:
            await self._assign(user_ids, group_ids, adding=False)
        except MasterNotFound as err:
            if not err.is_no_member_removed():
                raise

    async def _assign(self, user_ids: Sequence[int], group_ids: Sequence[int], *, adding: bool) -> None:
        # Every group and user is checked before any group is changed: the master runs it as one transaction.
        # The real client sends each group once (models.assign_groups_body), so a repeated one is no error.
        group_ids = list(dict.fromkeys(group_ids))
        groups: list[MasterGroupDetails] = []
        for det_group_id in group_ids:
            try:
                groups.append(await self.get_group(det_group_id))
            except MasterNotFound as err:
                if not err.is_unknown_group():
                    raise  # a proxy's 404 is not the master's answer for this group: pass it on as it came
                # else reported below, in the master's words
        found, unknown = await self._lookup_users(user_ids) if adding else ({}, [])
        shadow_rules.check_assign(
            user_ids,
            group_ids,
            adding=adding,
            missing_groups=len(groups) != len(group_ids),
            unknown=unknown,
            any_member=any(u.id in user_ids for group in groups for u in group.users),
        )
        for current in groups:
            members = {u.id: u for u in current.users}
            if adding:
                members.update(found)
            else:
                for det_id in user_ids:
                    members.pop(det_id, None)
            self._groups[current.id] = MasterGroupDetails(current.id, current.name, tuple(members.values()))
        if group_ids:
            # Every user named, members already or not: the master's adds skip conflicts, then bump them all.
            self._touch(user_ids)

    async def delete_group(self, det_group_id: int) -> None:
        """Log ``DELETE /api/v1/groups/{id}``; an unknown or personal group is the master's 404 (§4.15)."""
        self._record("DELETE", "/api/v1/groups/{id}", det_id=det_group_id)
        try:
            await self.get_group(det_group_id)
        except MasterNotFound as err:
            if not err.is_unknown_group():
                raise  # a proxy's 404 is not the master's answer for this group: pass it on as it came
            raise MasterNotFound(f"Error deleting group {det_group_id}: not found", grpc_code=5) from None
        self._groups.pop(det_group_id, None)
        self._deleted_groups.add(det_group_id)


def shadowed(client: DeterminedClient) -> ShadowClient:
    """Wrap a real client for ``mode: shadow``."""
    return ShadowClient(client)
