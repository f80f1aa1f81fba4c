"""Error envelope, 501 for unknown routes, trailing-slash tolerance and fault injection."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.typedefs import Handler

from bridge.emulator.errors import (
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
    UNIMPLEMENTED,
    MasterError,
    error_for_status,
    error_response,
)
from bridge.emulator.keys import EMULATOR_STATE

ADMIN_PREFIX = "/emulator/"


@web.middleware
async def faults_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the fault plan to every master route (the admin endpoint is exempt)."""
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    decision = request.app[EMULATOR_STATE].faults.decide()
    if decision.delay_s > 0:
        await asyncio.sleep(decision.delay_s)
    plan = request.app[EMULATOR_STATE].faults.plan
    if decision.action == "outage":
        return error_response(UNAVAILABLE, "emulated outage")
    if decision.action == "reset":
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError("emulated connection reset")
    if decision.action == "throttle":
        return error_response(
            RESOURCE_EXHAUSTED, "emulated throttling", {"Retry-After": str(plan.retry_after)}
        )
    if decision.action == "error":
        return error_for_status(plan.error_status, "emulated failure")
    return await handler(request)


@web.middleware
async def envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn MasterError into the gateway envelope and aiohttp's 404/405 into 501 (§1.1); honour `?pretty`."""
    try:
        response = await handler(request)
    except MasterError as exc:
        response = error_response(exc.code, exc.message)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        response = error_response(UNIMPLEMENTED, "Not Implemented")
    if "pretty" in request.query and isinstance(response, web.Response) and response.text:
        response.text = json.dumps(json.loads(response.text), indent=2) + "\n"
    return response
