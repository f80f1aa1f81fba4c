"""``GET /status``: a JSON summary for ``scim-bridge status`` (version, uptime, counts, intents, master).

Protected by ``metrics.token`` when set, else answered only to loopback peers: it names the master URL
and the size of the user base, which the open probes do not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from bridge import __version__
from bridge.config import Settings
from bridge.determined import MasterError
from bridge.metrics import MetricsRecorder
from bridge.store import StoreError
from bridge.web.keys import MASTER, STORE
from bridge.web.operator_access import operator_allowed, unauthorized
from bridge.web.readiness import READINESS

CountProvider = Callable[[], Awaitable[int]]
# Components register counts here (e.g. "users", "groups" from the store); /status reports each.
STATUS_COUNTS: Final = web.AppKey[dict[str, CountProvider]]("status_counts")
_PROBE_TIMEOUT: Final = 5.0


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


async def probe_master(main_app: web.Application) -> dict[str, object]:
    """``GET /api/v1/master`` through the app's own client (its TLS settings, breaker): reachable, version."""
    client = main_app.get(MASTER)
    if client is None:
        return {"reachable": False, "error": "master client not started"}
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT):
            info = await client.master_info()
    except TimeoutError:
        return {"reachable": False, "error": f"no answer within {_PROBE_TIMEOUT:g} s"}
    except MasterError as exc:
        return {"reachable": False, "error": exc.message}
    return {"reachable": True, "version": info.version}


async def refresh_store_gauges(main_app: web.Application, recorder: MetricsRecorder) -> int | None:
    """Publish the open write intents from the store (read at scrape time); None before the store opens."""
    store = main_app.get(STORE)
    if store is None:
        return None
    try:
        pending = len(await store.pending_intents())
    except StoreError:
        return None
    recorder.set_intents_pending(pending)
    return pending


async def _store_counts(main_app: web.Application) -> dict[str, int]:
    store = main_app.get(STORE)
    if store is None:
        return {}
    try:
        users, _ = await store.list_users("1 = 1", (), limit=1)
        groups, _ = await store.list_groups("1 = 1", (), limit=1)
    except StoreError:
        return {}
    return {"users": users, "groups": groups}


def make_status_handler(main_app: web.Application, recorder: MetricsRecorder, settings: Settings) -> Handler:
    """The ``/status`` handler; it reads the main app's state even when served on the operator port."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if not operator_allowed(request, settings.metrics, open_without_token=False):
            return unauthorized()
        checks = main_app[READINESS]
        names = sorted(checks)
        results = await asyncio.gather(*(checks[name]() for name in names))
        providers = main_app[STATUS_COUNTS]
        count_names = sorted(providers)
        extra = await asyncio.gather(*(providers[name]() for name in count_names))
        counts = {**await _store_counts(main_app), **dict(zip(count_names, extra, strict=True))}
        await refresh_store_gauges(main_app, recorder)
        now = time.time()
        body = {
            "version": __version__,
            "mode": settings.mode,
            "started_at": _iso(recorder.started_at),
            "uptime_seconds": round(now - recorder.started_at, 1),
            "counts": counts,
            "intents_pending": recorder.pending_intents(),
            "last_reconcile": _iso(recorder.last_reconcile()),
            "reconcile_interval": settings.reconcile.interval,
            "requests_total": recorder.requests_total(),
            "checks": {n: r or "ok" for n, r in zip(names, results, strict=True)},
            "master": {"url": settings.master.url, **await probe_master(main_app)},
        }
        return web.json_response(body)

    return handler
