"""OAuth2 client-credentials grant (RFC 6749 §4.4): short-lived access tokens signed by the bridge.

A token is ``sb1.<payload>.<mac>``: base64url compact JSON ``{"cid", "exp", "jti"}`` and an
HMAC-SHA256 over the prefix and payload. Without ``oauth_signing_key`` the key is random per process,
so every issued token dies on restart and is not valid on another replica.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Final

from bridge.auth.basic import digest, match_pair
from bridge.auth.failures import AuthenticationFailed, FailureReason, InvalidClient
from bridge.auth.principal import Clock, IdpPrincipal
from bridge.config import AuthSettings

TOKEN_PREFIX: Final = "sb1."  # noqa: S105 - a public format marker, not a secret
_MAC_LABEL: Final = b"scim-bridge oauth access token v1\x00"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly minted access token and the client it was minted for."""

    access_token: str
    expires_in: int
    client_name: str


class OAuthTokens:
    """Issues access tokens to configured clients and verifies them back into principals."""

    def __init__(self, settings: AuthSettings, clock: Clock) -> None:
        self._clock = clock
        self._ttl = settings.oauth_token_ttl
        key = settings.oauth_signing_key
        self._key = key.reveal().encode("utf-8") if key is not None else secrets.token_bytes(32)
        self._clients = tuple(
            (digest(c.client_id), digest(c.client_secret.reveal()), c.client_id)
            for c in settings.oauth_clients
        )
        # Names by client id: a token names its client id, and a client removed from config on
        # reload/restart has no entry, so its tokens stop verifying (revocation by removal).
        self._names = {c.client_id: c.name for c in settings.oauth_clients}

    @property
    def enabled(self) -> bool:
        """Whether any client is configured, i.e. whether the token endpoint should exist."""
        return bool(self._clients)

    def issue_token(self, client_id: str, client_secret: str, scope: str | None) -> tuple[str, int]:
        """Authenticate the client and mint ``(access_token, expires_in)``; raise InvalidClient."""
        issued = self.issue(client_id, client_secret, scope)
        return issued.access_token, issued.expires_in

    def issue(self, client_id: str, client_secret: str, scope: str | None) -> IssuedToken:
        """Like ``issue_token``, also naming the client for logs.

        ``scope`` is accepted and ignored: every token grants the whole SCIM API (RFC 6749 §3.3 lets
        the server ignore the requested scope).
        """
        del scope
        matched = match_pair(client_id, client_secret, self._clients)
        if matched is None:
            raise InvalidClient
        expires = int(self._clock().timestamp()) + self._ttl
        payload = json.dumps(
            {"cid": matched, "exp": expires, "jti": secrets.token_hex(16)}, separators=(",", ":")
        ).encode("utf-8")
        body = TOKEN_PREFIX + _b64encode(payload)
        access_token = f"{body}.{_b64encode(self._mac(body))}"
        return IssuedToken(access_token, self._ttl, self._names[matched])

    def verify(self, token: str) -> IdpPrincipal | None:
        """Return the principal for a valid token, None if it is not ours; raise on an expired one."""
        if not token.startswith(TOKEN_PREFIX) or not token.isascii():
            return None
        body, _, mac_text = token.rpartition(".")  # TOKEN_PREFIX ends in ".": there always is one
        try:
            mac = _b64decode(mac_text)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        # The MAC matched, so the payload is one we wrote: decoding cannot fail on honest input.
        claims = json.loads(_b64decode(body.removeprefix(TOKEN_PREFIX)))
        name = self._names.get(claims["cid"])
        if name is None:
            return None
        if self._clock().timestamp() >= claims["exp"]:
            raise AuthenticationFailed(FailureReason.EXPIRED_TOKEN)
        return IdpPrincipal(name, "oauth")

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, _MAC_LABEL + body.encode("ascii"), "sha256").digest()
