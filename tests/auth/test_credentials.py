"""The Authenticator alone: every accepted header shape and every rejection category."""

from __future__ import annotations

import hmac
from base64 import b64encode
from collections.abc import Callable

import pytest

from bridge.auth.credentials import Authenticator
from bridge.auth.failures import AuthenticationFailed, FailureReason
from bridge.auth.principal import IdpPrincipal
from bridge.config import AuthSettings, BasicCredential, Secret
from tests.auth.fakes import (
    ENTRA_TOKEN,
    OKTA_PASSWORD,
    ROTATED_PASSWORD,
    FakeClock,
    auth_settings,
    basic_header,
)


def authenticator(bearer: tuple[str, ...] = (ENTRA_TOKEN,)) -> Authenticator:
    return Authenticator(auth_settings(bearer=bearer), FakeClock())


def reason_of(verify: Callable[[], object]) -> FailureReason:
    with pytest.raises(AuthenticationFailed) as caught:
        verify()
    return caught.value.reason


def test_basic_accepts_every_configured_credential_for_rotation() -> None:
    auth = authenticator()
    assert auth.verify(basic_header("determined", OKTA_PASSWORD)) == IdpPrincipal("okta", "basic")
    assert auth.verify(basic_header("determined", ROTATED_PASSWORD)) == IdpPrincipal("okta-next", "basic")


@pytest.mark.parametrize(
    "header",
    [
        basic_header("determined", "wrong"),
        basic_header("Determined", OKTA_PASSWORD),  # usernames compare exactly, like the master's
        basic_header("determined", OKTA_PASSWORD + " "),
        basic_header("", ""),
    ],
)
def test_basic_rejects_wrong_pairs(header: str) -> None:
    assert reason_of(lambda: authenticator().verify(header)) is FailureReason.BAD_CREDENTIALS


@pytest.mark.parametrize(
    "header",
    ["Basic !!!not-base64!!!", "Basic " + b64encode(b"no-colon-here").decode(), "Basic a b"],
)
def test_malformed_basic_is_its_own_category(header: str) -> None:
    assert reason_of(lambda: authenticator().verify(header)) is FailureReason.MALFORMED


def test_password_may_contain_colons_and_non_ascii() -> None:
    settings = AuthSettings(basic=(BasicCredential("ping", "ping", Secret("pa:ss:wörd")),))
    auth = Authenticator(settings, FakeClock())
    assert auth.verify(basic_header("ping", "pa:ss:wörd")).name == "ping"


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {ENTRA_TOKEN}",
        f"bearer {ENTRA_TOKEN}",
        f"BEARER   {ENTRA_TOKEN}  ",
        ENTRA_TOKEN,  # Okta "HTTP Header" mode without the prefix
        f"Bearer Bearer {ENTRA_TOKEN}",  # Okta adds "Bearer " to a pasted "Bearer <t>"
    ],
)
def test_bearer_token_shapes(header: str) -> None:
    assert authenticator().verify(header) == IdpPrincipal("bearer-0", "bearer")


def test_scheme_names_are_case_insensitive_for_basic() -> None:
    header = basic_header("determined", OKTA_PASSWORD).replace("Basic", "bAsIc")
    assert authenticator().verify(header).name == "okta"


def test_every_static_token_is_accepted_under_its_own_name() -> None:
    auth = authenticator(bearer=("first-token-aaaaaaaaaa", "second-token-bbbbbbbbb"))
    assert auth.verify("Bearer second-token-bbbbbbbbb") == IdpPrincipal("bearer-1", "bearer")
    assert auth.verify("Bearer first-token-aaaaaaaaaa") == IdpPrincipal("bearer-0", "bearer")


def test_revoked_token_is_rejected_after_rebuild_from_config() -> None:
    before = authenticator(bearer=("old-token-cccccccccccc", ENTRA_TOKEN))
    assert before.verify("Bearer old-token-cccccccccccc").method == "bearer"
    after = authenticator(bearer=(ENTRA_TOKEN,))
    assert reason_of(lambda: after.verify("Bearer old-token-cccccccccccc")) is FailureReason.BAD_CREDENTIALS


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, FailureReason.MISSING),
        ("", FailureReason.MISSING),
        ("   ", FailureReason.MISSING),
        ("Bearer wrong-token-xxxxxxxxxxxx", FailureReason.BAD_CREDENTIALS),
        ("not-a-configured-raw-token", FailureReason.BAD_CREDENTIALS),
        ("Bearer a b", FailureReason.MALFORMED),
        (f"Digest {ENTRA_TOKEN}", FailureReason.UNSUPPORTED_SCHEME),
        (f"Token {ENTRA_TOKEN}", FailureReason.UNSUPPORTED_SCHEME),
    ],
)
def test_rejections_are_categorised(header: str | None, reason: FailureReason) -> None:
    assert reason_of(lambda: authenticator().verify(header)) is reason


def test_failure_never_carries_the_presented_credential() -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticator().verify(basic_header("determined", "hunter2-guess"))
    text = f"{caught.value!s} {caught.value!r} {caught.value.reason.detail}"
    assert "hunter2" not in text
    assert "determined" not in text


def test_every_configured_basic_credential_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    # Behavioural proxy for constant time: a match on the first entry still compares the rest.
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes | str, b: bytes | str) -> bool:
        calls.append(1)
        return real(a, b)  # type: ignore[arg-type]  # the stubs take str pairs or bytes pairs; both pass here

    monkeypatch.setattr(hmac, "compare_digest", counting)
    authenticator().verify(basic_header("determined", OKTA_PASSWORD))
    assert len(calls) == 4  # two credentials x (username, password)
    calls.clear()
    authenticator(bearer=("first-token-aaaaaaaaaa", "second-token-bbbbbbbbb")).verify(
        "Bearer first-token-aaaaaaaaaa"
    )
    assert len(calls) == 2


def test_schemes_follow_configuration() -> None:
    assert authenticator().schemes == ("Basic", "Bearer")
    assert Authenticator(AuthSettings(), FakeClock()).schemes == ()
