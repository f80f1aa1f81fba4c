"""The only place that renders error responses: every failure becomes an RFC 7644 §3.12 body."""

from __future__ import annotations

from typing import Final

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from bridge import jsonenc
from bridge.log_fields import bind_log_fields
from bridge.scim.errors import (
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ScimError,
    UnsupportedMediaType,
)
from bridge.web.keys import REQUEST_CONTEXT

SCIM_CONTENT_TYPE: Final = "application/scim+json"
_log = structlog.get_logger("bridge.errors")


def error_response(error: ScimError) -> web.Response:
    """Render a ScimError with the SCIM media type, plus Retry-After where the error carries one."""
    response = web.Response(
        status=error.status,
        body=jsonenc.dumps(error.to_body()),
        content_type=SCIM_CONTENT_TYPE,
        charset="utf-8",
    )
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="scim-bridge", Bearer realm="scim-bridge"'
    return response


def _from_http_exception(exc: web.HTTPException) -> ScimError:
    if exc.status == 404:
        return NotFound("No such endpoint.")
    if exc.status == 405:
        allowed = ", ".join(sorted(getattr(exc, "allowed_methods", ())))
        return MethodNotAllowed(f"Method not allowed; allowed: {allowed}.")
    if exc.status == 413:
        return PayloadTooLarge()
    if exc.status == 415:
        return UnsupportedMediaType()
    return ScimError(exc.reason, status=exc.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ScimErrors, aiohttp's HTTP exceptions and unexpected failures into SCIM error bodies."""
    try:
        response = await handler(request)
    except ScimError as exc:
        if exc.scim_type is not None:
            bind_log_fields(scim_type=exc.scim_type)
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http_exception(exc))
    except Exception:  # noqa: BLE001 - the last line of defence: the body stays generic
        _log.exception("unhandled_error")
        return error_response(
            InternalError(f"Internal server error (request id {request[REQUEST_CONTEXT].request_id}).")
        )
    return response
