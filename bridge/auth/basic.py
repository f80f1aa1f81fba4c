"""RFC 7617 Basic credentials: decoding the header value, and comparing pairs in constant time."""

from __future__ import annotations

import binascii
import hashlib
import hmac
from base64 import b64decode
from collections.abc import Iterable

from bridge.auth.failures import AuthenticationFailed, FailureReason


def decode_basic(encoded: str) -> tuple[str, str]:
    """Split ``base64(user:password)`` into its parts; anything undecodable is MALFORMED."""
    try:
        raw = b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthenticationFailed(FailureReason.MALFORMED) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # RFC 7617 §2.1: without a charset parameter the encoding is unspecified; latin-1 never fails.
        text = raw.decode("latin-1")
    user, sep, password = text.partition(":")
    if not sep:
        raise AuthenticationFailed(FailureReason.MALFORMED)
    return user, password


def digest(value: str) -> bytes:
    """SHA-256 of a credential part, so comparisons run over equal lengths and leak no length."""
    return hashlib.sha256(value.encode("utf-8")).digest()


def match_pair(user: str, password: str, configured: Iterable[tuple[bytes, bytes, str]]) -> str | None:
    """Return the name of the entry whose (user digest, password digest) matches, else None."""
    return match_digests(digest(user), digest(password), configured)


def match_digests(
    user_digest: bytes, password_digest: bytes, configured: Iterable[tuple[bytes, bytes, str]]
) -> str | None:
    """`match_pair` over digests already made.

    Every entry is compared on both parts with no early exit, so timing reveals neither which entry
    nor which part failed.
    """
    found: str | None = None
    for want_user, want_password, name in configured:
        user_ok = hmac.compare_digest(user_digest, want_user)
        password_ok = hmac.compare_digest(password_digest, want_password)
        if user_ok & password_ok and found is None:
            found = name
    return found
