"""User endpoints: list, get, create, patch, bulk activate, set password (contract §4.4-4.10)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bridge.emulator import passwords
from bridge.emulator.auth import Caller, authenticate
from bridge.emulator.errors import internal, invalid
from bridge.emulator.keys import EMULATOR_STATE
from bridge.emulator.names import clean_name
from bridge.emulator.paging import memory_window, ordered_page, pagination
from bridge.emulator.permissions import forbidden, require_admin, unknown_user
from bridge.emulator.records import AgentUserGroup, UserRecord
from bridge.emulator.state import EmulatorState
from bridge.emulator.wire import (
    Message,
    json_response,
    path_int,
    query_bool,
    query_enum,
    query_int,
    query_value,
    read_json,
    read_object,
)

SORT_BY = (
    "SORT_BY_UNSPECIFIED",
    "SORT_BY_DISPLAY_NAME",
    "SORT_BY_USER_NAME",
    "SORT_BY_ADMIN",
    "SORT_BY_ACTIVE",
    "SORT_BY_MODIFIED_TIME",
    "SORT_BY_NAME",
    "SORT_BY_LAST_AUTH_TIME",
    "SORT_BY_REMOTE",
)
ORDER_BY = ("ORDER_BY_UNSPECIFIED", "ORDER_BY_ASC", "ORDER_BY_DESC")

_NEVER = datetime.min.replace(tzinfo=UTC)

# (is_null, value): False sorts before True, so NULLs come last ascending and first descending.
_SORT_KEYS: dict[str, Callable[[UserRecord], tuple[bool, Any]]] = {
    "SORT_BY_DISPLAY_NAME": lambda u: (u.display_name is None, u.display_name or ""),
    "SORT_BY_USER_NAME": lambda u: (False, u.username),
    "SORT_BY_ADMIN": lambda u: (False, u.admin),
    "SORT_BY_ACTIVE": lambda u: (False, u.active),
    "SORT_BY_MODIFIED_TIME": lambda u: (False, u.modified_at),
    "SORT_BY_NAME": lambda u: (False, u.display_name if u.display_name is not None else u.username),
    # NULLs are equal to each other: the id tie-break orders them, as in the master's `ORDER BY last_auth_at, id`.
    "SORT_BY_LAST_AUTH_TIME": lambda u: (u.last_auth_at is None, u.last_auth_at or _NEVER),
    "SORT_BY_REMOTE": lambda u: (False, u.remote),
}


def like_pattern(name: str) -> re.Pattern[str]:
    """ILIKE '%' || name || '%': `%` and `_` are wildcards, backslash escapes (§4.4)."""
    parts: list[str] = []
    escaped = False
    for ch in name:
        if escaped:
            parts.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile(".*" + "".join(parts) + ".*", re.IGNORECASE | re.DOTALL)


def _target(state: EmulatorState, user_id: int) -> UserRecord:
    user = state.users.get(user_id)
    if user is None:
        raise unknown_user(rbac=state.config.rbac)
    return user


async def get_users(request: web.Request) -> web.Response:
    """GET /api/v1/users."""
    state = request.app[EMULATOR_STATE]
    authenticate(state, request)
    sort_by = query_enum(request, "sortBy", "sort_by", SORT_BY)
    order_by = query_enum(request, "orderBy", "order_by", ORDER_BY)
    offset = query_int(request, "offset", "offset")
    limit = query_int(request, "limit", "limit")
    active = query_bool(request, "active", "active")
    admin = query_bool(request, "admin", "admin")
    name = query_value(request, "name", "name") or ""
    role_filter = query_value(request, "roleIdAssignedDirectlyToUser", "role_id_assigned_directly_to_user")
    if role_filter is not None and not state.config.rbac:
        raise invalid("cannot filter by role id. RBAC must be enabled.")
    descending = order_by == "ORDER_BY_DESC"
    key = _SORT_KEYS.get(sort_by)
    if not (name or active is not None or admin is not None or key is not None):
        # Storage is id order: page straight off the dict without copying the directory.
        total = len(state.users)
        start, end = memory_window(total, offset, limit)
        source = reversed(state.users.values()) if descending else iter(state.users.values())
        return json_response(
            {
                "users": [u.to_json() for u in itertools.islice(source, start, end)],
                "pagination": pagination(offset, limit, start, end, total),
            }
        )
    users: Iterable[UserRecord] = state.users.values()
    if name or active is not None or admin is not None:
        pattern = like_pattern(name) if name else None
        users = [
            u
            for u in users
            if (active is None or u.active == active)
            and (admin is None or u.admin == admin)
            and (pattern is None or pattern.fullmatch(u.username) or pattern.fullmatch(u.display_name or ""))
        ]
    page, paging = ordered_page(users, key, descending=descending, offset=offset, limit=limit)
    return json_response({"users": [u.to_json() for u in page], "pagination": paging})


async def get_user(request: web.Request) -> web.Response:
    """GET /api/v1/users/{userId}."""
    state = request.app[EMULATOR_STATE]
    authenticate(state, request)
    return json_response({"user": _target(state, path_int(request, "userId", "user_id")).to_json()})


async def get_user_by_username(request: web.Request) -> web.Response:
    """GET /api/v1/users/{username}/by-username: exact, case-sensitive."""
    state = request.app[EMULATOR_STATE]
    authenticate(state, request)
    user = state.user_by_name(request.match_info["username"])
    if user is None:
        raise unknown_user(rbac=state.config.rbac)
    return json_response({"user": user.to_json()})


def _agent(message: Message | None) -> AgentUserGroup | None:
    """AgentUserGroupFromProto: all four or none; names non-empty."""
    if message is None:
        return None
    uid, gid = message.integer("agentUid"), message.integer("agentGid")
    user, group = message.string("agentUser"), message.string("agentGroup")
    if uid is None and gid is None and user is None and group is None:
        return AgentUserGroup(0, 0, "", "")
    if uid is None or gid is None or user is None or group is None:
        raise invalid("agentUid, agentGid, agentUser and agentGroup cannot be empty")
    if user == "" or group == "":
        raise invalid("agentUser and agentGroup names cannot be empty")
    return AgentUserGroup(uid, gid, user, group)


async def post_user(request: web.Request) -> web.Response:
    """POST /api/v1/users."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    body = Message(await read_object(request))
    spec = body.message("user")
    if spec is None:
        raise invalid("must specify user to create")
    password = body.string("password") or ""
    remote = bool(spec.boolean("remote"))
    admin = bool(spec.boolean("admin"))
    if password and remote:
        raise invalid("cannot set password for remote user")
    raw_username = spec.string("username") or ""
    username = clean_name(raw_username, min_length=2, target_admin=admin, target_username=raw_username)
    display = spec.string("displayName") or ""
    display_name = None
    if display:
        display_name = clean_name(display, min_length=0, target_admin=admin, target_username=username) or None
    agent = _agent(spec.message("agentUserGroup"))
    _admin_only(caller, "only admin privileged users can create users", rbac=state.config.rbac)
    if remote:
        stored: str | None = passwords.NO_PASSWORD_LOGIN
    else:
        hashed = password if body.boolean("isHashed") else passwords.client_hash(password)
        stored = passwords.store(hashed)
    if username in state.users_by_name:
        # An echo HTTP error inside a gRPC handler: code Unknown, rewritten to Internal (§4.7 step 10).
        raise internal("code=400, message=user already exists")
    user = state.add_user(
        username,
        admin=admin,
        active=bool(spec.boolean("active")),
        remote=remote,
        display_name=display_name,
        password=stored,
    )
    if agent is not None:
        user = state.replace_user(replace(user, agent=agent))
    return json_response({"user": user.to_json()})


