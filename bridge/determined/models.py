"""Wire records of the master's REST API and their parse/serialise functions (master-api.md §3).

camelCase JSON names live in this module only. Parsers raise MasterProtocolError for bodies that break the
contract; they ignore unknown fields, as jsonpb does on the master's side (§1.4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from bridge.determined.errors import MasterProtocolError


@dataclass(frozen=True, slots=True)
class AgentUserGroup:
    """POSIX identity used for a user's tasks (§3.1)."""

    agent_uid: int | None
    agent_gid: int | None
    agent_user: str | None
    agent_group: str | None


class MasterUser(NamedTuple):
    """``determined.user.v1.User`` (§3.1). A named tuple: every user write parses one from the master's answer,
    and a frozen dataclass of nine fields cost ~17k instructions to build (each field set through
    ``object.__setattr__``), this ~5k."""

    id: int
    username: str
    admin: bool
    active: bool
    display_name: str
    remote: bool
    modified_at: datetime | None
    last_auth_at: datetime | None
    agent_user_group: AgentUserGroup | None


@dataclass(frozen=True, slots=True)
class Pagination:
    """The master's pagination object (§1.6, §3.3)."""

    offset: int
    limit: int
    start_index: int
    end_index: int
    total: int


@dataclass(frozen=True, slots=True)
class MasterUserPage:
    """One page of ``GET /api/v1/users``."""

    users: tuple[MasterUser, ...]
    pagination: Pagination


@dataclass(frozen=True, slots=True)
class MasterGroup:
    """A group's id, name and member count, as group search returns it (§3.4 GroupSearchResult)."""

    id: int
    name: str
    num_members: int


@dataclass(frozen=True, slots=True)
class MasterGroupPage:
    """One page of ``POST /api/v1/groups/search``."""

    groups: tuple[MasterGroup, ...]
    pagination: Pagination


@dataclass(frozen=True, slots=True)
class MasterGroupDetails:
    """A group with its members (§3.4 GroupDetails); member order is unspecified on the master."""

    id: int
    name: str
    users: tuple[MasterUser, ...]


@dataclass(frozen=True, slots=True)
class MasterInfo:
    """The few ``GET /api/v1/master`` fields the bridge uses (§4.20)."""

    version: str
    master_id: str
    cluster_id: str
    cluster_name: str
    rbac_enabled: bool


@dataclass(frozen=True, slots=True)
class LoginResult:
    """``POST /api/v1/auth/login`` answer; the token is a secret and never logged."""

    token: str
    user: MasterUser


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """``POST /api/v1/tokens`` answer; the secret is shown only once (§4.17)."""

    token_id: int
    token: str


# --- parsing -------------------------------------------------------------------------------------------


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    # A dict (what the decoder gives) by its type first: the Mapping ABC's check costs ~1.7k instructions, and
    # a master write's answer is two objects.
    if type(value) is not dict and not isinstance(value, Mapping):
        raise MasterProtocolError(f"{what}: expected an object")
    return value


def _int(doc: Mapping[str, Any], key: str, what: str) -> int:
    value = doc.get(key)
    # jsonpb may quote integers (§10); accept both forms.
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MasterProtocolError(f"{what}.{key}: expected an integer")
    return value


