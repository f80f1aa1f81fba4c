"""The Authenticator: turns an ``Authorization`` header into an IdpPrincipal or an AuthenticationFailed.

Accepted shapes (idp-traffic §0.16, §2.2, §3.1):
* ``Basic base64(user:password)`` — Okta, Ping, Keycloak plugins; the master's ``scim.auth`` block.
* ``Bearer <token>`` — a static named token or an access token from our token endpoint.
* ``<token>`` with no scheme, and ``Bearer Bearer <token>`` — Okta "HTTP Header" mode, where admins
  paste the token with or without the prefix Okta adds itself. Such a value is accepted only if it
  matches a configured token exactly; anything else gets the same 401 as a wrong token.
Scheme names are case-insensitive (RFC 9110 §11.1) and surrounding or repeated spaces are tolerated.
"""

from __future__ import annotations

import hmac

from bridge.auth.basic import decode_basic, digest, match_digests
from bridge.auth.failures import AuthenticationFailed, FailureReason
from bridge.auth.oauth import OAuthTokens
from bridge.auth.principal import Clock, IdpPrincipal, utc_now
from bridge.config import AuthSettings, hash_token


class Authenticator:
    """Every credential configured in ``scim.auth``, all accepted at once (rotation by overlap)."""

    def __init__(self, settings: AuthSettings, clock: Clock = utc_now) -> None:
        self._basic = tuple((digest(c.username), digest(c.password.reveal()), c.name) for c in settings.basic)
        # One principal per configured token, made once: a request that matches gets it as it is.
        self._bearer = tuple((c.token_sha256, IdpPrincipal(c.name, "bearer")) for c in settings.bearer)
        self.oauth = OAuthTokens(settings, clock)
        # The digests of Basic credentials that matched, by the header value presented: an IdP sends the
        # same one on every request, so it is decoded and hashed once. Only matches are kept, so there are
        # a few entries per configured pair (base64's unused bits) and a client cannot grow the map; the
        # constant-time comparisons still run on every request, and a hit tells the caller nothing the
        # answer does not. (Basic passwords are in memory anyway: settings hold them.)
        self._basic_digests: dict[str, tuple[bytes, bytes]] = {}
        # The principals of static bearer tokens that matched, by `_token_key` (never by the token: only
        # digests of bearer tokens may be kept, docs/configuration.md). An IdP sends the same token on every
        # request, and its SHA-256 (OpenSSL's setup, the digest, its hex) cost each one ~6k instructions.
        self._bearer_keys: dict[tuple[int, int], IdpPrincipal] = {}

    @property
    def schemes(self) -> tuple[str, ...]:
        """The HTTP schemes a client can use with this configuration, for ``WWW-Authenticate``."""
        schemes: list[str] = []
        if self._basic:
            schemes.append("Basic")
        if self._bearer or self.oauth.enabled:
            schemes.append("Bearer")
        return tuple(schemes)

    def verify(self, authorization_header: str | None) -> IdpPrincipal:
        """Authenticate one request's ``Authorization`` header value."""
        if authorization_header is None or not authorization_header.strip():
            raise AuthenticationFailed(FailureReason.MISSING)
        parts = authorization_header.split()
        if len(parts) == 1:
            return self._verify_token(parts[0])
        scheme = parts[0].lower()
        if scheme == "basic":
            if len(parts) != 2:
                raise AuthenticationFailed(FailureReason.MALFORMED)
            return self._verify_basic(parts[1])
        if scheme == "bearer":
            if len(parts) == 3 and parts[1].lower() == "bearer":
                return self._verify_token(parts[2])
            if len(parts) != 2:
                raise AuthenticationFailed(FailureReason.MALFORMED)
            return self._verify_token(parts[1])
        raise AuthenticationFailed(FailureReason.UNSUPPORTED_SCHEME)

    def _verify_basic(self, encoded: str) -> IdpPrincipal:
        digests = self._basic_digests.get(encoded)
        if digests is None:
            user, password = decode_basic(encoded)
            digests = (digest(user), digest(password))
        name = match_digests(*digests, self._basic)
        if name is None:
            raise AuthenticationFailed(FailureReason.BAD_CREDENTIALS)
        self._basic_digests[encoded] = digests
        return IdpPrincipal(name, "basic")

    def _verify_token(self, token: str) -> IdpPrincipal:
        key = _token_key(token)
        known = self._bearer_keys.get(key)
        if known is not None:
            return known
        presented = hash_token(token)
        found: IdpPrincipal | None = None
        # No early exit: the time taken does not depend on which configured token matched.
        for want, configured in self._bearer:
            if hmac.compare_digest(presented, want) and found is None:
                found = configured
        if found is not None:
            self._bearer_keys[key] = found
            return found
        principal = self.oauth.verify(token)
        if principal is None:
            raise AuthenticationFailed(FailureReason.BAD_CREDENTIALS)
        return principal


def _token_key(token: str) -> tuple[int, int]:
    """What `Authenticator` keeps of a static bearer token that matched: two of Python's string hashes, of the
    token and of the token with a suffix, i.e. 128 bits of SipHash under the process's random key.

    Only tokens that matched a configured digest in full are entered, so the map holds one entry per
    configured token and a client cannot grow it. Another token finds an entry only by matching both hashes:
    without the valid token (and, unless PYTHONHASHSEED is set, without the key) the client cannot compute
    them, so it has to guess 128 bits online, every miss a failed attempt for the limiter. Which entry a
    lookup probes depends on the presented token's hashes, not on how much of a valid token it shares, and a
    hit (faster than a miss) tells the client only what its 200 does. A token of another configuration
    (rotation, revocation) lives in another Authenticator with a map of its own; OAuth access tokens expire
    and are never entered (`OAuthTokens.verify` checks each one).
    """
    return hash(token), hash(token + "\x00")
