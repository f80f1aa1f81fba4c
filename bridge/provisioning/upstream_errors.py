"""MasterError → ScimError, per operation (master-api.md §7.3 item 2); the only place the two trees meet."""

from __future__ import annotations

import enum
import math

import structlog

from bridge.determined import (
    MasterBadRequest,
    MasterConflict,
    MasterError,
    MasterForbidden,
    MasterMismatch,
    MasterNotFound,
    MasterThrottled,
    MasterUnauthorized,
    MasterUnavailable,
    MasterUnverified,
)
from bridge.provisioning.consistency import store_busy, store_unavailable
from bridge.scim.errors import (
    InternalError,
    InvalidValue,
    NotFound,
    ScimError,
    ServiceUnavailable,
    TooManyRequests,
    Uniqueness,
)
from bridge.store import StoreUnavailable

_log = structlog.get_logger("bridge.provisioning")
DEFAULT_RETRY_AFTER = 5
# An operator has to act first: an IdP retrying every few seconds only fills the logs.
MISMATCH_RETRY_AFTER = 60


class Operation(enum.Enum):
    """What the bridge was doing when the master failed; decides how a 404 or 409 reads to the IdP."""

    CREATE_USER = "create_user"
    UPDATE_USER = "update_user"
    DELETE_USER = "delete_user"
    CREATE_GROUP = "create_group"
    UPDATE_GROUP = "update_group"
    DELETE_GROUP = "delete_group"


# The operations on one existing group or user: only the master's own "no such group" / "user not found" for it
# is a SCIM 404. A group create names no existing group, so no 404 of the master's means "gone" for it.
_GROUP_OPERATIONS = frozenset({Operation.UPDATE_GROUP, Operation.DELETE_GROUP})
_USER_OPERATIONS = frozenset({Operation.CREATE_USER, Operation.UPDATE_USER, Operation.DELETE_USER})
# Group writes that add members: the master's 404 for an added user it lacks is the IdP's bad value.
_MEMBER_WRITES = frozenset({Operation.CREATE_GROUP, Operation.UPDATE_GROUP})


def _retry_after(seconds: float | None) -> int:
    if seconds is None or seconds <= 0:
        return DEFAULT_RETRY_AFTER
    return max(1, math.ceil(seconds))


def to_scim_error(err: MasterError, op: Operation) -> ScimError:
    """The SCIM answer for a master failure during `op`; details never echo secrets (envelopes carry none)."""
    if isinstance(err, MasterMismatch):
        # Nothing was sent to that master; the IdP retries, and succeeds once an operator has acted.
        return ServiceUnavailable(
            "The Determined master is not the cluster this bridge's database belongs to; the operator must"
            " check master.url (scim-bridge logs master.identity_mismatch).",
            retry_after=MISMATCH_RETRY_AFTER,
        )
    if isinstance(err, MasterUnverified):
        # The bridge's own database failed while it checked the master's identity; nothing was sent.
        if err.transient:
            cause = err.__cause__
            return store_unavailable(cause) if isinstance(cause, StoreUnavailable) else store_busy()
        return InternalError("The bridge could not read which Determined cluster its database belongs to.")
    if isinstance(err, MasterUnavailable):
        return ServiceUnavailable(
            "The Determined master is unavailable; retry later.", retry_after=_retry_after(err.retry_after)
        )
    if isinstance(err, MasterThrottled):
        return TooManyRequests(
            "The Determined master is rate limiting; retry later.", retry_after=_retry_after(err.retry_after)
        )
    if isinstance(err, MasterUnauthorized | MasterForbidden):
        # The bridge's own credential or rights are wrong: an operator problem, not the IdP's (§7.3 item 2).
        _log.error(
            "auth.master_rejected", operation=op.value, http_status=err.http_status, reason=err.message
        )
        return InternalError("The bridge could not authenticate to the Determined master.")
    if err.is_duplicate_username():
        return Uniqueness("userName is already taken on the Determined master.")
    if isinstance(err, MasterConflict):
        if err.is_duplicate_group():
            return Uniqueness("displayName is already taken by another Determined group.")
        return InternalError("The Determined master reported a conflict the bridge did not expect.")
    if isinstance(err, MasterBadRequest):
        return InvalidValue(f"The Determined master rejected the value: {err.message}")
    if isinstance(err, MasterNotFound):
        if op in _MEMBER_WRITES and err.is_unknown_member():
            return InvalidValue("A member does not exist on the Determined master.")
        if _is_masters_not_found(err, op):
            return NotFound("The resource no longer exists on the Determined master.")
        # Not the master's own "no such group" / "user not found" for what `op` names (a proxy's page, a wrong
        # path, or any 404 on a group create, which names no existing group): a 404 would tell the IdP the
        # resource is gone, and it would stop managing (or re-create) one the master still has, or take a user
        # DELETE as done while the user can still log in. A 500 is retried.
    _log.error("master.unexpected_error", operation=op.value, http_status=err.http_status, reason=err.message)
    return InternalError("The Determined master failed unexpectedly.")


def contradicted_not_found(err: MasterNotFound, op: Operation, **context: object) -> ScimError:
    """The SCIM answer for a user write whose master said "user not found" while a GET of the user right after
    found it. `to_scim_error` would answer 404, which the IdP reads as "deleted": it re-creates the user into a
    409 (the userName still mapped), or takes a DELETE as done while the account can still log in. The two
    answers contradict each other and the write applied nothing, so a 500: the IdP retries, and the retry's own
    answers decide. Logged as master.not_found_contradicted with `context` (the user's ids)."""
    _log.error("master.not_found_contradicted", operation=op.value, reason=err.message, **context)
    return InternalError(
        "The Determined master answered 'user not found' for a user it then returned; nothing was changed, retry."
    )


def _is_masters_not_found(err: MasterNotFound, op: Operation) -> bool:
    """Whether `err` is the master's own answer that the group or user `op` names does not exist."""
    if op in _GROUP_OPERATIONS:
        return err.is_unknown_group()
    if op in _USER_OPERATIONS:
        return err.is_unknown_user()
    return False