def _str(doc: Mapping[str, Any], key: str, what: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise MasterProtocolError(f"{what}.{key}: expected a string")
    return value


def _bool(doc: Mapping[str, Any], key: str, what: str) -> bool:
    value = doc.get(key, False)
    if not isinstance(value, bool):
        raise MasterProtocolError(f"{what}.{key}: expected a boolean")
    return value


def _time(doc: Mapping[str, Any], key: str, what: str) -> datetime | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MasterProtocolError(f"{what}.{key}: expected a timestamp")
    try:
        # RFC 3339 with 'Z' and up to 9 fractional digits (§1.3): Python 3.11's parser (the floor, see
        # pyproject) reads both, truncating to the microseconds it keeps, without rewriting the text first.
        return datetime.fromisoformat(value)
    except ValueError:
        raise MasterProtocolError(f"{what}.{key}: not an RFC 3339 timestamp") from None


def _opt_int(doc: Mapping[str, Any], key: str) -> int | None:
    value = doc.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_str(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) else None


def parse_user(value: Any) -> MasterUser:
    """Parse a ``User`` object."""
    doc = _obj(value, "user")
    raw_aug = doc.get("agentUserGroup")
    aug = None
    if raw_aug is not None:
        a = _obj(raw_aug, "user.agentUserGroup")
        aug = AgentUserGroup(
            agent_uid=_opt_int(a, "agentUid"),
            agent_gid=_opt_int(a, "agentGid"),
            agent_user=_opt_str(a, "agentUser"),
            agent_group=_opt_str(a, "agentGroup"),
        )
    # Positional, in the field order (keywords cost ~5k instructions more).
    return MasterUser(
        _int(doc, "id", "user"),
        _str(doc, "username", "user"),
        _bool(doc, "admin", "user"),
        _bool(doc, "active", "user"),
        _str(doc, "displayName", "user", default=""),
        _bool(doc, "remote", "user"),
        _time(doc, "modifiedAt", "user"),
        _time(doc, "lastAuthAt", "user"),
        aug,
    )


def parse_user_envelope(value: Any) -> MasterUser:
    """Parse ``{"user": User}`` (GetUser, PostUser, PatchUser, GetMe, ...)."""
    return parse_user(_obj(value, "response").get("user"))


def parse_pagination(value: Any) -> Pagination:
    """Parse a ``Pagination`` object (§3.3)."""
    doc = _obj(value, "pagination")
    return Pagination(
        offset=_int(doc, "offset", "pagination"),
        limit=_int(doc, "limit", "pagination"),
        start_index=_int(doc, "startIndex", "pagination"),
        end_index=_int(doc, "endIndex", "pagination"),
        total=_int(doc, "total", "pagination"),
    )


def _list(doc: Mapping[str, Any], key: str, what: str) -> Sequence[Any]:
    value = doc.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MasterProtocolError(f"{what}.{key}: expected a list")
    return value


def parse_user_page(value: Any) -> MasterUserPage:
    """Parse the ``GET /api/v1/users`` answer (§4.4)."""
    doc = _obj(value, "response")
    return MasterUserPage(
        users=tuple(parse_user(u) for u in _list(doc, "users", "response")),
        pagination=parse_pagination(doc.get("pagination")),
    )


def parse_group_page(value: Any) -> MasterGroupPage:
    """Parse the ``POST /api/v1/groups/search`` answer (§4.12)."""
    doc = _obj(value, "response")
    groups = []
    for item in _list(doc, "groups", "response"):
        entry = _obj(item, "groups[]")
        group = _obj(entry.get("group"), "groups[].group")
        groups.append(
            MasterGroup(
                id=_int(group, "groupId", "group"),
                name=_str(group, "name", "group"),
                num_members=_int(entry, "numMembers", "groups[]") if "numMembers" in entry else 0,
            )
        )
    return MasterGroupPage(groups=tuple(groups), pagination=parse_pagination(doc.get("pagination")))


def parse_group_details(value: Any) -> MasterGroupDetails:
    """Parse ``{"group": GroupDetails}`` (CreateGroup, GetGroup, UpdateGroup)."""
    group = _obj(_obj(value, "response").get("group"), "group")
    return MasterGroupDetails(
        id=_int(group, "groupId", "group"),
        name=_str(group, "name", "group"),
        users=tuple(parse_user(u) for u in _list(group, "users", "group")),
    )


def parse_master_info(value: Any) -> MasterInfo:
    """Parse the ``GET /api/v1/master`` answer (§4.20, §10)."""
    doc = _obj(value, "master")
    return MasterInfo(
        version=_str(doc, "version", "master"),
        master_id=_str(doc, "masterId", "master", default=""),
        cluster_id=_str(doc, "clusterId", "master", default=""),
        cluster_name=_str(doc, "clusterName", "master", default=""),
        rbac_enabled=_bool(doc, "rbacEnabled", "master"),
    )


def parse_login(value: Any) -> LoginResult:
    """Parse the ``POST /api/v1/auth/login`` answer (§4.1)."""
    doc = _obj(value, "login")
    return LoginResult(token=_str(doc, "token", "login"), user=parse_user(doc.get("user")))


def parse_created_token(value: Any) -> CreatedToken:
    """Parse the ``POST /api/v1/tokens`` answer (§4.17)."""
    doc = _obj(value, "token")
    return CreatedToken(token_id=_int(doc, "tokenId", "token"), token=_str(doc, "token", "token"))


# --- request bodies ------------------------------------------------------------------------------------


def login_body(username: str, password: str) -> dict[str, Any]:
    """LoginRequest with the client-salted password (§4.1, §5.2); ``password`` is already hashed."""
    return {"username": username, "password": password, "isHashed": True}


def post_user_body(
    *, username: str, display_name: str, active: bool, admin: bool, remote: bool, hashed_password: str
) -> dict[str, Any]:
    """PostUserRequest (§4.7); ``active`` is always explicit because the proto default is false."""
    return {
        "user": {
            "username": username,
            "displayName": display_name,
            "active": active,
            "admin": admin,
            "remote": remote,
        },
        "password": hashed_password,
        "isHashed": True,
    }


def patch_user_body(
    *,
    active: bool,
    display_name: str | None,
    username: str | None,
    remote: bool | None,
    hashed_password: str | None,
    admin: bool | None,
) -> dict[str, Any]:
    """The PatchUser object itself (§3.2, §4.9); ``active`` always present (§4.9 step 10)."""
    body: dict[str, Any] = {"active": active}
    if display_name is not None:
        body["displayName"] = display_name
    if username is not None:
        body["username"] = username
    if remote is not None:
        body["remote"] = remote
    if admin is not None:
        body["admin"] = admin
    if hashed_password is not None:
        body["password"] = hashed_password
        body["isHashed"] = True
    return body


def create_group_body(name: str, add_users: Sequence[int]) -> dict[str, Any]:
    """CreateGroupRequest (§4.11)."""
    return {"name": name, "addUsers": list(add_users)}


def search_groups_body(name: str | None, user_id: int | None, offset: int, limit: int) -> dict[str, Any]:
    """GetGroupsRequest (§4.12); absent filters are left out rather than sent as zero values."""
    body: dict[str, Any] = {"offset": offset, "limit": limit}
    if name is not None:
        body["name"] = name
    if user_id is not None:
        body["userId"] = user_id
    return body


def update_group_body(
    name: str | None, add_users: Sequence[int], remove_users: Sequence[int]
) -> dict[str, Any]:
    """UpdateGroupRequest (§4.14); an absent name keeps the old one."""
    body: dict[str, Any] = {"addUsers": list(add_users), "removeUsers": list(remove_users)}
    if name is not None:
        body["name"] = name
    return body


def assign_groups_body(
    user_ids: Sequence[int], add_groups: Sequence[int], remove_groups: Sequence[int]
) -> dict[str, Any]:
    """AssignMultipleGroupsRequest (§4.16); a group listed twice fails the master's existence check, so
    each is sent once."""
    return {
        "userIds": list(user_ids),
        "addGroups": list(dict.fromkeys(add_groups)),
        "removeGroups": list(dict.fromkeys(remove_groups)),
    }


def create_token_body(user_id: int, lifespan: str | None, description: str) -> dict[str, Any]:
    """PostAccessTokenRequest (§4.17); lifespan is a Go duration, or ``"-1"`` for the configured maximum."""
    body: dict[str, Any] = {"userId": user_id, "description": description}
    if lifespan is not None:
        body["lifespan"] = lifespan
    return body


def decode_json(body: bytes) -> Any:
    """Decode a JSON response body; ValueError if it is not JSON.

    orjson (several times faster than ``json`` on every master answer) reads 64-bit integers exactly, which
    covers the master's ids and counts; its grpc-gateway encoding sends int64 fields as strings anyway.
    """
    return orjson.loads(body)
