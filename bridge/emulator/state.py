"""In-memory tables of the emulated master, indexed so 100k users and 10k groups stay cheap."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Final

from bridge.emulator import passwords
from bridge.emulator.config import EmulatorConfig
from bridge.emulator.faults import Faults
from bridge.emulator.records import ACCESS_TOKEN, USER_SESSION, GroupRecord, SessionRecord, UserRecord

PERSONAL_SUFFIX: Final = "DeterminedPersonalGroup"
SESSION_LIFETIME: Final = timedelta(days=7)


class EmulatorState:
    """Users, groups, memberships and sessions, plus the fault plan.

    `users` is kept in id order (ids only grow), so the default GetUsers order needs no sort.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.faults = Faults(seed=config.seed)
        self.users: dict[int, UserRecord] = {}
        self.users_by_name: dict[str, int] = {}
        self.groups: dict[int, GroupRecord] = {}
        self.groups_by_name: dict[str, int] = {}
        # Non-personal groups in id order: group search never walks the 1-per-user personal groups.
        self.public_groups: dict[int, GroupRecord] = {}
        self.members: dict[int, set[int]] = {}
        self.user_groups: dict[int, set[int]] = {}
        self.sessions: dict[int, SessionRecord] = {}
        self.sessions_by_secret: dict[str, int] = {}
        self.user_sessions: dict[int, set[int]] = {}
        # Lower-cased usernames and display names -> user ids, for the PATCH similarity check (§4.9).
        self._lower_names: dict[str, set[int]] = {}
        self._next_user_id = 1
        self._next_group_id = 1
        self._next_session_id = 1
        self._last_now = datetime.fromtimestamp(0, UTC)
        initial = passwords.store(passwords.client_hash(config.initial_password))
        self.add_user("admin", admin=True, active=True, remote=False, display_name=None, password=initial)
        self.add_user(
            "determined", admin=False, active=True, remote=False, display_name=None, password=initial
        )

    def now(self) -> datetime:
        """Strictly increasing UTC time, so every change moves `modifiedAt` forward."""
        current = datetime.now(UTC)
        if current <= self._last_now:
            current = self._last_now + timedelta(microseconds=1)
        self._last_now = current
        return current

    def user_by_name(self, username: str) -> UserRecord | None:
        """Exact, case-sensitive lookup."""
        user_id = self.users_by_name.get(username)
        return None if user_id is None else self.users[user_id]

    def add_user(
        self,
        username: str,
        *,
        admin: bool,
        active: bool,
        remote: bool,
        display_name: str | None,
        password: str | None,
    ) -> UserRecord:
        """Insert a user and its personal group (§5.8)."""
        user = UserRecord(
            id=self._next_user_id,
            username=username,
            admin=admin,
            active=active,
            display_name=display_name,
            modified_at=self.now(),
            remote=remote,
            password=password,
        )
        self._next_user_id += 1
        self.users[user.id] = user
        self.users_by_name[username] = user.id
        self.user_groups[user.id] = set()
        self.user_sessions[user.id] = set()
        self._index_names(user)
        personal = self.add_group(f"{user.id}{PERSONAL_SUFFIX}", owner=user.id)
        self.members[personal.id].add(user.id)
        self.user_groups[user.id].add(personal.id)
        return user

    def replace_user(self, user: UserRecord) -> UserRecord:
        """Store a changed user row, keeping the name indexes right."""
        old = self.users[user.id]
        self._unindex_names(old)
        if old.username != user.username:
            del self.users_by_name[old.username]
            self.users_by_name[user.username] = user.id
        self.users[user.id] = user
        self._index_names(user)
        return user

    def touch(self, user_ids: Iterable[int]) -> None:
        """Bump `modifiedAt` of the users a membership write named, all to one instant: the master's
        UpdateUsersTimestampTx sets `modified_at = NOW()`, the transaction's start, for every listed id, members
        or not (usergroup AddUsersToGroupsTx, RemoveUsersFromGroupsTx). Unknown ids match no row."""
        now = self.now()
        for user_id in user_ids:
            user = self.users.get(user_id)
            if user is not None:
                self.users[user_id] = replace(user, modified_at=now)

    def similar_name_taken(self, name: str, user_id: int) -> bool:
        """Whether another user's username or display name equals `name` case-insensitively."""
        return bool(self._lower_names.get(name.lower(), set()) - {user_id})

    def _index_names(self, user: UserRecord) -> None:
        for key in {user.username.lower(), (user.display_name or "").lower()} - {""}:
            self._lower_names.setdefault(key, set()).add(user.id)

    def _unindex_names(self, user: UserRecord) -> None:
        for key in {user.username.lower(), (user.display_name or "").lower()} - {""}:
            ids = self._lower_names.get(key)
            if ids is not None:
                ids.discard(user.id)
                if not ids:
                    del self._lower_names[key]

    def visible_group(self, group_id: int) -> GroupRecord | None:
        """A non-personal group by id."""
        group = self.groups.get(group_id)
        return None if group is None or group.owner is not None else group

    def add_group(self, name: str, owner: int | None = None) -> GroupRecord:
        """Insert a group; personal and normal groups share the id sequence."""
        group = GroupRecord(id=self._next_group_id, name=name, owner=owner)
        self._next_group_id += 1
        self.groups[group.id] = group
        self.groups_by_name[name] = group.id
        if owner is None:
            self.public_groups[group.id] = group
        self.members[group.id] = set()
        return group

    def rename_group(self, group: GroupRecord, name: str) -> GroupRecord:
        """Change a group's name in both indexes."""
        del self.groups_by_name[group.name]
        renamed = replace(group, name=name)
        self.groups[group.id] = renamed
        self.groups_by_name[name] = group.id
        if group.id in self.public_groups:
            self.public_groups[group.id] = renamed
        return renamed

    def delete_group(self, group: GroupRecord) -> None:
        """Remove a group; memberships cascade, moving no member's `modifiedAt` (a foreign-key cascade, not
        RemoveUsersFromGroupsTx)."""
        del self.groups[group.id]
        del self.groups_by_name[group.name]
        self.public_groups.pop(group.id, None)
        for user_id in self.members.pop(group.id):
            self.user_groups[user_id].discard(group.id)

    def add_members(self, group_id: int, user_ids: Iterable[int]) -> None:
        """Add memberships (callers validate first, and touch the users the write named)."""
        for user_id in user_ids:
            self.members[group_id].add(user_id)
            self.user_groups[user_id].add(group_id)

    def remove_members(self, group_id: int, user_ids: Iterable[int]) -> None:
        """Remove memberships; non-members are ignored (callers touch the users the write named)."""
        for user_id in set(user_ids) & self.members[group_id]:
            self.members[group_id].discard(user_id)
            self.user_groups[user_id].discard(group_id)

    def new_session(
        self, user_id: int, token_type: str, lifetime: timedelta, description: str = ""
    ) -> SessionRecord:
        """Create a login session or access token with an opaque PASETO-looking secret."""
        created = self.now()
        session = SessionRecord(
            id=self._next_session_id,
            user_id=user_id,
            secret="v2.public." + secrets.token_urlsafe(48),
            token_type=token_type,
            expiry=created + lifetime,
            created_at=created,
            description=description,
        )
        self._next_session_id += 1
        self.sessions[session.id] = session
        self.sessions_by_secret[session.secret] = session.id
        self.user_sessions[user_id].add(session.id)
        return session

    def login_session(self, user_id: int) -> SessionRecord:
        """A 7-day USER_SESSION."""
        return self.new_session(user_id, USER_SESSION, SESSION_LIFETIME)

    def delete_session(self, session_id: int) -> None:
        """Drop a session row."""
        session = self.sessions.pop(session_id)
        del self.sessions_by_secret[session.secret]
        self.user_sessions[session.user_id].discard(session_id)

    def delete_login_sessions(self, user_id: int) -> None:
        """Delete every USER_SESSION of a user (password change, §5.4)."""
        for session_id in list(self.user_sessions[user_id]):
            if self.sessions[session_id].token_type == USER_SESSION:
                self.delete_session(session_id)

    def revoke_access_tokens(self, user_id: int) -> None:
        """Stamp revoked_at on every unrevoked ACCESS_TOKEN of a user."""
        now = self.now()
        for session_id in self.user_sessions[user_id]:
            session = self.sessions[session_id]
            if session.token_type == ACCESS_TOKEN and session.revoked_at is None:
                self.sessions[session_id] = replace(session, revoked_at=now)
