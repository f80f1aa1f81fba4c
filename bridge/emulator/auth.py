"""Request authentication as the master's gRPC interceptor does it (contract §1.2)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bridge.emulator.errors import denied, unauthenticated
from bridge.emulator.records import ACCESS_TOKEN, SessionRecord, UserRecord
from bridge.emulator.state import EmulatorState


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user and the session row their token names."""

    user: UserRecord
    session: SessionRecord


def _bearer(request: web.Request) -> str | None:
    """Token from Grpc-Metadata-x-user-token, Authorization, or the `auth` cookie, in that order."""
    header = request.headers.get("Grpc-Metadata-x-user-token") or request.headers.get("Authorization")
    if header:
        return header
    cookie = request.cookies.get("auth")
    return f"Bearer {cookie}" if cookie else None


def authenticate(state: EmulatorState, request: web.Request) -> Caller:
    """Resolve the caller or raise the documented 401/403."""
    header = _bearer(request)
    if header is None:
        raise unauthenticated("token missing")
    if not header.startswith("Bearer "):
        raise unauthenticated("invalid credentials")
    session_id = state.sessions_by_secret.get(header[len("Bearer ") :])
    if session_id is None:
        raise unauthenticated("invalid credentials")
    session = state.sessions[session_id]
    user = state.users[session.user_id]
    if session.token_type == ACCESS_TOKEN and session.revoked_at is not None:
        raise unauthenticated("user access token revoked")
    if session.expiry <= state.now():
        raise unauthenticated("remote user token expired" if user.remote else "invalid credentials")
    if not user.active:
        raise denied("user does not have permission")
    return Caller(user=user, session=session)
