"""The OAuth2 token endpoint (RFC 6749 §4.4 client credentials) and its OAuth-shaped errors.

This is an OAuth endpoint, not a SCIM one, so errors are RFC 6749 §5.2 JSON rendered here only.
Clients authenticate with HTTP Basic (RFC 6749 §2.3.1) or ``client_id``/``client_secret`` form fields:
IdPs differ on which they use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import unquote_plus

import structlog
from aiohttp import hdrs, web

from bridge.auth.basic import decode_basic
from bridge.auth.failures import AuthenticationFailed, InvalidClient, TooManyFailures
from bridge.auth.oauth import OAuthTokens
from bridge.auth.ratelimit import FailedAttemptLimiter
from bridge.web.keys import REQUEST_CONTEXT

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
# RFC 6749 §5.1: token responses, including errors, must not be cached.
_NO_STORE: Final = {hdrs.CACHE_CONTROL: "no-store", hdrs.PRAGMA: "no-cache"}
_SINGLE_PARAMS: Final = ("grant_type", "client_id", "client_secret", "scope")
_log = structlog.get_logger("bridge.auth")


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer of the token endpoint."""

    def __init__(self, status: int, error: str, description: str, retry_after: int | None = None) -> None:
        self.status = status
        self.error = error
        self.description = description
        self.retry_after = retry_after
        super().__init__(error)

    def response(self) -> web.Response:
        """Render the OAuth JSON error with the headers RFC 6749 requires."""
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers[hdrs.WWW_AUTHENTICATE] = 'Basic realm="scim-bridge"'
        if self.retry_after is not None:
            headers[hdrs.RETRY_AFTER] = str(self.retry_after)
        body = {"error": self.error, "error_description": self.description}
        return web.json_response(body, status=self.status, headers=headers)


def _client_credentials(authorization: str | None, form: dict[str, str]) -> list[tuple[str, str]]:
    """Candidate (client_id, client_secret) pairs from the Basic header or the form."""
    in_form = "client_id" in form or "client_secret" in form
    if authorization is None:
        if not in_form:
            raise OAuthError(401, "invalid_client", "Client authentication required.")
        return [(form.get("client_id", ""), form.get("client_secret", ""))]
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError(401, "invalid_client", "Use HTTP Basic or form fields for client authentication.")
    try:
        user, password = decode_basic(encoded)
    except AuthenticationFailed:
        raise OAuthError(401, "invalid_client", "Malformed Basic client credentials.") from None
    # RFC 6749 §2.3.1 form-encodes id and secret before Basic encoding; many clients skip that step.
    pairs = [(user, password)]
    decoded = (unquote_plus(user), unquote_plus(password))
    if decoded != pairs[0]:
        pairs.append(decoded)
    if in_form and (form.get("client_id"), form.get("client_secret")) not in pairs:
        # RFC 6749 §2.3: one authentication method per request; identical duplicates are tolerated.
        raise OAuthError(400, "invalid_request", "Client credentials sent in both header and body.")
    return pairs


async def _read_form(request: web.Request) -> dict[str, str]:
    if request.content_type != FORM_CONTENT_TYPE:
        raise OAuthError(400, "invalid_request", f"Content-Type must be {FORM_CONTENT_TYPE}.")
    try:
        posted = await request.post()
    except UnicodeDecodeError:
        # aiohttp decodes the urlencoded body as UTF-8 and raises on anything else (found by tests/fuzz).
        raise OAuthError(400, "invalid_request", "The form body must be UTF-8.") from None
    except web.RequestPayloadError:
        # The body broke its Content-Encoding or chunked framing after the handler began to read it: the
        # client's error, as aiohttp's own 400 would have said had it all come with the headers.
        raise OAuthError(400, "invalid_request", "The form body could not be decoded.") from None
    form: dict[str, str] = {}
    for key in _SINGLE_PARAMS:
        values = posted.getall(key, [])
        if len(values) > 1:
            # RFC 6749 §3.2: parameters must not be repeated.
            raise OAuthError(400, "invalid_request", f"Parameter {key} repeated.")
        if values:
            if not isinstance(values[0], str):
                raise OAuthError(400, "invalid_request", f"Parameter {key} must be text.")
            form[key] = values[0]
    return form


def make_token_endpoint(
    tokens: OAuthTokens, limiter: FailedAttemptLimiter, client_address: Callable[[web.Request], str]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The ``POST /oauth/token`` handler over the given issuer and failed-attempt limiter."""

    async def token_endpoint(request: web.Request) -> web.Response:
        """Answer a client-credentials token request."""
        address = client_address(request)
        try:
            return await _issue(request, address)
        except OAuthError as exc:
            return exc.response()

    async def _issue(request: web.Request, address: str) -> web.Response:
        try:
            limiter.check(address)
        except TooManyFailures as exc:
            _log.warning("auth.rate_limited", client_address=address, retry_after=exc.retry_after)
            raise OAuthError(
                429, "temporarily_unavailable", "Too many failed attempts; retry later.", exc.retry_after
            ) from None
        form = await _read_form(request)
        grant_type = form.get("grant_type")
        if grant_type is None:
            raise OAuthError(400, "invalid_request", "Parameter grant_type is required.")
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "Only client_credentials is supported.")
        try:
            pairs = _client_credentials(request.headers.get(hdrs.AUTHORIZATION), form)
        except OAuthError as exc:
            if exc.error == "invalid_client":
                _reject(limiter, address)
            raise
        for client_id, client_secret in pairs:
            try:
                issued = tokens.issue(client_id, client_secret, form.get("scope"))
            except InvalidClient:
                continue
            request[REQUEST_CONTEXT].client = issued.client_name
            _log.info("auth.token_issued", idp=issued.client_name, expires_in=issued.expires_in)
            body = {
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
            }
            return web.json_response(body, headers=_NO_STORE)
        _reject(limiter, address)
        raise OAuthError(401, "invalid_client", "Client authentication failed.")

    return token_endpoint


def _reject(limiter: FailedAttemptLimiter, address: str) -> None:
    limiter.record_failure(address)
    _log.warning("auth.rejected", reason="invalid_client", client_address=address, endpoint="token")
