"""A hand-driven clock and settings builders shared by the auth tests."""

from __future__ import annotations

from base64 import b64encode
from datetime import UTC, datetime, timedelta

from bridge.config import AuthSettings, BasicCredential, BearerCredential, OAuthClient, Secret, hash_token

OKTA_PASSWORD = "okta-basic-pass-5f1c"
ROTATED_PASSWORD = "rotated-basic-pass-77aa"
ENTRA_TOKEN = "entra-static-token-9c2e4b7d1f"
OLD_TOKEN = "old-static-token-0a0a0a0a0a0a"
CLIENT_SECRET = "client-secret-3e8d6a2b"


class FakeClock:
    """Returns a fixed aware UTC time until advanced."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def basic_header(user: str, password: str) -> str:
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode()


def auth_settings(
    *, bearer: tuple[str, ...] = (ENTRA_TOKEN,), limit: int = 30, ttl: int = 3600
) -> AuthSettings:
    """Two basic credentials (rotation), named bearer tokens and one OAuth client."""
    return AuthSettings(
        basic=(
            BasicCredential("okta", "determined", Secret(OKTA_PASSWORD)),
            BasicCredential("okta-next", "determined", Secret(ROTATED_PASSWORD)),
        ),
        bearer=tuple(BearerCredential(f"bearer-{i}", hash_token(t)) for i, t in enumerate(bearer)),
        oauth_clients=(OAuthClient("entra-oauth", "entra-client", Secret(CLIENT_SECRET)),),
        oauth_token_ttl=ttl,
        oauth_signing_key=Secret("signing-key-for-tests-0123456789"),
        failed_attempts_per_minute=limit,
    )
