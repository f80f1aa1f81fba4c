"""Errors raised by the master client, built from the master's ``{"error": {...}}`` envelope (master-api.md §1.5).

MasterError
 ├── MasterBadRequest      400 (InvalidArgument, FailedPrecondition, OutOfRange)
 ├── MasterUnauthorized    401
 ├── MasterForbidden       403
 ├── MasterNotFound        404
 ├── MasterConflict        409
 ├── MasterThrottled       429, with retry_after
 ├── MasterInternal        500 (including the duplicate-username quirk, §4.7 step 10), and a 3xx redirect
 ├── MasterUnimplemented   501
 ├── MasterUnavailable     timeouts, connection errors, open circuit, 502/503/504, with retry_after
 ├── MasterProtocolError   a 200 body that does not match the contract
 ├── MasterMismatch        the session check refused the master: another cluster than the database's
 └── MasterUnverified      the session check could not decide, for a failure of the bridge's own (its database)
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

_SHOWN_LOCATION: Final = 200  # characters of a redirect's target kept in the message
# The master's own texts for a group it does not have (§4.13-4.16, §8.1): db.ErrNotFound ("not found") wrapped by
# GetGroup / UpdateGroup ("Error getting group <id>"), DeleteGroup ("Error deleting group <id>"), either for a
# personal group ("cannot get a personal group"), and the assignments call ("group does not exist or is a
# personal group", which names no group: it says the group is gone only for a call listing one).
_UNKNOWN_GROUP: Final = re.compile(
    r"(?:Error (?:getting|deleting) group -?\d+|cannot get a personal group"
    r"|group does not exist or is a personal group): not found"
)
# The master's own text for a group write adding a user it does not have (§4.11 step 5, §4.14 step 3, §8.1): its
# usergroup package wraps db.ErrNotFound, naming no user.
_UNKNOWN_MEMBER: Final = re.compile(
    r"Error adding \d+ user\(s\) to \d+ group\(s\) because one or more of them were not found: not found"
)
_NO_MEMBER_REMOVED: Final = re.compile(
    r"Error removing \d+ user\(s\) from \d+ group\(s\) because none were members of these groups: not found"
)
# The master's own texts for a user it does not have (§4.5-4.9, §8.1): its "user" NotFound error, to which a
# master with the RBAC UI enabled appends ", please check your permissions." (it says the same for a user the
# caller may not see, which for the bridge's admin account means one that does not exist).
_UNKNOWN_USER: Final = frozenset({"user not found", "user not found, please check your permissions."})


class MasterError(Exception):
    """A failed call to the master; ``message`` is the envelope's ``error.error`` text."""

    default_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        grpc_code: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = self.default_status if http_status is None else http_status
        self.grpc_code = grpc_code
        self.reason = reason

    def __repr__(self) -> str:
        """Class, status, code and message; envelopes carry no secrets (§8.1)."""
        return (
            f"{type(self).__name__}(http_status={self.http_status}, grpc_code={self.grpc_code}, "
            f"message={self.message!r})"
        )

    def is_duplicate_username(self) -> bool:
        """Duplicate username: 500 on create (§4.7 step 10) or a unique-key 500 on rename (§4.9 step 6)."""
        return self.http_status == 500 and (
            "user already exists" in self.message or "users_username_key" in self.message
        )

    def is_duplicate_group(self) -> bool:
        """Group name already taken on create or rename (§4.11 step 4, §4.14 step 2)."""
        return (
            self.http_status == 409
            and "row already exists" in self.message
            and ("Error creating group" in self.message or "name: row already exists" in self.message)
        )

    def is_unknown_user(self) -> bool:
        """The master's own answer that it has no such user (§4.5, §8.1: 404 `user not found`, or with RBAC
        `user not found, please check your permissions.`), as opposed to any other 404, such as a proxy's page for
        a route it cannot reach. The whole text must match, as for groups: a page that merely contains the words
        (a proxy's "user not found" help text) says nothing about the master's user."""
        return self.http_status == 404 and self.message in _UNKNOWN_USER

    def is_unknown_group(self) -> bool:
        """The master's own answer that it has no such group (§4.13, §4.15: 404 `Error getting group 99: not
        found`, `Error deleting group 99: not found`, a personal group's, or assignments' for a one-group call),
        as opposed to any other 404, such as a proxy's page or a wrong path's. The whole text must match: the
        master sends nothing else, and an excerpt of someone else's page that merely contains it is not it."""
        return self.http_status == 404 and _UNKNOWN_GROUP.fullmatch(self.message) is not None

    def is_unknown_member(self) -> bool:
        """The master's own answer that a group create or update added a user it does not have (§4.11, §4.14:
        404 `Error adding 1 user(s) to 1 group(s) because one or more of them were not found: not found`); the
        whole text, as for `is_unknown_group`."""
        return self.http_status == 404 and _UNKNOWN_MEMBER.fullmatch(self.message) is not None

    def is_no_member_removed(self) -> bool:
        """The master's own answer that a removal found none of the listed users in the group (§4.14 step 4,
        §4.16: 404 `Error removing 1 user(s) from 1 group(s) because none were members of these groups: not
        found`); the whole text, as for `is_unknown_group`. Callers take it as "already removed", so another
        404 that merely contains the words (a proxy's page) must not pass for it."""
        return self.http_status == 404 and _NO_MEMBER_REMOVED.fullmatch(self.message) is not None


class MasterBadRequest(MasterError):
    """400: validation failures, bad pagination, FailedPrecondition (§1.5 table)."""

    default_status = 400