async def set_user_password(request: web.Request) -> web.Response:
    """POST /api/v1/users/{userId}/password: body is a bare JSON string, always salted."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    user_id = path_int(request, "userId", "user_id")
    raw = await read_json(request)
    if raw is not None and not isinstance(raw, str):
        raise invalid("json: cannot unmarshal non-string into Go value of type string")
    target = _target(state, user_id)
    if not caller.user.admin and caller.user.id != target.id:
        raise forbidden(
            rbac=state.config.rbac,
            basic_message="only admin privileged users can change other user's passwords",
            permission="ADMINISTRATE_USER",
        )
    stored = passwords.store(passwords.client_hash(raw or ""))
    user = state.replace_user(replace(target, password=stored, modified_at=state.now()))
    if not user.active:
        state.revoke_access_tokens(user.id)
    state.delete_login_sessions(user.id)
    return json_response({"user": user.to_json()})


def _admin_only(caller: Caller, message: str, *, rbac: bool) -> None:
    require_admin(caller.user, rbac=rbac, basic_message=message, permission="ADMINISTRATE_USER")


def _self_or_admin(caller: Caller, target: UserRecord, message: str, *, rbac: bool) -> None:
    if caller.user.admin or caller.user.id == target.id:
        return
    raise forbidden(rbac=rbac, basic_message=message, permission="ADMINISTRATE_USER")


async def patch_user(request: web.Request) -> web.Response:
    """PATCH /api/v1/users/{userId}: the body is the PatchUser itself (§4.9)."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    user_id = path_int(request, "userId", "user_id")
    raw = await read_json(request)
    if raw is None:
        raise invalid("must provide user")
    if not isinstance(raw, dict):
        raise invalid("json: cannot unmarshal non-object into Go value of type userv1.PatchUser")
    body = Message(raw)
    target = _target(state, user_id)
    rbac = state.config.rbac
    changes: dict[str, Any] = {}
    columns: set[str] = set()
    will_be_remote = target.remote
    admin = body.boolean("admin")
    if admin is not None:
        _admin_only(caller, "only admin privileged users can update users", rbac=rbac)
        changes["admin"] = admin
        columns.add("admin")
    remote = body.boolean("remote")
    if remote is not None:
        _admin_only(caller, "only admin privileged users can update other users", rbac=rbac)
        changes["remote"] = remote
        will_be_remote = remote
        columns.add("remote")
        if target.remote != remote:
            if remote:
                changes["password"] = passwords.NO_PASSWORD_LOGIN
                columns.add("password_hash")
            elif not body.has("password"):
                changes["password"] = None
                columns.add("password_hash")
    active = body.boolean("active")
    if active is not None:
        _admin_only(caller, "only admin privileged users can update users", rbac=rbac)
        changes["active"] = active
        columns.add("active")
    username = body.string("username")
    if username is not None and username != target.username:
        if rbac and not caller.user.admin:
            raise forbidden(rbac=True, basic_message="", permission="ADMINISTRATE_USER")
        _self_or_admin(caller, target, "only admin privileged users can update other users", rbac=rbac)
        if will_be_remote:
            raise invalid("Cannot set username for remote users")
        changes["username"] = clean_name(
            username, min_length=2, target_admin=target.admin, target_username=target.username
        )
        columns.add("username")
    display = body.string("displayName")
    if display is not None and display != (target.display_name or ""):
        _self_or_admin(
            caller, target, "only admin privileged users can set another user's display name", rbac=rbac
        )
        cleaned = clean_name(
            display, min_length=0, target_admin=target.admin, target_username=target.username
        )
        if cleaned and state.similar_name_taken(cleaned, target.id):
            raise invalid(
                f"can not change display name to {cleaned} found a similar username or display name"
            )
        changes["display_name"] = cleaned or None
        columns.add("display_name")
    password = body.string("password")
    if password is not None:
        _self_or_admin(
            caller, target, "only admin privileged users can change other user's passwords", rbac=rbac
        )
        if will_be_remote:
            raise invalid("Cannot set password for remote users")
        hashed = password if body.boolean("isHashed") else passwords.client_hash(password)
        changes["password"] = passwords.store(hashed)
        columns.add("password_hash")
    agent_message = body.message("agentUserGroup")
    agent = _agent(agent_message)
    if agent is not None:
        _admin_only(caller, "only admin privileged users can update users", rbac=rbac)
    new_username = changes.get("username", target.username)
    if new_username != target.username and new_username in state.users_by_name:
        raise internal(
            f'error setting active status of "{new_username}": ERROR: duplicate key value violates '
            'unique constraint "users_username_key" (SQLSTATE 23505)'
        )
    if columns or agent is not None:
        changes["modified_at"] = state.now()
    if agent is not None:
        changes["agent"] = agent
    user = state.replace_user(replace(target, **changes))
    # The master revokes when the partial update struct's `active` is false, i.e. whenever the body
    # did not carry active:true (§4.9 step 10).
    if columns and active is not True:
        state.revoke_access_tokens(user.id)
    if "password_hash" in columns:
        state.delete_login_sessions(user.id)
    return json_response({"user": user.to_json()})


async def patch_users(request: web.Request) -> web.Response:
    """PATCH /api/v1/users: bulk (de)activation; unknown ids succeed, nothing revoked (§4.10)."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    body = Message(await read_object(request))
    activate = bool(body.boolean("activate"))
    results: list[dict[str, Any]] = []
    editable: list[int] = []
    for user_id in body.integers("userIds"):
        if caller.user.admin:
            results.append({"error": "", "id": user_id})
            editable.append(user_id)
        elif state.config.rbac:
            results.append(
                {
                    "error": "access denied; required permissions: PERMISSION_TYPE_ADMINISTRATE_USER",
                    "id": user_id,
                }
            )
        else:
            results.append({"error": "only admin privileged users can update users", "id": user_id})
    for user_id in editable:
        user = state.users.get(user_id)
        if user is not None and user.active != activate:
            state.replace_user(replace(user, active=activate, modified_at=state.now()))
    return json_response({"results": results})
