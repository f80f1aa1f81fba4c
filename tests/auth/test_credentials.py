"""The Authenticator alone: every accepted header shape and every rejection category."""

from __future__ import annotations

import gc
import hmac
from base64 import b64encode
from collections.abc import Callable
from types import FunctionType, ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.auth.credentials import Authenticator
from bridge.auth.failures import AuthenticationFailed, FailureReason
from bridge.auth.principal import IdpPrincipal
from bridge.config import AuthSettings, BasicCredential, Secret
from tests.auth.fakes import (
    CLIENT_SECRET,
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


@pytest.fixture
def compare_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per ``hmac.compare_digest`` call from here on (the real comparison still runs)."""
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes | str, b: bytes | str) -> bool:
        calls.append(1)
        return real(a, b)  # type: ignore[arg-type]  # the stubs take str pairs or bytes pairs; both pass here

    monkeypatch.setattr(hmac, "compare_digest", counting)
    return calls


def test_every_configured_basic_credential_is_compared(compare_calls: list[int]) -> None:
    # Behavioural proxy for constant time: a match on the first entry still compares the rest.
    calls = compare_calls
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


# Tokens as a header carries them: no whitespace (the header is split on it), any other character.
TOKENS = st.text(st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1, max_size=40)


def outcome(auth: Authenticator, header: str) -> IdpPrincipal | FailureReason:
    try:
        return auth.verify(header)
    except AuthenticationFailed as exc:
        return exc.reason


@given(configured=st.lists(TOKENS, min_size=1, max_size=3, unique=True), others=st.lists(TOKENS, max_size=3))
def test_a_kept_bearer_match_answers_as_the_digests_do(configured: list[str], others: list[str]) -> None:
    """An Authenticator that has matched every configured token (each kept) answers every header as a new one
    does: the configured tokens, near misses of them (a character more or less, the key's own suffix) and
    others."""
    warm = authenticator(bearer=tuple(configured))
    for token in configured:
        warm.verify(f"Bearer {token}")
    near = [v for t in configured for v in (t + "x", t[:-1], t + "\x00", "\x00" + t) if v]
    for token in [*configured, *near, *others]:
        header = f"Bearer {token}"
        assert outcome(warm, header) == outcome(authenticator(bearer=tuple(configured)), header)


def reachable_text(root: object) -> list[str | bytes]:
    """Every str and bytes reachable from `root` through containers and instances (not through code, types or
    modules: the test's own constants would be found there)."""
    seen: set[int] = set()
    found: list[str | bytes] = []
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, ModuleType, FunctionType)):
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes)):
            found.append(obj)
            continue
        stack.extend(gc.get_referents(obj))
    return found


def test_only_matched_bearer_tokens_are_kept_and_never_as_text() -> None:
    valid, wrong = "first-token-aaaaaaaaaa", "wrong-guess-token-zzzzzz"
    auth = authenticator(bearer=(valid, "second-token-bbbbbbbbb"))
    for _ in range(3):
        assert reason_of(lambda: auth.verify(f"Bearer {wrong}")) is FailureReason.BAD_CREDENTIALS
        assert auth.verify(f"Bearer {valid}") == IdpPrincipal("bearer-0", "bearer")
    assert len(auth._bearer_keys) == 1  # its bound is the point of this test
    texts = reachable_text(auth)
    assert texts  # the walk reaches the Authenticator's state (names, digests)
    for token in (valid, wrong):
        assert not any(token in t for t in texts if isinstance(t, str))
        assert not any(token.encode() in t for t in texts if isinstance(t, bytes))


def test_a_kept_bearer_match_skips_the_digests_and_a_miss_still_compares_them_all(
    compare_calls: list[int],
) -> None:
    calls = compare_calls
    auth = authenticator(bearer=("first-token-aaaaaaaaaa", "second-token-bbbbbbbbb"))
    auth.verify("Bearer first-token-aaaaaaaaaa")
    assert len(calls) == 2
    auth.verify("Bearer first-token-aaaaaaaaaa")
    assert len(calls) == 2  # kept: no digest
    reason_of(lambda: auth.verify("Bearer first-token-aaaaaaaaab"))
    assert len(calls) == 4  # a miss: every configured digest compared, as before


def test_oauth_access_tokens_are_not_kept_and_expire() -> None:
    clock = FakeClock()
    auth = Authenticator(auth_settings(ttl=60), clock)
    issued = auth.oauth.issue("entra-client", CLIENT_SECRET, None)
    assert auth.verify(f"Bearer {issued.access_token}").method == "oauth"
    assert auth.verify(f"Bearer {issued.access_token}").method == "oauth"
    clock.advance(61)
    assert reason_of(lambda: auth.verify(f"Bearer {issued.access_token}")) is FailureReason.EXPIRED_TOKEN
