"""Outermost middleware: request id, the IdP dialect, request-scoped log context, one canonical ``request`` line."""

from __future__ import annotations

import asyncio
import random
import re
import time
from typing import Final

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import istr

from bridge.log import log_request
from bridge.log_fields import bind_log_fields
from bridge.web.dialect import LOG_VALUES, IdpDialect, refine_from_body, request_dialect
from bridge.web.keys import REQUEST_CONTEXT
from bridge.web.request_context import RequestContext

# An istr, as aiohttp.hdrs names are: a header lookup by a plain str folds its case first (~0.5k instructions).
REQUEST_ID_HEADER: Final = istr("X-Request-ID")
# Accept a caller's id only if it is short and plain, so it cannot forge log structure.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_log = structlog.get_logger("bridge.request")


def _request_id(request: web.Request) -> str:
    sent = request.headers.get(REQUEST_ID_HEADER)
    if sent is not None and _SAFE_ID.match(sent):
        return sent
    # 128 random bits as 32 hex digits, like uuid4().hex but without a getrandom syscall per request: a
    # request id correlates log lines, it is no secret (Mersenne Twister, seeded from os.urandom at start).
    # The big-endian bytes' hex is f"{bits:032x}" without the format-spec machinery (~3k instructions).
    return random.getrandbits(128).to_bytes(16, "big").hex()


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind ``request_id`` and ``idp_dialect`` for every log line of this request (the dialect refined from
    the body the handler read, bridge.web.dialect) and emit the canonical line at the end.

    The dialect was a middleware of its own, just inside this one: a layer (its coroutine) and a bind more
    per request, ~5k instructions.
    """
    request_id = _request_id(request)
    context = RequestContext(request_id, request.match_info.route)
    request[REQUEST_CONTEXT] = context
    dialect = request_dialect(request)
    # No clear_contextvars first: aiohttp runs each request in a task of its own, in a copy of the
    # connection's context, so nothing bound by an earlier request on the connection is there to clear.
    bind_log_fields(request_id=request_id, idp_dialect=LOG_VALUES[dialect])
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        # The body is never read here: only a body the handler consumed is sniffed.
        if dialect is IdpDialect.GENERIC and request.body_exists and not request.can_read_body:
            await refine_from_body(request)
        status = response.status
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    finally:
        route = context.route.resource
        # Written once the response is on its way (as aiohttp writes its access log): the line is
        # bookkeeping, and rendering and writing it (~15-25 us) need not delay the answer. call_soon
        # runs it in a copy of this request's context, so the fields bound during the request (idp,
        # idp_dialect, ...) still join the line (bridge.log_fields).
        fields = {
            "method": request.method,
            "path": request.path,
            "route": route.canonical if route is not None else None,
            "status": status,
            # Hundredths of a millisecond, half up: round(x, 2) costs twice as much (its exact decimal rounding).
            "duration_ms": int((time.perf_counter() - started) * 100_000 + 0.5) / 100,
            "client": context.client,
        }
        asyncio.get_running_loop().call_soon(log_request, _log, fields)