class MasterUnauthorized(MasterError):
    """401: the bridge's own credential is missing, invalid, expired or revoked (§1.2)."""

    default_status = 401


class MasterForbidden(MasterError):
    """403: the bridge account lacks a permission or is inactive (§1.2, §5.6)."""

    default_status = 403


class MasterNotFound(MasterError):
    """404: unknown user, group or token."""

    default_status = 404


class MasterConflict(MasterError):
    """409: duplicate group name, or an existing member added (§4.11, §4.14)."""

    default_status = 409


class MasterThrottled(MasterError):
    """429: the master (or a proxy in front of it) asks the bridge to slow down."""

    default_status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class MasterInternal(MasterError):
    """500: internal errors, including the master's duplicate-username quirk."""

    default_status = 500


class MasterUnimplemented(MasterError):
    """501: unknown route or method (§1.1); a bridge bug, or a username containing ``/`` (§4.6)."""

    default_status = 501


class MasterUnavailable(MasterError):
    """The master could not be reached or answered in time; retry later."""

    default_status = 503

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class MasterProtocolError(MasterError):
    """The master answered 200 with a body that violates the contract."""

    default_status = 502


class MasterMismatch(MasterError):
    """The master is another cluster than the one the bridge's database belongs to (its ``clusterId`` differs).

    Raised before any authenticated call of a session the check refused, so nothing is sent to that master.
    Not a transient failure: retrying reaches the same master until an operator points the bridge back at its
    own, or rebinds the database (``scim-bridge db rebind-master``).
    """

    default_status = 503

    def __init__(self, bound: str, found: str) -> None:
        super().__init__(f"the master is cluster {found!r}; this database belongs to cluster {bound!r}")
        self.bound = bound
        self.found = found


class MasterUnverified(MasterError):
    """The session check could not tell which cluster the master is, for a failure of the bridge's own (its
    database unreadable or busy), so nothing was sent with the session.

    Not the master's failure: the client neither retries it nor counts it toward the circuit breaker, which
    would otherwise open on a local disk problem and refuse the IdP's writes after it is gone. ``transient``
    says whether asking again soon may succeed (a busy database) or not.
    """

    default_status = 503

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


_BY_STATUS: dict[int, type[MasterError]] = {
    400: MasterBadRequest,
    401: MasterUnauthorized,
    403: MasterForbidden,
    404: MasterNotFound,
    409: MasterConflict,
    500: MasterInternal,
    501: MasterUnimplemented,
}
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


def parse_envelope(body: bytes) -> tuple[int | None, str | None, str]:
    """Return (grpc code, reason, message) from an error body; non-JSON bodies keep a short text excerpt."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None, _excerpt(body)
    if isinstance(doc, dict):
        inner = doc.get("error")
        if isinstance(inner, dict):
            code = inner.get("code")
            reason = inner.get("reason")
            text = inner.get("error")
            return (
                code if isinstance(code, int) and not isinstance(code, bool) else None,
                reason if isinstance(reason, str) else None,
                text if isinstance(text, str) else "",
            )
        # Echo-only routes answer {"message": ...} (§1.5, "Other error formats").
        message = doc.get("message")
        if isinstance(message, str):
            return None, None, message
    return None, None, _excerpt(body)


def error_from_response(status: int, body: bytes, retry_after: float | None = None) -> MasterError:
    """Build the MasterError subclass for a non-200 answer."""
    code, reason, message = parse_envelope(body)
    if not message:
        message = f"HTTP {status}"
    if status == 429 or status in UNAVAILABLE_STATUSES:
        retry_later = MasterThrottled if status == 429 else MasterUnavailable
        return retry_later(
            message, retry_after=retry_after, http_status=status, grpc_code=code, reason=reason
        )
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = MasterBadRequest if 400 <= status < 500 else MasterInternal
    return cls(message, http_status=status, grpc_code=code, reason=reason)


def _excerpt(body: bytes) -> str:
    # Non-JSON bodies come from proxies (HTML error pages); keep a bounded, printable excerpt.
    text = body[:200].decode("utf-8", errors="replace").strip()
    return " ".join(text.split())


def redirect_error(status: int, location: str | None, path: str) -> MasterInternal:
    """A 3xx to the request for ``path``: the transport does not follow redirects, so say where the master
    pointed and what to set instead (typically master.url is http:// and the master redirects to https://)."""
    target = _redirect_target(location)
    if target is None:
        return MasterInternal(
            f"master answered {status} redirect without a usable Location; the bridge does not follow "
            "redirects: set master.url to the master's final URL",
            http_status=status,
        )
    base = target[: -len(path)] if path and target.endswith(path) and len(target) > len(path) else None
    advice = f"set master.url to {base}" if base else "set master.url to the master's final URL"
    return MasterInternal(
        f"master answered {status} redirect to {target}; the bridge does not follow redirects: {advice}",
        http_status=status,
    )


def _redirect_target(location: str | None) -> str | None:
    """The Location without userinfo, query or fragment (they may carry credentials or tokens), printable."""
    if not location:
        return None
    try:
        parts = urlsplit(location.strip())
    except ValueError:
        return None
    host = parts.netloc.rpartition("@")[2]
    shown = f"{parts.scheme}://{host}{parts.path}" if parts.scheme and host else parts.path
    shown = "".join(ch for ch in shown if ch.isprintable() and not ch.isspace())[:_SHOWN_LOCATION]
    return shown or None
