"""Master first, then store, with an intent journalled around both (conventions §4.6) and an audit line per write."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from bridge.determined import MasterError, MasterUnavailable, calls_made, start_counting
from bridge.scim.errors import InternalError, PreconditionFailed, ScimError, ServiceUnavailable
from bridge.scim.etags import etag_for, if_match_ok
from bridge.store import AuditLine, Finish, IntentState, Store, StoreError, VersionConflict
from bridge.store.errors import StoreUnavailable

T = TypeVar("T")
M = TypeVar("M")
_log = structlog.get_logger("bridge.provisioning")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asked: the request id and the authenticated IdP client, for intents and the audit log."""

    request_id: str = "-"
    client: str = "-"


@dataclass(slots=True)
class AuditScope:
    """Mutable per-operation audit details the service fills in as it learns them."""

    operation: str
    resource_type: str
    resource_id: str | None = None
    outcome: str = "ok"
    extra: dict[str, object] = field(default_factory=dict)
    # Set once the store write that finished the operation's intent also wrote its "ok" audit line.
    recorded: bool = False


# The operation `Journal.audited` is recording in this context, so `Journal.write` can put the audit line
# into the store write that finishes the intent (one transaction less per request) instead of after it.
_SCOPE: ContextVar[AuditScope | None] = ContextVar("audit_scope", default=None)


def digest(payload: object) -> str:
    """A stable digest of a master payload for the intent journal (the payload itself is never stored)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_if_match(header: str | None, version: int) -> None:
    """RFC 7644 §3.14: a write with a stale If-Match answers 412 and changes nothing."""
    if not if_match_ok(header, etag_for(version)):
        raise PreconditionFailed("The resource changed since that ETag was issued.")


@asynccontextmanager
async def store_errors() -> AsyncIterator[None]:
    """Turn store failures the IdP can act on into SCIM errors (busy database → 503, stale version → 412)."""
    try:
        yield
    except StoreUnavailable:
        raise ServiceUnavailable("The mapping database is busy; retry later.", retry_after=2) from None
    except VersionConflict:
        raise PreconditionFailed("The resource changed concurrently; fetch it again.") from None


class PartialMasterWrite(Exception):
    """A multi-call master operation failed after an earlier call of it was applied."""

    def __init__(self, cause: MasterError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Journal:
    """Runs master writes and the store writes that follow them as one recorded intention."""

    __slots__ = ("_store",)

    def __init__(self, store: Store) -> None:
        self._store = store

    @asynccontextmanager
    async def audited(
        self, caller: Caller, operation: str, resource_type: str, resource_id: str | None = None
    ) -> AsyncIterator[AuditScope]:
        """Count master calls and append one audit line whatever the outcome."""
        start_counting()
        scope = AuditScope(operation, resource_type, resource_id=resource_id)
        token = _SCOPE.set(scope)
        try:
            async with store_errors():
                yield scope
        except ScimError as exc:
            scope.outcome = f"error:{exc.status}"
            raise
        except BaseException:
            scope.outcome = "error:500"
            raise
        finally:
            _SCOPE.reset(token)
            made = calls_made()
            # Fields for the canonical request line (conventions §4.4): operation, resource, master calls.
            structlog.contextvars.bind_contextvars(op=operation, resource=resource_type, master_calls=made)
            if not (scope.recorded and scope.outcome == "ok"):
                await self._append_audit(caller, scope, made)

    async def _append_audit(self, caller: Caller, scope: AuditScope, made: int) -> None:
        try:
            await self._store.append_audit(
                request_id=caller.request_id,
                client=caller.client,
                operation=scope.operation,
                resource_type=scope.resource_type,
                resource_id=scope.resource_id,
                master_calls=made,
                outcome=scope.outcome,
            )
        except StoreError:
            _log.exception("audit.write_failed", operation=scope.operation, resource_type=scope.resource_type)

    async def write(
        self,
        caller: Caller,
        *,
        operation: str,
        resource_type: str,
        target: str,
        payload: object,
        master: Callable[[], Awaitable[M]],
        store: Callable[[M, Finish], Awaitable[T]],
        compensate: Callable[[M], Awaitable[object]] | None = None,
        on_master_error: Callable[[MasterError], ScimError],
    ) -> T:
        """Begin an intent, call the master, then the store (which finishes the intent in its transaction and,
        inside `audited`, also writes the request's "ok" audit line there).

        A master failure marks the intent rolled back, unless the write may have landed (timeout after
        sending), when it stays pending for reconciliation. A store failure after master success is
        compensated when possible; otherwise the intent stays pending, so the two never disagree silently.
        """
        intent = await self._store.begin_intent(
            request_id=caller.request_id,
            operation=operation,
            resource_type=resource_type,
            target=target,
            payload_digest=digest(payload),
        )
        try:
            result = await master()
        except PartialMasterWrite as partial:
            # Part of it reached the master: the intent stays pending so reconciliation finishes or undoes it.
            _log.warning("master.partial_write", operation=operation, target=target, intent=intent)
            raise on_master_error(partial.cause) from None
        except MasterError as err:
            if not isinstance(err, MasterUnavailable):
                await self._finish_quietly(intent, IntentState.ROLLED_BACK)
            raise on_master_error(err) from None
        except ScimError:
            # Refused by the bridge's own checks before any master write was sent.
            await self._finish_quietly(intent, IntentState.ROLLED_BACK)
            raise
        scope = _SCOPE.get()
        audit = None
        if scope is not None:
            audit = AuditLine(
                request_id=caller.request_id,
                client=caller.client,
                operation=scope.operation,
                resource_type=scope.resource_type,
                resource_id=scope.resource_id or target,
                master_calls=calls_made(),
                outcome="ok",
            )
        try:
            written = await store(result, Finish(intent, audit))
        except ScimError:
            raise
        except Exception:  # noqa: BLE001 - any store failure after a master write must be journalled
            _log.exception(
                "store.write_failed_after_master", operation=operation, target=target, intent=intent
            )
            if compensate is not None:
                try:
                    await compensate(result)
                except Exception:  # noqa: BLE001 - a failed undo leaves the intent pending for reconcile
                    _log.exception(
                        "master.compensation_failed", operation=operation, target=target, intent=intent
                    )
                else:
                    await self._finish_quietly(intent, IntentState.ROLLED_BACK)
                    _log.warning("master.compensated", operation=operation, target=target, intent=intent)
            raise InternalError(
                "The change reached Determined but could not be recorded; it is journalled for reconciliation."
            ) from None
        if scope is not None:
            scope.recorded = True
        return written

    async def _finish_quietly(self, intent: int, state: IntentState) -> None:
        try:
            await self._store.finish_intent(intent, state)
        except StoreError:
            _log.exception("intent.finish_failed", intent=intent)
