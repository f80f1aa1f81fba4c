"""Framework-free authentication failures; the web layer maps them to HTTP answers.

Neither exception ever carries presented credential text, so they are safe to log and render.
"""

from __future__ import annotations

import enum


class FailureReason(enum.Enum):
    """Why a request was not authenticated: a category for logs and a safe detail for the IdP."""

    MISSING = "missing"
    MALFORMED = "malformed"
    UNSUPPORTED_SCHEME = "unsupported_scheme"
    BAD_CREDENTIALS = "bad_credentials"
    EXPIRED_TOKEN = "expired_token"  # noqa: S105 - a failure category, not a secret

    @property
    def detail(self) -> str:
        """A message safe to show the client: it names the category, never the credential."""
        if self is FailureReason.MISSING:
            return "Authentication required."
        if self is FailureReason.MALFORMED:
            return "Malformed Authorization header."
        if self is FailureReason.UNSUPPORTED_SCHEME:
            return "Unsupported authorization scheme; use Basic or Bearer."
        if self is FailureReason.EXPIRED_TOKEN:
            return "The access token has expired."
        return "Invalid credentials."


class AuthenticationFailed(Exception):
    """The Authorization header did not identify a configured client."""

    def __init__(self, reason: FailureReason) -> None:
        self.reason = reason
        super().__init__(reason.value)


class InvalidClient(Exception):
    """RFC 6749 §5.2 ``invalid_client``: the token endpoint could not authenticate the client."""


class TooManyFailures(Exception):
    """An address exceeded its failed-attempt budget; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"retry after {retry_after}s")
