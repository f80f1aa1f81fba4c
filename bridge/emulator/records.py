"""Immutable rows of the emulated master's tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.emulator.wire import timestamp

USER_SESSION = "USER_SESSION"
ACCESS_TOKEN = "ACCESS_TOKEN"


@dataclass(frozen=True, slots=True)
class AgentUserGroup:
    """Row of agent_user_groups: the POSIX identity tasks run as."""

    uid: int
    gid: int
    user: str
    group: str

    def to_json(self) -> dict[str, Any]:
        """Wire form."""
        return {"agentUid": self.uid, "agentGid": self.gid, "agentUser": self.user, "agentGroup": self.group}


@dataclass(frozen=True, slots=True)
class UserRecord:
    """Row of users. `password` is None for a blank password, "" for no password login."""

    id: int
    username: str
    admin: bool
    active: bool
    display_name: str | None
    modified_at: datetime
    remote: bool
    password: str | None
    last_auth_at: datetime | None = None
    agent: AgentUserGroup | None = None

    def to_json(self, *, with_agent: bool = True) -> dict[str, Any]:
        """Wire form (§3.1): every scalar emitted, lastAuthAt omitted until the first login."""
        body: dict[str, Any] = {
            "id": self.id,
            "username": self.username,
            "admin": self.admin,
            "active": self.active,
            "agentUserGroup": self.agent.to_json() if with_agent and self.agent else None,
            "displayName": self.display_name or "",
            "modifiedAt": timestamp(self.modified_at),
            "remote": self.remote,
        }
        if self.last_auth_at is not None:
            body["lastAuthAt"] = timestamp(self.last_auth_at)
        return body


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """Row of groups; `owner` is set only on a personal group."""

    id: int
    name: str
    owner: int | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """Row of user_sessions: a login session or an access token."""

    id: int
    user_id: int
    secret: str
    token_type: str
    expiry: datetime
    created_at: datetime
    revoked_at: datetime | None = None
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        """TokenInfo wire form (§3.5)."""
        return {
            "id": self.id,
            "userId": self.user_id,
            "expiry": timestamp(self.expiry),
            "createdAt": timestamp(self.created_at),
            "tokenType": f"TOKEN_TYPE_{self.token_type}",
            "revoked": self.revoked_at is not None,
            "description": self.description,
        }
