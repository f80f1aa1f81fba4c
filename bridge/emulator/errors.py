"""The master's gateway error envelope: gRPC status codes mapped to HTTP (contract §1.5)."""

from __future__ import annotations

import json
from typing import Final

from aiohttp import web

INVALID_ARGUMENT: Final = 3
NOT_FOUND: Final = 5
ALREADY_EXISTS: Final = 6
PERMISSION_DENIED: Final = 7
RESOURCE_EXHAUSTED: Final = 8
UNIMPLEMENTED: Final = 12
INTERNAL: Final = 13
UNAVAILABLE: Final = 14
UNAUTHENTICATED: Final = 16

# grpc-gateway v1.16 HTTPStatusFromCode, restricted to the codes the emulator emits.
_REASON_AND_STATUS: Final[dict[int, tuple[str, int]]] = {
    INVALID_ARGUMENT: ("InvalidArgument", 400),
    NOT_FOUND: ("NotFound", 404),
    ALREADY_EXISTS: ("AlreadyExists", 409),
    PERMISSION_DENIED: ("PermissionDenied", 403),
    RESOURCE_EXHAUSTED: ("ResourceExhausted", 429),
    UNIMPLEMENTED: ("Unimplemented", 501),
    INTERNAL: ("Internal", 500),
    UNAVAILABLE: ("Unavailable", 503),
    UNAUTHENTICATED: ("Unauthenticated", 401),
}

_CODE_FOR_STATUS: Final[dict[int, int]] = {status: code for code, (_, status) in _REASON_AND_STATUS.items()}


class MasterError(Exception):
    """A gRPC status error as the master's handlers return it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> MasterError:
    """400 InvalidArgument."""
    return MasterError(INVALID_ARGUMENT, message)


def not_found(message: str) -> MasterError:
    """404 NotFound."""
    return MasterError(NOT_FOUND, message)


def already_exists(message: str) -> MasterError:
    """409 AlreadyExists."""
    return MasterError(ALREADY_EXISTS, message)


def denied(message: str) -> MasterError:
    """403 PermissionDenied."""
    return MasterError(PERMISSION_DENIED, message)


def internal(message: str) -> MasterError:
    """500 Internal: what plain Go errors become after the gateway's Unknown rewrite."""
    return MasterError(INTERNAL, message)


def unauthenticated(message: str) -> MasterError:
    """401 Unauthenticated."""
    return MasterError(UNAUTHENTICATED, message)


def error_response(code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """Build the `{"error":{"code","reason","error"}}` body plus trailing newline."""
    reason, status = _REASON_AND_STATUS[code]
    body = json.dumps({"error": {"code": code, "reason": reason, "error": message}}) + "\n"
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def error_for_status(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """Envelope for an HTTP status chosen by fault injection (unknown statuses map to Internal)."""
    code = _CODE_FOR_STATUS.get(status, INTERNAL)
    response = error_response(code, message, headers)
    response.set_status(status)
    return response
