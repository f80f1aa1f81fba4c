"""Login, logout, current user (contract §4.1-4.3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import web

from bridge.emulator import passwords
from bridge.emulator.auth import authenticate
from bridge.emulator.errors import MasterError, invalid, unauthenticated
from bridge.emulator.keys import EMULATOR_STATE
from bridge.emulator.records import USER_SESSION
from bridge.emulator.state import SESSION_LIFETIME
from bridge.emulator.wire import Message, json_response, read_object


async def login(request: web.Request) -> web.Response:
    """POST /api/v1/auth/login."""
    state = request.app[EMULATOR_STATE]
    body = Message(await read_object(request))
    username = body.string("username") or ""
    password = body.string("password") or ""
    if username == "":
        raise invalid("missing argument: username")
    user = state.user_by_name(username)
    if user is None or user.remote:
        raise unauthenticated("invalid credentials")
    hashed = password if body.boolean("isHashed") else passwords.client_hash(password)
    if not passwords.matches(user.password, hashed):
        raise unauthenticated("invalid credentials")
    if not user.active:
        raise MasterError(7, "user is not active")
    # last_auth_at is not a modifiedAt trigger column (§3.1).
    user = state.replace_user(replace(user, last_auth_at=state.now()))
    session = state.login_session(user.id)
    response = json_response({"token": session.secret, "user": user.to_json()})
    response.set_cookie("auth", session.secret, path="/", expires=_http_date(SESSION_LIFETIME.days))
    return response


def _http_date(days: int) -> str:
    """Cookie Expires value `days` from now."""
    return format_datetime(datetime.now(UTC) + timedelta(days=days), usegmt=True)


async def logout(request: web.Request) -> web.Response:
    """POST /api/v1/auth/logout: deletes a login session, leaves access tokens alone."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    if caller.session.token_type == USER_SESSION:
        state.delete_session(caller.session.id)
    response = json_response({})
    response.set_cookie("auth", "", path="/", expires="Thu, 01 Jan 1970 00:00:00 GMT")
    return response


async def current_user(request: web.Request) -> web.Response:
    """GET /api/v1/auth/user and GET /api/v1/me."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    return json_response({"user": caller.user.to_json()})
