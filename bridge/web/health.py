"""Unauthenticated probes outside the SCIM base path: /healthz (alive) and /readyz (able to serve)."""

from __future__ import annotations

from aiohttp import web

from bridge.web.readiness import READINESS


async def healthz(_: web.Request) -> web.Response:
    """The process is alive and its event loop answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when every registered check (database open, master reachable) passes; 503 otherwise."""
    checks = request.app[READINESS]
    results = {name: await check() for name, check in checks.items()}
    failing = {name: reason for name, reason in results.items() if reason is not None}
    if failing:
        return web.json_response({"status": "unavailable", "reasons": failing}, status=503)
    return web.json_response({"status": "ok", "checks": sorted(results)})
