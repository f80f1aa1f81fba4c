"""IdP authentication for every SCIM endpoint: ``setup_auth`` wires it and returns its one middleware.

Everything under ``server.base_path`` needs credentials, discovery endpoints included: RFC 7644 §4
permits anonymous ``/ServiceProviderConfig``, ``/Schemas`` and ``/ResourceTypes``, but Okta and the
master's own plugin authenticate every call, and an open discovery surface tells scanners what we are.
Health, readiness, metrics and the OAuth token endpoint stay open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from bridge.auth.credentials import Authenticator
from bridge.auth.failures import AuthenticationFailed, TooManyFailures
from bridge.auth.principal import Clock, utc_now
from bridge.auth.ratelimit import FailedAttemptLimiter
from bridge.config import Settings
from bridge.log_fields import bind_log_field
from bridge.scim.errors import TooManyRequests, Unauthorized
from bridge.web.keys import PRINCIPAL, REQUEST_CONTEXT, TRUSTED_PROXIES
from bridge.web.oauth import make_token_endpoint
from bridge.web.proxies import TrustedProxies, unmapped

TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a route, not a secret
OPEN_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
_log = structlog.get_logger("bridge.auth")


@dataclass(frozen=True, slots=True)
class AuthnPolicy:
    """What the middleware protects and how it tells clients apart."""

    base_path: str
    open_routes: frozenset[str]
    limiter: FailedAttemptLimiter
    trusted_proxies: TrustedProxies
    _base: str = field(init=False, repr=False)
    _prefix: str = field(init=False, repr=False)
    # The verdicts that a registered route decides alone, kept per route (a fixed set): the look at its
    # resource's canonical path cost every request ~1.5k instructions. Unmatched requests get a route object
    # of their own each: they are not kept.
    _by_route: dict[web.AbstractRoute, bool] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Every request asks whether it is under the base path: normalise it once.
        object.__setattr__(self, "_base", self.base_path.rstrip("/"))
        object.__setattr__(self, "_prefix", self._base + "/")
        object.__setattr__(self, "_by_route", {})

    def protects(self, request: web.Request, route: web.AbstractRoute) -> bool:
        """True for every request under the base path except the open routes (`route`: the request's)."""
        known = self._by_route.get(route)
        if known is not None:
            return known
        resource = route.resource
        canonical = resource.canonical if resource is not None else None
        if canonical in self.open_routes:
            verdict = False
        elif canonical is not None and self._under_base(canonical):
            # The route first: a route under the base path needs no look at the request's path.
            verdict = True
        else:
            return self._under_base(request.path)
        if resource is not None:
            self._by_route[route] = verdict
        return verdict

    def client_address(self, request: web.Request) -> str:
        """The peer address, or the nearest untrusted X-Forwarded-For hop when the peer is our proxy; an
        IPv4-mapped address as IPv4, so a client is one failed-attempts key on any listener (bridge/web/proxies.py)."""
        peer = request.remote or "unknown"
        if not self.trusted_proxies.networks:
            return unmapped(peer)  # the common case: no proxies, no tuple (check's answer) per request
        client, trusted = self.trusted_proxies.check(peer)
        if not trusted:
            return client
        hops = [
            hop.strip() for value in request.headers.getall("X-Forwarded-For", []) for hop in value.split(",")
        ]
        for hop in reversed([hop for hop in hops if hop]):
            client, trusted = self.trusted_proxies.check(hop)
            if not trusted:
                break
        # The nearest untrusted hop; with every hop trusted (an internal caller), the furthest; with none, the peer.
        return client

    def _under_base(self, path: str) -> bool:
        return path == self._base or path.startswith(self._prefix)


def setup_auth(app: web.Application, settings: Settings, *, clock: Clock = utc_now) -> Middleware:
    """Build the Authenticator and limiter from settings; add the token endpoint if OAuth is configured.

    The trusted proxies are the app's (``TRUSTED_PROXIES``, set by the factory). Returns the authentication
    middleware, for the app's list (innermost: see bridge/web/app.py).
    """
    auth = settings.scim.auth
    authenticator = Authenticator(auth, clock)
    limiter = FailedAttemptLimiter(auth.failed_attempts_per_minute, clock)
    base = settings.server.base_path.rstrip("/")
    token_paths = (TOKEN_PATH, base + TOKEN_PATH) if authenticator.oauth.enabled else ()
    policy = AuthnPolicy(
        base_path=settings.server.base_path,
        open_routes=OPEN_PATHS | frozenset(token_paths),
        limiter=limiter,
        trusted_proxies=app[TRUSTED_PROXIES],
    )
    endpoint = make_token_endpoint(authenticator.oauth, limiter, policy.client_address)
    for path in token_paths:
        app.router.add_post(path, endpoint)
    return authn_middleware(policy, authenticator)


def authn_middleware(policy: AuthnPolicy, authenticator: Authenticator) -> Middleware:
    """The middleware that authenticates with `authenticator` the requests `policy` protects.

    It holds the two itself: as app keys they cost every request a ``request.app`` and two lookups
    (~2.5k instructions).
    """

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Authenticate protected requests; a failure is a SCIM 401, a blocked address a SCIM 429."""
        context = request[REQUEST_CONTEXT]
        if not policy.protects(request, context.route):
            return await handler(request)
        # The client's address only when the limiter holds one (an address failed within the last minute or
        # so): the check of any other address passes, and the address (the peer unmapped, or a forwarded hop)
        # cost every request ~2.5k instructions. A failure below finds it then.
        address = policy.client_address(request) if len(policy.limiter) else None
        if address is not None:
            try:
                policy.limiter.check(address)
            except TooManyFailures as exc:
                # Checked before verifying: a blocked address learns nothing, even from a right guess.
                _log.warning("auth.rate_limited", client_address=address, retry_after=exc.retry_after)
                raise TooManyRequests(
                    "Too many failed authentication attempts; retry later.", retry_after=exc.retry_after
                ) from None
        try:
            principal = authenticator.verify(request.headers.get(hdrs.AUTHORIZATION))
        except AuthenticationFailed as exc:
            if address is None:
                address = policy.client_address(request)
            policy.limiter.record_failure(address)
            _log.warning("auth.rejected", reason=exc.reason.value, client_address=address)
            raise Unauthorized(exc.reason.detail) from None
        request[PRINCIPAL] = principal
        context.client = principal.name
        # ``idp``, not ``client``: the canonical request line already has a ``client`` field of its own.
        bind_log_field("idp", principal.name)
        return await handler(request)

    return authenticate
