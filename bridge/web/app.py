"""The application factory: shared state under AppKeys, lifecycles in cleanup_ctx, middlewares in order."""

from __future__ import annotations

from aiohttp import web

from bridge.config import Settings
from bridge.web import health
from bridge.web.authn import setup_auth
from bridge.web.context import context_middleware
from bridge.web.errors import error_middleware
from bridge.web.forwarded import PublicUrl
from bridge.web.keys import PUBLIC_URL, RENDERED_USERS, SETTINGS, TRUSTED_PROXIES
from bridge.web.metrics import setup_metrics
from bridge.web.proxies import TrustedProxies
from bridge.web.readiness import READINESS
from bridge.web.rendered import RenderedUsers
from bridge.web.routes import setup_routes
from bridge.web.services import service_contexts


def create_app(settings: Settings) -> web.Application:
    """Build the bridge's web application from validated settings."""
    app = web.Application(client_max_size=settings.scim.max_payload_bytes)
    app[SETTINGS] = settings
    proxies = TrustedProxies.from_entries(settings.server.trusted_proxies)
    app[TRUSTED_PROXIES] = proxies
    app[PUBLIC_URL] = PublicUrl.from_settings(settings, proxies)
    app[READINESS] = {}
    app[RENDERED_USERS] = RenderedUsers()
    app.cleanup_ctx.extend(service_contexts(settings))
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    authenticate = setup_auth(app, settings)
    setup_routes(app, settings)
    count = setup_metrics(app, settings)
    # Outermost first: the context middleware logs every request, even those the error
    # middleware turns into SCIM errors (auth failures, router 404/405, body-size 413).
    # It binds `idp_dialect` too (bridge/web/dialect.py), so the dialect reaches that line even on errors.
    # The metrics middleware sits outside the error one: it sees final statuses.
    # (Added once the authentication and metrics middlewares exist: each holds what it uses.)
    app.middlewares.extend([context_middleware, count, error_middleware, authenticate])
    return app
