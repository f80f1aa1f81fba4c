"""Client-credentials tokens alone: issue, verify, expiry, tampering and revocation, on a fake clock."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from bridge.auth.credentials import Authenticator
from bridge.auth.failures import AuthenticationFailed, FailureReason, InvalidClient
from bridge.auth.oauth import TOKEN_PREFIX, OAuthTokens
from bridge.auth.principal import IdpPrincipal
from bridge.config import OAuthClient, Secret
from tests.auth.fakes import CLIENT_SECRET, FakeClock, auth_settings


def test_issued_token_verifies_to_the_client_name() -> None:
    clock = FakeClock()
    tokens = OAuthTokens(auth_settings(ttl=600), clock)
    access_token, expires_in = tokens.issue_token("entra-client", CLIENT_SECRET, "scim")
    assert expires_in == 600
    assert access_token.startswith(TOKEN_PREFIX)
    assert tokens.verify(access_token) == IdpPrincipal("entra-oauth", "oauth")


def test_tokens_are_unique_per_issue() -> None:
    tokens = OAuthTokens(auth_settings(), FakeClock())
    first, _ = tokens.issue_token("entra-client", CLIENT_SECRET, None)
    second, _ = tokens.issue_token("entra-client", CLIENT_SECRET, None)
    assert first != second


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("entra-client", "wrong"), ("other-client", CLIENT_SECRET), ("", ""), ("entra-client", "")],
)
def test_wrong_client_credentials_are_invalid_client(client_id: str, secret: str) -> None:
    with pytest.raises(InvalidClient):
        OAuthTokens(auth_settings(), FakeClock()).issue_token(client_id, secret, None)


def test_token_expires_exactly_at_ttl() -> None:
    clock = FakeClock()
    tokens = OAuthTokens(auth_settings(ttl=60), clock)
    access_token, _ = tokens.issue_token("entra-client", CLIENT_SECRET, None)
    clock.advance(59)
    assert tokens.verify(access_token) is not None
    clock.advance(1)
    with pytest.raises(AuthenticationFailed) as caught:
        tokens.verify(access_token)
    assert caught.value.reason is FailureReason.EXPIRED_TOKEN


def _reencode(access_token: str, **changes: object) -> str:
    body, _, mac = access_token.rpartition(".")
    payload = body.removeprefix(TOKEN_PREFIX)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{TOKEN_PREFIX}{forged}.{mac}"


def test_tampered_tokens_are_not_ours() -> None:
    tokens = OAuthTokens(auth_settings(ttl=60), FakeClock())
    access_token, _ = tokens.issue_token("entra-client", CLIENT_SECRET, None)
    extended = _reencode(access_token, exp=4_000_000_000)
    assert tokens.verify(extended) is None
    flipped = access_token[:-2] + ("A" if access_token[-2] != "A" else "B") + access_token[-1]
    assert tokens.verify(flipped) is None
    assert tokens.verify(access_token + "x") is None
    assert tokens.verify(TOKEN_PREFIX + "garbage") is None
    assert tokens.verify(TOKEN_PREFIX + "é.é") is None
    # A MAC that is not base64 at all (one character past a multiple of four) is not ours either, not an error.
    assert tokens.verify(access_token.rpartition(".")[0] + ".a") is None
    assert tokens.verify(TOKEN_PREFIX + "a") is None


def test_token_from_another_signing_key_is_rejected() -> None:
    settings = auth_settings()
    issued, _ = OAuthTokens(settings, FakeClock()).issue_token("entra-client", CLIENT_SECRET, None)
    rotated = dataclasses.replace(settings, oauth_signing_key=Secret("a-different-signing-key-42"))
    assert OAuthTokens(rotated, FakeClock()).verify(issued) is None


def test_without_signing_key_tokens_die_with_the_process() -> None:
    settings = dataclasses.replace(auth_settings(), oauth_signing_key=None)
    first_process = OAuthTokens(settings, FakeClock())
    issued, _ = first_process.issue_token("entra-client", CLIENT_SECRET, None)
    assert first_process.verify(issued) is not None
    assert OAuthTokens(settings, FakeClock()).verify(issued) is None


def test_removing_a_client_revokes_its_tokens() -> None:
    settings = auth_settings()
    issued, _ = OAuthTokens(settings, FakeClock()).issue_token("entra-client", CLIENT_SECRET, None)
    other = OAuthClient("ping", "ping-client", Secret("ping-secret-xxxxxxxx"))
    reloaded = dataclasses.replace(settings, oauth_clients=(other,))
    assert OAuthTokens(reloaded, FakeClock()).verify(issued) is None


def test_authenticator_accepts_oauth_bearer_and_reports_expiry() -> None:
    clock = FakeClock()
    auth = Authenticator(auth_settings(ttl=30), clock)
    access_token, _ = auth.oauth.issue_token("entra-client", CLIENT_SECRET, None)
    assert auth.verify(f"Bearer {access_token}") == IdpPrincipal("entra-oauth", "oauth")
    clock.advance(31)
    with pytest.raises(AuthenticationFailed) as caught:
        auth.verify(f"Bearer {access_token}")
    assert caught.value.reason is FailureReason.EXPIRED_TOKEN
    with pytest.raises(AuthenticationFailed) as tampered:
        auth.verify(f"Bearer {_reencode(access_token, exp=4_000_000_000)}")
    assert tampered.value.reason is FailureReason.BAD_CREDENTIALS


def test_no_clients_means_disabled_and_nothing_issues() -> None:
    settings = dataclasses.replace(auth_settings(), oauth_clients=())
    tokens = OAuthTokens(settings, FakeClock())
    assert not tokens.enabled
    with pytest.raises(InvalidClient):
        tokens.issue_token("entra-client", CLIENT_SECRET, None)
