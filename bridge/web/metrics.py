"""``GET /metrics`` and the middleware that feeds it; optionally on a separate operator listener.

Labels are bounded: resources come from the matched route or a fixed list, never from raw paths.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from bridge import listen
from bridge.config import MetricsSettings, Settings
from bridge.metrics import CONTENT_TYPE, Cell, MetricsRecorder
from bridge.web.keys import REQUEST_CONTEXT
from bridge.web.operator_access import operator_allowed, unauthorized
from bridge.web.status import STATUS_COUNTS, make_status_handler, refresh_store_gauges

_log = structlog.get_logger("bridge.metrics")
METRICS: Final = web.AppKey[MetricsRecorder]("metrics")
SCIM_RESOURCES: Final = frozenset(
    {"Users", "Groups", "Me", "Bulk", "ServiceProviderConfig", "Schemas", "ResourceTypes", ".search", "oauth"}
)
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_WRITE_OPERATIONS: Final = MappingProxyType({"PUT": "replace", "PATCH": "patch", "DELETE": "delete"})


@dataclass(slots=True)
class OperatorEndpoint:
    """Where the separate operator listener ended up (filled in at start-up; None when not separate)."""

    url: str | None = None


OPERATOR_ENDPOINT: Final = web.AppKey[OperatorEndpoint]("operator_endpoint")


def _scim_operation(method: str, rest: list[str]) -> str:
    """SCIM operation from the method and the path below the resource (RFC 7644 §3.2-3.6)."""
    if rest and rest[-1] == ".search" and method == "POST":
        return "search"
    if method in _WRITE_OPERATIONS:
        return _WRITE_OPERATIONS[method]
    if method == "POST":
        return "create" if not rest else "post"
    if method in ("GET", "HEAD"):
        return "get" if rest else "list"
    return method.lower()


def _under(path: str, base_path: str) -> bool:
    base = base_path.rstrip("/")
    return path == base or path.startswith(base + "/")


def classify(request: web.Request, base_path: str) -> tuple[str, str]:
    """``(resource, operation)`` labels: SCIM resource and operation, or the route of an operator endpoint."""
    method = request.method
    if method not in _METHODS:
        method = "OTHER"
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else None
    return _labels(method, canonical, "" if canonical else request.path, base_path)


# Bounded: a route's labels depend only on method and route (a few dozen pairs); unmatched raw paths
# (client input) only evict entries.
@functools.lru_cache(maxsize=1024)
def _labels(method: str, canonical: str | None, raw_path: str, base_path: str) -> tuple[str, str]:
    path = canonical or raw_path
    base = base_path.rstrip("/")
    if _under(path, base_path):
        parts = [p for p in path[len(base) :].split("/") if p]
        if not parts:
            return "root", method.lower()
        name = parts[0]
        if name == "oauth":
            return "oauth", "token"
        if name not in SCIM_RESOURCES:
            return "unmatched", method.lower()
        if name == ".search":
            return "all", "search"
        return name, _scim_operation(method, parts[1:])
    if canonical is None:
        return "unmatched", method.lower()
    return canonical, method.lower()


def metrics_middleware(recorder: MetricsRecorder, base_path: str) -> Middleware:
    """The middleware that counts and times every request into `recorder`, with its final status (it sits
    just outside the error middleware).

    It holds the recorder and base path itself: as app keys they cost every request a ``request.app`` and
    two lookups (~2.5k instructions).
    """
    # A registered route's labels depend only on the route and the method, so its counts are found once per
    # route, method, status and client (a few dozen): classifying and two label lookups per request cost
    # ~5k instructions more. Unmatched requests get a route object of their own each: they are not kept.
    cells: dict[tuple[web.AbstractRoute, str, int, str], Cell] = {}

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count and time one request with its final status."""
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            # Only the authn middleware answers 401/429 under the base path (and the token endpoint, 401).
            if status in (401, 429) and _under(request.path, base_path):
                recorder.observe_auth_failure("unauthorized" if status == 401 else "rate_limited")
            context = request[REQUEST_CONTEXT]
            route = context.route
            key = (route, request.method, status, context.client or "none")
            cell = cells.get(key)
            if cell is None:
                cell = recorder.request_cell(*classify(request, base_path), status, key[3])
                if route.resource is not None and key[1] in _METHODS:
                    cells[key] = cell
            cell.observe(time.perf_counter() - started)

    return count


def make_metrics_handler(
    main_app: web.Application, recorder: MetricsRecorder, settings: MetricsSettings
) -> Handler:
    """``GET /metrics``: open unless ``metrics.token`` is set (Prometheus scrapes from elsewhere)."""

    async def handler(request: web.Request) -> web.Response:
        if not operator_allowed(request, settings, open_without_token=True):
            return unauthorized()
        await refresh_store_gauges(main_app, recorder)
        return web.Response(body=recorder.render(), headers={hdrs.CONTENT_TYPE: CONTENT_TYPE})

    return handler


def _operator_listener(
    operator_app: web.Application, settings: MetricsSettings, endpoint: OperatorEndpoint
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(operator_app, access_log=None)
        await runner.setup()
        try:
            endpoint.url = await listen.start_site(runner, "operator", settings.host, settings.port or 0)
        except BaseException:
            await runner.cleanup()
            raise
        _log.info("listening", name="operator", url=endpoint.url)
        try:
            yield
        finally:
            await runner.cleanup()

    return lifecycle


def setup_metrics(app: web.Application, settings: Settings) -> Middleware:
    """Create the app's recorder; serve /metrics and /status on the main listener or on ``metrics.port``.

    Returns the middleware that feeds the recorder, for the app's list (see bridge/web/app.py).
    """
    recorder = MetricsRecorder(settings.database.path)
    app[METRICS] = recorder
    endpoint = OperatorEndpoint()
    app[OPERATOR_ENDPOINT] = endpoint
    app[STATUS_COUNTS] = {}
    middleware = metrics_middleware(recorder, settings.server.base_path)
    if not settings.metrics.enabled:
        return middleware
    target = app
    if settings.metrics.port is not None:
        target = web.Application()
        app.cleanup_ctx.append(_operator_listener(target, settings.metrics, endpoint))
    target.router.add_get("/metrics", make_metrics_handler(app, recorder, settings.metrics))
    target.router.add_get("/status", make_status_handler(app, recorder, settings))
    return middleware
