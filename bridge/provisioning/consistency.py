"""Master first, then store, with an intent journalled around both (conventions §4.6) and an audit line per write."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, NamedTuple, TypeVar

import orjson
import structlog

from bridge.determined import (
    MasterError,
    MasterProtocolError,
    MasterUnavailable,
    calls_made,
    start_counting,
)
from bridge.log_fields import bind_log_fields
from bridge.provisioning.ended import EndedIntents
from bridge.scim.errors import InternalError, PreconditionFailed, ScimError, ServiceUnavailable, Uniqueness
from bridge.scim.etags import etag_for, if_match_ok
from bridge.store import AuditLine, Finish, IntentState, Store, StoreError, VersionConflict
from bridge.store.errors import StoreCorrupt, StoreFailed, StoreUnavailable, StoreUnwritable

T = TypeVar("T")
M = TypeVar("M")
# Seconds an IdP is asked to wait when the database cannot be written: an operator's fix takes minutes, and a
# retry every two seconds (as for a busy database) would only fill the log with 503s meanwhile.
UNWRITABLE_RETRY_AFTER: Final = 30
_log = structlog.get_logger("bridge.provisioning")


class Caller(NamedTuple):
    """Who asked: the request id and the authenticated IdP client, for intents and the audit log (a named
    tuple, built once per write: immutable, in a third of a frozen dataclass's instructions)."""

    request_id: str = "-"
    client: str = "-"


@dataclass(slots=True)
class AuditScope:
    """Mutable per-operation audit details the service fills in as it learns them."""

    operation: str
    resource_type: str
    resource_id: str | None = None
    # "ok", "ok:<drift kind>" when it succeeded on a stale mapping, or "error:<status>" (then
    # "error:<status>:<drift>" when `drift` names what the failed write found and acted on).
    outcome: str = "ok"
    drift: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    # Set once the store write that finished the operation's intent also wrote its "ok" audit line.
    recorded: bool = False
    # (retry key, intent id, whether its master write may still land) of each intent the operation leaves
    # pending, for the IdP's retry (ended.py). A tuple: the default costs no allocation on the success path.
    left: tuple[tuple[str, int, bool], ...] = ()


# The operation `Journal.audited` is recording in this context, so `Journal.write` can put the audit line
# into the store write that finishes the intent (one transaction less per request) instead of after it.
_SCOPE: ContextVar[AuditScope | None] = ContextVar("audit_scope", default=None)


# Digests journalled before orjson: sha256 of this encoder's text (json.dumps would build a new encoder per
# call). An intent may stay pending across an upgrade, so they are still compared that way (`digest_matches`).
_LEGACY_ENCODER: Final = json.JSONEncoder(sort_keys=True, default=str)
# Digests journalled since carry this prefix: sha256 of orjson's text with sorted keys (~10k instructions per
# digest against ~27k, one per write).
_ORJSON_DIGEST: Final = "2:"


def _legacy_digest(payload: object) -> str:
    return hashlib.sha256(_LEGACY_ENCODER.encode(payload).encode()).hexdigest()


def digest(payload: object) -> str:
    """A stable digest of a master payload for the intent journal (the payload itself is never stored)."""
    try:
        text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # What orjson refuses (integers beyond 64 bits, lone surrogates, keys that are not text) is digested
        # the old way, which `digest_matches` recognises by its missing prefix.
        return _legacy_digest(payload)
    return _ORJSON_DIGEST + hashlib.sha256(text).hexdigest()


def digest_matches(payload: object, journalled: str) -> bool:
    """True if `journalled` (an intent's payload digest, of either kind) is the digest of `payload`."""
    if journalled.startswith(_ORJSON_DIGEST):
        return digest(payload) == journalled
    return _legacy_digest(payload) == journalled


def check_if_match(header: str | None, version: int) -> None:
    """RFC 7644 §3.14: a write with a stale If-Match answers 412 and changes nothing."""
    if not if_match_ok(header, etag_for(version)):
        raise PreconditionFailed("The resource changed since that ETag was issued.")


def store_errors() -> _StoreErrors:
    """Turn store failures into SCIM errors (busy database → 503, stale version → 412, a damaged one → 500)."""
    return _STORE_ERRORS


def store_busy() -> ServiceUnavailable:
    """The answer while the mapping database is busy (another process's lock)."""
    return ServiceUnavailable("The mapping database is busy; retry later.", retry_after=2)


def _refusal(exc: StoreUnavailable) -> str:
    """What kept the store from a write, for a log line: the unwritable condition, or a lock held elsewhere."""
    return exc.condition if isinstance(exc, StoreUnwritable) else "busy"


def store_unavailable(exc: StoreUnavailable) -> ServiceUnavailable:
    """The answer to a busy database, or to one whose file or disk refuses writes: the IdP retries later either
    way, but the second waits for an operator (a mount, permissions, space), so it is told to wait longer and
    `detail` names the condition (never a path)."""
    if isinstance(exc, StoreUnwritable):
        return ServiceUnavailable(
            f"The mapping database cannot be written ({exc.condition}); the operator must fix it. Retry later.",
            retry_after=UNWRITABLE_RETRY_AFTER,
        )
    return store_busy()


def scim_store_error(exc: BaseException | None) -> ScimError | None:
    """The SCIM error a store failure becomes (as `store_errors` raises it); None for anything else."""
    if isinstance(exc, StoreUnavailable):
        return store_unavailable(exc)
    if isinstance(exc, VersionConflict):
        return PreconditionFailed("The resource changed concurrently; fetch it again.")
    if isinstance(exc, StoreCorrupt | StoreFailed):
        # No retry mends it (a damaged file): the store logged store.corrupt or store.failed; a 500 here spares
        # the log an unhandled_error traceback of it.
        return InternalError("The bridge's mapping database failed; the operator must check it.")
    return None


class _StoreErrors:
    """`store_errors` as a class: several per request, and an async-generator context manager costs several
    times more per use (one stateless instance serves every block). A plain ``with``: it awaits nothing, and
    ``async with`` made two coroutines per use (~2k instructions on a GET)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, _type: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if exc is None:
            return  # most blocks: no isinstance checks against the store's errors
        translated = scim_store_error(exc)
        if translated is not None:
            raise translated from None


_STORE_ERRORS: Final = _StoreErrors()


def _left_pending(retry_key: str, intent: int, landing: bool) -> None:
    """Note an intent this request leaves pending on its audit scope, so `_Audited` hands it to `EndedIntents`
    when the request ends (a write outside `Journal.audited`, with no scope, is no request of the IdP's).
    `landing`: a master call of it got no answer (a timeout, a lost answer, the request cancelled during it), so
    the master may still apply it after the request has ended; otherwise every call it sent was answered."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.left = (*scope.left, (retry_key, intent, landing))


class MappedMeanwhile(Exception):
    """Raised by a create's compensation instead of undoing its new master object: another writer mapped that
    object after the create's store write failed, so the undo would break their mapping (`Journal.write`)."""

    def __init__(self, what: str, holder_key: str) -> None:
        super().__init__(what)
        self.what = what
        # The lock key of the mapping that holds the object (locks.user_key / group_key).
        self.holder_key = holder_key


class PartialMasterWrite(Exception):
    """A multi-call master operation failed after an earlier call of it was applied."""

    def __init__(self, cause: MasterError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Journal:
    """Runs master writes and the store writes that follow them as one recorded intention."""

    __slots__ = ("_ended", "_store")

    def __init__(self, store: Store, ended: EndedIntents) -> None:
        self._store = store
        self._ended = ended

    def audited(
        self, caller: Caller, operation: str, resource_type: str, resource_id: str | None = None
    ) -> _Audited:
        """Count master calls and append one audit line whatever the outcome (``async with``; store
        failures inside turn into SCIM errors as in `store_errors`)."""
        return _Audited(self, caller, AuditScope(operation, resource_type, resource_id=resource_id))

    async def _finish_audit(self, caller: Caller, scope: AuditScope) -> None:
        made = calls_made()
        # Fields for the canonical request line (conventions §4.4): operation, resource, master calls.
        bind_log_fields(op=scope.operation, resource=scope.resource_type, master_calls=made)
        if not (scope.recorded and not scope.outcome.startswith("error:")):
            await self._append_audit(caller, scope, made)

    async def _append_audit(self, caller: Caller, scope: AuditScope, made: int) -> None:
        try:
            await self._store.append_audit(
                AuditLine(
                    request_id=caller.request_id,
                    client=caller.client,
                    operation=scope.operation,
                    resource_type=scope.resource_type,
                    resource_id=scope.resource_id,
                    master_calls=made,
                    outcome=scope.outcome,
                )
            )
        except StoreUnavailable as exc:
            # Busy or unwritable: the request's 503 and store.unwritable already say so, and a traceback per
            # refused request would fill the log (on a full disk, perhaps the very disk that is full).
            _log.warning(
                "audit.write_refused",
                operation=scope.operation,
                resource_type=scope.resource_type,
                reason=_refusal(exc),
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
        retry_key: str,
    ) -> T:
        """Begin an intent, call the master, then the store (which finishes the intent in its transaction and,
        inside `audited`, also writes the request's "ok" audit line there).

        A master failure marks the intent rolled back, unless the write may have landed (timeout after
        sending), when it stays pending for reconciliation. A store failure after master success is
        compensated when possible (unless `compensate` finds the object mapped by another writer meanwhile:
        `MappedMeanwhile`, answered as `taken_meanwhile`); otherwise the intent stays pending, so the two never
        disagree silently.
        `retry_key` is the lock a retry of this write holds (ended.py): an intent left pending is noted under it.
        """
        # Marked for the writer: when this is the only operation in this stage (others may wait for a lock of
        # the same resource), its intent and store writes commit inline instead of crossing to the writer thread.
        with self._store.stage():
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
                _left_pending(retry_key, intent, isinstance(partial.cause, MasterUnavailable))
                raise on_master_error(partial.cause) from None
            except MasterError as err:
                # Unavailable: perhaps applied (a timeout after sending). A protocol error is a 200 whose body
                # breaks the contract: most likely applied. Both stay pending; resolution asks the master.
                if isinstance(err, MasterUnavailable | MasterProtocolError):
                    _left_pending(retry_key, intent, isinstance(err, MasterUnavailable))
                else:
                    await self._finish_quietly(intent, IntentState.ROLLED_BACK, retry_key)
                raise on_master_error(err) from None
            except ScimError:
                # Refused by the bridge's own checks before any master write was sent, or a master refusal that
                # applied nothing and needs more than `on_master_error` to answer (a user write's 404, after the
                # GET that confirms or contradicts it).
                await self._finish_quietly(intent, IntentState.ROLLED_BACK, retry_key)
                raise
            except BaseException:
                # Anything else (a bug of the bridge's, the request cancelled) may have come after the master
                # applied the write: pending, as after a timeout.
                _left_pending(retry_key, intent, True)
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
                    outcome=scope.outcome,
                )
            finish = Finish(intent, audit)
            try:
                written = await store(result, finish)
            except ScimError:
                raise
            except Exception as exc:  # noqa: BLE001 - any store failure after a master write must be journalled
                if isinstance(exc, StoreUnavailable):
                    # Busy or unwritable: the reason says it all (store.unwritable has the condition), and a
                    # traceback per refused write would fill the log, perhaps on the disk that is full.
                    _log.error(
                        "store.write_refused_after_master",
                        operation=operation,
                        target=target,
                        intent=intent,
                        reason=_refusal(exc),
                    )
                else:
                    _log.exception(
                        "store.write_failed_after_master", operation=operation, target=target, intent=intent
                    )
                if compensate is not None:
                    try:
                        await compensate(result)
                    except MappedMeanwhile as taken:
                        raise await self.taken_meanwhile(
                            finish, taken.what, retry_key, taken.holder_key
                        ) from None
                    except Exception:  # noqa: BLE001 - a failed undo leaves the intent pending for reconcile
                        _log.exception(
                            "master.compensation_failed", operation=operation, target=target, intent=intent
                        )
                        # The undo itself may have timed out after it was sent.
                        _left_pending(retry_key, intent, True)
                    else:
                        await self._finish_quietly(intent, IntentState.ROLLED_BACK, retry_key)
                        _log.warning("master.compensated", operation=operation, target=target, intent=intent)
                else:
                    _left_pending(retry_key, intent, False)
                if isinstance(exc, StoreUnavailable):
                    # Undone, or pending for the retry to settle: either way the IdP's retry is the way on.
                    raise store_unavailable(exc) from None
                raise InternalError(
                    "The change reached Determined but could not be recorded; it is journalled for reconciliation."
                ) from None
            if scope is not None:
                scope.recorded = True
            return written

    async def taken_meanwhile(self, finish: Finish, what: str, retry_key: str, holder_key: str) -> Uniqueness:
        """The error for a create whose new master object another writer mapped before this write could: an
        `adopt` run beside the serving bridge (its pending-intent check ran before this create began) lists
        the master between this request's checks and its insert, or before the compensation of an insert that
        failed otherwise (a busy database: `MappedMeanwhile`).

        The object is that writer's now. Undoing it, as a failed store write is undone, would leave their
        mapping on a deactivated user or a deleted group, so the intent is finished as done (the change is on
        the master and mapped) and the IdP hears 409: a lookup by name finds the resource. A finish the store
        refuses leaves the intent pending and noted, as any other, under `retry_key` (the create's retry) and
        under `holder_key`, the lock of the mapping that holds the object (the IdP's next write after its
        filter found that mapping). Either settles it safely: resolution finds nothing unmapped to map (the
        object is that writer's mapping), so it rolls the intent back without a master write.
        """
        _log.warning("store.mapped_meanwhile", intent=finish.intent, resource=what)
        await self._finish_quietly(finish.intent, IntentState.DONE, retry_key, holder_key)
        return Uniqueness(
            f"{what} was provisioned by another writer while this request ran; look it up by name."
        )

    async def _finish_quietly(self, intent: int, state: IntentState, *retry_keys: str) -> None:
        try:
            await self._store.finish_intent(intent, state)
        except StoreError as exc:
            # Pending now (the database busy or failing): resolution decides it, at the retry if there is one.
            if isinstance(exc, StoreUnavailable):
                _log.warning("intent.finish_refused", intent=intent, reason=_refusal(exc))
            else:
                _log.exception("intent.finish_failed", intent=intent)
            for key in retry_keys:
                _left_pending(key, intent, False)


class _Audited:
    """The ``async with`` of one `Journal.audited` (a class: see `_StoreErrors`)."""

    __slots__ = ("_caller", "_journal", "_operation", "_scope", "_token")

    def __init__(self, journal: Journal, caller: Caller, scope: AuditScope) -> None:
        self._journal = journal
        self._caller = caller
        self._scope = scope
        self._token: Token[AuditScope | None] | None = None
        # Marks this write in the store while it runs: a write alone skips the writer thread (store/writer.py).
        self._operation = journal._store.operation()

    async def __aenter__(self) -> AuditScope:
        start_counting()
        self._token = _SCOPE.set(self._scope)
        self._operation.__enter__()
        return self._scope

    async def __aexit__(
        self, _type: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        scope = self._scope
        translated = scim_store_error(exc)
        if exc is not None:
            final = exc if translated is None else translated
            status = final.status if isinstance(final, ScimError) else 500
            scope.outcome = f"error:{status}" if scope.drift is None else f"error:{status}:{scope.drift}"
        assert self._token is not None
        _SCOPE.reset(self._token)
        if scope.left:
            # The request is over: its retry may resolve these at once instead of after reconcile.intent_grace.
            self._journal._ended.ended(scope.left)
        try:
            await self._journal._finish_audit(self._caller, scope)
        finally:
            self._operation.__exit__(None, None, None)
        if translated is not None:
            raise translated from None
