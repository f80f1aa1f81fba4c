"""Access-token endpoints (contract §4.17-4.19)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from aiohttp import web

from bridge.emulator.auth import authenticate
from bridge.emulator.durations import DurationError, parse_go_duration
from bridge.emulator.errors import internal, invalid, not_found
from bridge.emulator.keys import EMULATOR_STATE
from bridge.emulator.paging import ordered_page
from bridge.emulator.permissions import forbidden, unknown_user
from bridge.emulator.records import ACCESS_TOKEN, SessionRecord
from bridge.emulator.wire import (
    Message,
    json_response,
    path_int,
    query_bool,
    query_enum,
    query_int,
    read_object,
)

DEFAULT_LIFESPAN: Final = timedelta(days=30)
MAX_LIFESPAN: Final = timedelta(days=30)
SORT_BY = (
    "SORT_BY_UNSPECIFIED",
    "SORT_BY_USER_ID",
    "SORT_BY_EXPIRY",
    "SORT_BY_CREATED_AT",
    "SORT_BY_TOKEN_TYPE",
    "SORT_BY_REVOKED",
    "SORT_BY_DESCRIPTION",
)
ORDER_BY = ("ORDER_BY_UNSPECIFIED", "ORDER_BY_ASC", "ORDER_BY_DESC")
_EPOCH: Final = datetime.fromtimestamp(0).astimezone()
_SORT_KEYS: dict[str, Callable[[SessionRecord], tuple[bool, Any]]] = {
    "SORT_BY_USER_ID": lambda s: (False, s.user_id),
    "SORT_BY_EXPIRY": lambda s: (False, s.expiry),
    "SORT_BY_CREATED_AT": lambda s: (False, s.created_at),
    "SORT_BY_TOKEN_TYPE": lambda s: (False, s.token_type),
    "SORT_BY_REVOKED": lambda s: (s.revoked_at is None, s.revoked_at or _EPOCH),
    "SORT_BY_DESCRIPTION": lambda s: (False, s.description),
}


def _lifespan(text: str | None) -> timedelta:
    if text is None:
        return DEFAULT_LIFESPAN
    if text == "-1":
        return MAX_LIFESPAN
    try:
        lifespan = parse_go_duration(text)
    except DurationError as exc:
        raise invalid(f"failed to parse lifespan {text}: {exc}") from None
    if lifespan < timedelta(0):
        raise invalid("lifespan must be a Go-formatted duration string with a positive value")
    if lifespan > MAX_LIFESPAN:
        raise invalid("token Lifespan must be less than max token lifespan")
    return lifespan


async def post_token(request: web.Request) -> web.Response:
    """POST /api/v1/tokens: admin only in basic mode, even for one's own token."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    body = Message(await read_object(request))
    user_id = body.integer("userId") or 0
    if user_id not in state.users:
        raise unknown_user(rbac=state.config.rbac)
    if not caller.user.admin:
        permission = "CREATE_TOKEN" if user_id == caller.user.id else "CREATE_OTHER_TOKEN"
        raise forbidden(
            rbac=state.config.rbac,
            basic_message="only admin privileged users can create token for own/other users",
            permission=permission,
        )
    lifespan = _lifespan(body.string("lifespan"))
    session = state.new_session(user_id, ACCESS_TOKEN, lifespan, body.string("description") or "")
    return json_response({"token": session.secret, "tokenId": session.id})


async def get_tokens(request: web.Request) -> web.Response:
    """GET /api/v1/tokens."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    sort_by = query_enum(request, "sortBy", "sort_by", SORT_BY)
    order_by = query_enum(request, "orderBy", "order_by", ORDER_BY)
    offset = query_int(request, "offset", "offset")
    limit = query_int(request, "limit", "limit")
    show_inactive = bool(query_bool(request, "showInactive", "show_inactive"))
    username = request.query.get("username")
    raw_ids = request.query.getall("tokenIds", []) + request.query.getall("token_ids", [])
    token_ids = set()
    for raw in raw_ids:
        try:
            token_ids.add(int(raw, 10))
        except ValueError:
            raise invalid(
                f'type mismatch, parameter: token_ids, error: strconv.ParseInt: parsing "{raw}": invalid syntax'
            ) from None
    if not caller.user.admin and username != caller.user.username:
        raise forbidden(
            rbac=state.config.rbac,
            basic_message="only admin privileged users can view other users",
            permission="VIEW_OTHER_TOKEN",
        )
    owner: int | None = None
    if username:
        owner = state.users_by_name.get(username)
        if owner is None:
            raise internal("sql: no rows in result set")
    now = state.now()
    sessions = (
        [state.sessions[sid] for sid in sorted(state.user_sessions[owner])]
        if owner is not None
        else list(state.sessions.values())
    )
    tokens = [
        s
        for s in sessions
        if s.token_type == ACCESS_TOKEN
        and (not token_ids or s.id in token_ids)
        and (show_inactive or (s.revoked_at is None and s.expiry > now))
    ]
    key = _SORT_KEYS.get(sort_by)
    descending = order_by == "ORDER_BY_DESC"
    page, paging = ordered_page(tokens, key, descending=descending, offset=offset, limit=limit)
    return json_response({"tokenInfo": [t.to_json() for t in page], "pagination": paging})


async def patch_token(request: web.Request) -> web.Response:
    """PATCH /api/v1/tokens/{tokenId}: description and one-way revocation."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    token_id = path_int(request, "tokenId", "token_id")
    body = Message(await read_object(request))
    session = state.sessions.get(token_id)
    if session is None:
        raise not_found(f"Token with id: {{{token_id}}} not found")
    if not caller.user.admin:
        permission = "UPDATE_TOKEN" if session.user_id == caller.user.id else "ADMINISTRATE_TOKEN"
        raise forbidden(
            rbac=state.config.rbac,
            basic_message="only admin privileged users can update access tokens",
            permission=permission,
        )
    if session.token_type != ACCESS_TOKEN:
        raise internal("sql: no rows in result set")
    if session.revoked_at is not None or session.expiry <= state.now():
        raise internal(f"unable to update inactive token with ID {token_id}")
    description = body.string("description")
    if description is not None:
        session = replace(session, description=description)
    if body.boolean("setRevoked"):
        session = replace(session, revoked_at=state.now())
    state.sessions[session.id] = session
    return json_response({"tokenInfo": session.to_json()})
