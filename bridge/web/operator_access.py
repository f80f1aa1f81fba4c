"""Who may read the operator endpoints (/metrics, /status): a bearer token when configured, else a rule."""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web

from bridge.config import MetricsSettings
from bridge.web.proxies import parse_address


def _peer_is_loopback(request: web.Request) -> bool:
    # As IPv4 when mapped: a dual-stack listener reports a local curl as ::ffff:127.0.0.1, which Python's
    # is_loopback (before 3.13) does not count.
    ip = parse_address(request.remote or "")
    return ip is not None and ip.is_loopback


def operator_allowed(request: web.Request, settings: MetricsSettings, *, open_without_token: bool) -> bool:
    """With ``metrics.token``: a matching bearer token. Without: open, or loopback peers only."""
    if settings.token is None:
        return open_without_token or _peer_is_loopback(request)
    scheme, _, presented = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), settings.token.reveal().encode())


def unauthorized() -> web.Response:
    """A plain 401 for the operator endpoints (not SCIM resources, so not a SCIM error body)."""
    return web.Response(
        status=401,
        text="unauthorized\n",
        headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="scim-bridge-metrics"'},
    )
