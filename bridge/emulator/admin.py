"""Opt-in HTTP control of the fault plan under /emulator/faults (EmulatorConfig.admin_endpoint)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bridge.emulator.keys import EMULATOR_STATE
from bridge.emulator.wire import json_response

_FIELDS = {
    "latency_ms": float,
    "latency_jitter_ms": float,
    "error_rate": float,
    "error_status": int,
    "reset_rate": float,
    "throttle_rate": float,
    "retry_after": int,
    "outage": bool,
    "seed": int,
}


def _bad(message: str) -> web.Response:
    """400 for a malformed fault request (plain JSON; this is not a master route)."""
    return web.json_response({"message": message}, status=400)


async def get_faults(request: web.Request) -> web.Response:
    """GET /emulator/faults: the current plan."""
    return json_response(request.app[EMULATOR_STATE].faults.snapshot())


async def put_faults(request: web.Request) -> web.Response:
    """PUT or POST /emulator/faults: change the named settings."""
    try:
        body: Any = json.loads(await request.read() or b"{}")
    except ValueError:
        return _bad("body must be a JSON object")
    if not isinstance(body, dict) or set(body) - set(_FIELDS):
        return _bad(f"body must be a JSON object with keys among {sorted(_FIELDS)}")
    for key, value in body.items():
        kind = _FIELDS[key]
        valid = (
            isinstance(value, bool)
            if kind is bool
            else isinstance(value, int | float) and not isinstance(value, bool)
        )
        if not valid or (kind is int and not float(value).is_integer()):
            return _bad(f"{key} must be a {kind.__name__}")
    faults = request.app[EMULATOR_STATE].faults
    try:
        faults.configure(**{key: _FIELDS[key](value) for key, value in body.items()})
    except ValueError as exc:
        return _bad(str(exc))
    return json_response(faults.snapshot())


async def delete_faults(request: web.Request) -> web.Response:
    """DELETE /emulator/faults: clear every fault."""
    faults = request.app[EMULATOR_STATE].faults
    faults.clear()
    return json_response(faults.snapshot())


def add_admin_routes(app: web.Application) -> None:
    """Register the fault-control routes."""
    app.router.add_get("/emulator/faults", get_faults)
    app.router.add_put("/emulator/faults", put_faults)
    app.router.add_post("/emulator/faults", put_faults)
    app.router.add_delete("/emulator/faults", delete_faults)
