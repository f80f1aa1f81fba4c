"""A bare app for auth tests: context, error and auth middlewares around stand-in SCIM routes."""

from __future__ import annotations

from aiohttp import web

from bridge.config import AuthSettings, ScimSettings, ServerSettings, Settings
from bridge.web.authn import setup_auth
from bridge.web.context import context_middleware
from bridge.web.errors import error_middleware
from bridge.web.keys import PRINCIPAL, TRUSTED_PROXIES
from bridge.web.proxies import TrustedProxies
from tests.auth.fakes import FakeClock


def settings_with(auth: AuthSettings, *, trusted_proxies: tuple[str, ...] = ()) -> Settings:
    return Settings(
        scim=ScimSettings(auth=auth),
        server=ServerSettings(trusted_proxies=trusted_proxies),
    )


def bare_app(settings: Settings, clock: FakeClock) -> web.Application:
    """Context, error and auth middlewares around stand-ins for SCIM routes and health."""

    async def users(request: web.Request) -> web.Response:
        principal = request[PRINCIPAL]
        return web.json_response({"client": principal.name, "method": principal.method})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app[TRUSTED_PROXIES] = TrustedProxies.from_entries(settings.server.trusted_proxies)
    app.router.add_get("/scim/v2/Users", users)
    app.router.add_get("/scim/v2/ServiceProviderConfig", users)
    app.router.add_get("/healthz", healthz)
    authenticate = setup_auth(app, settings, clock=clock)
    app.middlewares.extend([context_middleware, error_middleware, authenticate])
    return app
