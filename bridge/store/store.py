"""The Store: one writer thread that group-commits units of work, plus a pool of readers (conventions §1.6, §4.6).

Every public write is one complete unit of work: SQLite statements only, run whole on the writer thread
inside the writer's transaction (see writer.py), so a cancelled caller can never leave a half-done change.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TypeVar

import structlog

from bridge.store import binding, group_writes, groups, integrity, journal, user_writes, users
from bridge.store.codec import SystemStamps, format_ts
from bridge.store.connections import (
    BUSY_TIMEOUT_MS,
    Locked,
    ReaderConnection,
    ReaderPool,
    WriterConnection,
    connect_writer,
)
from bridge.store.errors import (
    DuplicateDeterminedId,
    DuplicateDisplayName,
    DuplicateScimId,
    DuplicateUserName,
    StoreClosed,
    StoreCorrupt,
    StoreError,
    StoreFailed,
    StoreUnavailable,
    StoreUnwritable,
)
from bridge.store.group_writes import GroupAttributes
from bridge.store.migrations import load_migrations, migrate
from bridge.store.records import (
    AuditEntry,
    AuditLine,
    BoundMaster,
    Finish,
    GroupRecord,
    IntentRecord,
    IntentState,
    MemberDiff,
    MemberRecord,
    UserRecord,
    UserRef,
    UserView,
)
from bridge.store.user_writes import UserFields
from bridge.store.writability import Writability, log_unwritable
from bridge.store.writer import Writer

T = TypeVar("T")
_log = structlog.get_logger("bridge.store")
Clock = Callable[[], datetime]
WriteUnit = Callable[[WriterConnection, str], T]
ReadUnit = Callable[[ReaderConnection], T]

DEFAULT_READERS: Final = 2
# Rows one prune call deletes: a few milliseconds of write lock, so an IdP write queued behind it barely waits.
PRUNE_BATCH: Final = 500
_UNIQUE: Final[Mapping[str, type[StoreError]]] = {
    "users.user_name": DuplicateUserName,
    "groups.display_name": DuplicateDisplayName,
    "users.scim_id": DuplicateScimId,
    "groups.scim_id": DuplicateScimId,
    "users.det_id": DuplicateDeterminedId,
    "groups.det_id": DuplicateDeterminedId,
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


# Primary result codes (low byte of the extended code) that describe the environment, not the query: another
# connection's lock, which passes by itself; and the file or its disk refusing writes, which an operator mends
# (named in the IdP's 503, the log and /readyz by the condition, never by SQLite's text or the file's path).
_UNAVAILABLE: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_UNWRITABLE: Final[Mapping[int, str]] = {
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_PERM: "permission denied",
    sqlite3.SQLITE_CANTOPEN: "cannot open",
    sqlite3.SQLITE_FULL: "disk full",
    sqlite3.SQLITE_IOERR: "I/O error",
}
# The file's pages are not what SQLite wrote, or it is no SQLite file at all.
_CORRUPT: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def _translate(exc: sqlite3.Error, failed: str = "database failed") -> StoreError:
    """The store error for a SQLite failure: every one is a StoreError, so a caller's ``except StoreError``
    (a 503 or 500 with an RFC 7644 body, a CLI's "could not be used" line) also covers what nobody foresaw,
    instead of a raw sqlite3 error escaping it. ``failed`` begins the message of a non-transient one."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in _UNAVAILABLE:
        return StoreUnavailable(f"database unavailable: {exc}")
    condition = _UNWRITABLE.get(code)
    if condition is not None:
        return StoreUnwritable(condition, f"database unwritable ({condition}): {exc}")
    if code in _CORRUPT:
        return StoreCorrupt(f"{failed}: {exc}")
    if isinstance(exc, sqlite3.IntegrityError):
        message = str(exc)
        for column, error in _UNIQUE.items():
            if message == f"UNIQUE constraint failed: {column}":
                return error(f"{column.split('.')[1]} is already taken")
        return StoreError(f"constraint violated: {message}")
    return StoreFailed(f"{failed}: {exc}")


def _reported(error: StoreError, exc: sqlite3.Error, *, traceback: bool) -> StoreError:
    """`error`, logged first when no caller can act on it: a damaged file (store.corrupt), or a failure with no
    better name (store.failed: a schema changed behind the bridge's back, a bug; with
    ``traceback`` the statement that failed, without local variables, log.py). SQLite's messages name no
    row's values."""
    if isinstance(error, StoreCorrupt):
        _log.error("store.corrupt", error=str(exc))
    elif isinstance(error, StoreFailed):
        _log.error("store.failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc if traceback else None)
    return error


def _store_error(exc: sqlite3.Error, *, report: bool) -> StoreError:
    """The store error a SQLite failure raises from a store call (`_reported` unless `report` is false)."""
    error = _translate(exc)
    return _reported(error, exc, traceback=True) if report else error


def report_problem(error: StoreError) -> bool:
    """Log `error` as a failed call logs it (store.corrupt, store.failed) for a caller that kept the call from
    logging (`Store.probe`); False when a call logs nothing for it (a busy or closed database)."""
    cause = error.__cause__
    if not isinstance(error, StoreCorrupt | StoreFailed) or not isinstance(cause, sqlite3.Error):
        return False
    _reported(error, cause, traceback=True)
    return True


def _rewrite_application_id(conn: sqlite3.Connection, _now: str) -> None:
    (application_id,) = conn.execute("PRAGMA application_id").fetchone()
    conn.execute(f"PRAGMA application_id = {int(application_id):d}")


def _in_read_transaction(conn: ReaderConnection, unit: ReadUnit[T]) -> T:
    conn.execute("BEGIN")
    try:
        return unit(conn)
    finally:
        conn.execute("COMMIT")


def _backup(source: ReaderConnection, dest: Path) -> None:
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        target.close()


def _check_page(offset: int, limit: int) -> None:
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must be >= 0")


class Store:
    """Typed access to the mapping database; create with `open_store`, finish with `close`."""

    __slots__ = ("_closed", "_now", "_path", "_readers", "_writability", "_writer")

    def __init__(self, path: Path, writer: Writer, readers: ReaderPool, clock: Clock) -> None:
        self._path = path
        self._writer = writer
        self._readers = readers
        # The time of a write as stored (format_ts); a clock of the caller's own (tests) is asked each time.
        self._now: Callable[[], str] = SystemStamps() if clock is _utc_now else lambda: format_ts(clock())
        self._closed = False
        self._writability = Writability()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def unwritable(self) -> str | None:
        """The condition (`StoreUnwritable.condition`) the last failed call met, None once a write succeeded."""
        return self._writability.condition

    async def close(self) -> None:
        """Wait for in-flight work, then close every connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._writer.close()
        await self._readers.close()

    def operation(self) -> AbstractContextManager[None]:
        """Mark an operation that writes, for as long as it runs (``with``): alone, its writes run inline on
        the event loop's thread; with others under way they queue and share commits (writer.py)."""
        return self._writer.operation()

    def stage(self) -> AbstractContextManager[None]:
        """Mark the journal stage of a marked operation (``with``): alone in it, its writes run inline on the
        event loop's thread even while other operations wait for a resource lock (writer.py)."""
        return self._writer.stage()

    # -- units of work ---------------------------------------------------------------------------

    async def _guarded(self, job: Callable[[], Awaitable[T]], *, report: bool = True) -> T:
        """Run a store job unless the store is closed; SQLite failures become store errors (logged unless
        ``report`` is false: `report_problem`)."""
        if self._closed:
            raise StoreClosed("store is closed")
        try:
            return await job()
        except sqlite3.Error as exc:
            raise self._failure(exc, report=report) from exc

    def _failure(self, exc: sqlite3.Error, *, report: bool) -> StoreError:
        error = _store_error(exc, report=report)
        if isinstance(error, StoreUnwritable):
            self._writability.failed(error, exc)
        return error

    async def _write(self, unit: WriteUnit[T]) -> T:
        """Run `unit` in the writer's next transaction, stamped with this moment.

        `_guarded` written out: a SCIM write makes two, and its lambda and coroutine cost ~2k instructions each.
        """
        if self._closed:
            raise StoreClosed("store is closed")
        now = self._now()
        try:
            result = await self._writer.run(lambda conn: unit(conn, now))
        except sqlite3.Error as exc:
            raise self._failure(exc, report=True) from exc
        if self._writability.condition is not None:
            self._writability.written()
        return result

    async def _read(self, unit: ReadUnit[T]) -> T:
        """Run `unit` whole on a reader thread, inside one read transaction (one snapshot for all it reads).

        No shield is needed: a job runs to its end on its thread even when the caller is cancelled.
        """
        return await self._guarded(lambda: self._readers.run(lambda conn: _in_read_transaction(conn, unit)))

    async def _lookup(self, unit: ReadUnit[T]) -> T:
        """A single-statement read by a unique key, on the event loop's thread (see ReaderPool.lookup).

        `_guarded` and `ReaderPool.lookup` written out: every GET makes one, and the lambda and the two
        coroutines more cost ~3k instructions.
        """
        if self._closed:
            raise StoreClosed("store is closed")
        try:
            found = self._readers.inline(unit)
            if found is Locked.LOCKED:
                return await self._readers.run(unit)
            return found
        except sqlite3.Error as exc:
            raise self._failure(exc, report=True) from exc

    @staticmethod
    def _finishing(finishing: int | Finish | None, unit: WriteUnit[T]) -> WriteUnit[T]:
        """Wrap a unit so it also marks the intent done (and writes the audit line it carries), atomically
        (issue 7: one local transaction)."""
        if finishing is None:
            return unit
        finish = finishing if isinstance(finishing, Finish) else Finish(finishing)

        def both(conn: WriterConnection, now: str) -> T:
            result = unit(conn, now)
            journal.require_pending(conn, now, finish.intent)
            if finish.audit is not None:
                journal.append_audit(conn, now, finish.audit)
            return result

        return both

    # -- users -----------------------------------------------------------------------------------

    async def get_user_by_scim_id(
        self, scim_id: str, *, include_tombstoned: bool = False
    ) -> UserRecord | None:
        """The user with this SCIM id; tombstoned users only if asked."""
        return await self._lookup(
            lambda c: users.fetch_user(c, "scim_id", scim_id, include_tombstoned=include_tombstoned)
        )

    async def probe(self) -> None:
        """The readiness check's read (a user lookup, by a SCIM id no user has): raises a StoreError as any
        call would, but logs nothing; the check logs when readiness changes (`report_problem`), as a probe every
        few seconds would repeat store.corrupt for as long as the file is damaged."""
        await self._guarded(
            lambda: self._readers.lookup(
                lambda c: users.fetch_user(c, "scim_id", "readiness-probe", include_tombstoned=False)
            ),
            report=False,
        )

    async def probe_write(self) -> None:
        """A write no reader can tell from none (the file header's application_id, which the bridge does not use,
        written as it is): the readiness check's test whether the file takes writes again after a
        StoreUnwritable, so readiness comes back without waiting for an IdP write it keeps away."""
        await self._write(_rewrite_application_id)

    async def get_live_user_unless(self, scim_id: str, known_version: int | None) -> UserView | int | None:
        """What a read without projection renders of the live user with this SCIM id (None if none), or only
        its version when it equals `known_version`: a conditional read for callers that cache renderings by
        version (every write to a user row bumps its version, whichever process makes it)."""
        return await self._lookup(lambda c: users.fetch_live_user_unless(c, scim_id, known_version))

    async def get_user_by_user_name(
        self, user_name: str, *, include_tombstoned: bool = False
    ) -> UserRecord | None:
        """The user with this userName, compared case-insensitively (RFC 7643 §4.1.1)."""
        return await self._lookup(
            lambda c: users.fetch_user(c, "user_name", user_name, include_tombstoned=include_tombstoned)
        )

    async def user_name_live(self, user_name: str) -> bool | None:
        """Whether the user with this userName (compared as in `get_user_by_user_name`) is live; None if there
        is none: a create's check, whose answer is almost always None, without reading a whole user."""
        return await self._lookup(lambda c: users.user_name_live(c, user_name))

    async def get_user_by_det_id(self, det_id: int, *, include_tombstoned: bool = False) -> UserRecord | None:
        """The user mapped to this Determined user id."""
        return await self._lookup(
            lambda c: users.fetch_user(c, "det_id", det_id, include_tombstoned=include_tombstoned)
        )

    async def get_user_refs(
        self, scim_ids: Sequence[str], *, include_tombstoned: bool = False
    ) -> dict[str, UserRef]:
        """The users among `scim_ids` by SCIM id, only their Determined id and userName (ids of no user, and
        of tombstoned users unless asked, are left out)."""
        if not scim_ids:
            return {}
        return await self._lookup(
            lambda c: users.fetch_user_refs(c, scim_ids, include_tombstoned=include_tombstoned)
        )

    async def get_users_by_external_id(self, external_id: str) -> list[UserRecord]:
        """Live users with this externalId (exact match)."""
        return await self._read(lambda c: users.fetch_users_by_external_id(c, external_id))

    async def all_users(self, *, include_tombstoned: bool = True) -> list[UserRecord]:
        """Every mapped user, tombstoned ones included unless told otherwise (for reconcile and adoption)."""
        return await self._read(lambda c: users.fetch_all_users(c, include_tombstoned=include_tombstoned))

    async def insert_user(
        self,
        *,
        scim_id: str,
        det_id: int,
        fields: UserFields,
        finishing_intent: int | Finish | None = None,
    ) -> UserRecord:
        """Insert a new live user (version 1); DuplicateUserName / DuplicateDeterminedId / DuplicateScimId."""

        def unit(c: WriterConnection, now: str) -> UserRecord:
            return user_writes.insert_user(c, now, scim_id=scim_id, det_id=det_id, fields=fields)

        return await self._write(self._finishing(finishing_intent, unit))

    async def update_user(
        self,
        scim_id: str,
        fields: UserFields,
        *,
        expected_version: int | None = None,
        finishing_intent: int | Finish | None = None,
        renamed: bool = False,
        known: UserRecord | None = None,
    ) -> UserRecord:
        """Replace a live user's attributes, bumping version; NotFoundInStore / VersionConflict / Duplicate*.

        `renamed` also refreshes the user's cached member `display` (its userName) in every group, in the
        same transaction. `known`: the user as the caller read it, groups included, if it did (its email rows
        and groups are then not read again while the user is still at that version; user_writes.update_user).
        """

        def unit(c: WriterConnection, now: str) -> UserRecord:
            record = user_writes.update_user(
                c, now, scim_id, fields=fields, expected_version=expected_version, known=known
            )
            if renamed:
                group_writes.set_member_display(c, now, scim_id, fields.user_name)
            return record

        return await self._write(self._finishing(finishing_intent, unit))

    async def tombstone_user(
        self,
        scim_id: str,
        *,
        expected_version: int | None = None,
        finishing_intent: int | Finish | None = None,
    ) -> UserRecord:
        """Delete a user the SCIM way: inactive, tombstoned, removed from every group; the mapping row stays."""

        def unit(c: sqlite3.Connection, now: str) -> UserRecord:
            record = user_writes.tombstone_user(c, now, scim_id, expected_version=expected_version)
            group_writes.remove_member_everywhere(c, now, scim_id)
            return record

        return await self._write(self._finishing(finishing_intent, unit))

    async def forget_tombstone(self, scim_id: str) -> None:
        """Delete a tombstoned user's mapping whose Determined user is gone, so its userName can be provisioned
        afresh (a relink needs that user); NotFoundInStore unless `scim_id` is tombstoned."""

        def unit(c: sqlite3.Connection, _now: str) -> None:
            user_writes.forget_tombstone(c, scim_id)

        await self._write(unit)

    async def relink_user(
        self,
        scim_id: str,
        fields: UserFields,
        *,
        new_scim_id: str | None = None,
        finishing_intent: int | Finish | None = None,
    ) -> UserRecord:
        """Revive a tombstoned user (same Determined user) for a POST with its userName; created resets."""

        def unit(c: WriterConnection, now: str) -> UserRecord:
            return user_writes.relink_user(c, now, scim_id, new_scim_id=new_scim_id, fields=fields)

        return await self._write(self._finishing(finishing_intent, unit))

    async def list_users(
        self,
        where: str,
        params: Sequence[object],
        *,
        order_by: str | None = None,
        descending: bool = False,
        offset: int = 0,
        limit: int,
    ) -> tuple[int, list[UserRecord]]:
        """(total, page) of live users; `where`/`order_by` are trusted SQL over alias `u` (see sql_mapping).

        `order_by` gets ASC/DESC appended; rows whose key is NULL come last in both directions and ties keep
        creation order. Without `order_by`, creation order. `limit` 0 returns only the total.
        """
        _check_page(offset, limit)
        return await self._read(
            lambda c: users.list_users(
                c, where, params, order_by=order_by, descending=descending, offset=offset, limit=limit
            )
        )

    # -- groups ----------------------------------------------------------------------------------

    async def get_group_by_scim_id(self, scim_id: str) -> GroupRecord | None:
        """The group with this SCIM id."""
        return await self._lookup(lambda c: groups.fetch_group(c, "scim_id", scim_id))

    async def get_group_by_display_name(self, display_name: str) -> GroupRecord | None:
        """The group with this displayName, compared case-insensitively."""
        return await self._lookup(lambda c: groups.fetch_group(c, "display_name", display_name))

    async def get_group_by_det_id(self, det_id: int) -> GroupRecord | None:
        """The group mapped to this Determined group id."""
        return await self._lookup(lambda c: groups.fetch_group(c, "det_id", det_id))

    async def insert_group(
        self,
        *,
        scim_id: str,
        det_id: int,
        display_name: str,
        external_id: str | None,
        doc: Mapping[str, object],
        members: Sequence[MemberRecord] = (),
        finishing_intent: int | Finish | None = None,
    ) -> GroupRecord:
        """Insert a group (version 1) with its initial members; DuplicateDisplayName / DuplicateDeterminedId."""

        def unit(c: sqlite3.Connection, now: str) -> GroupRecord:
            return group_writes.insert_group(
                c,
                now,
                scim_id=scim_id,
                det_id=det_id,
                display_name=display_name,
                external_id=external_id,
                doc=doc,
                members=members,
            )

        return await self._write(self._finishing(finishing_intent, unit))

    async def update_group(
        self,
        scim_id: str,
        *,
        display_name: str,
        external_id: str | None,
        doc: Mapping[str, object],
        expected_version: int | None = None,
        finishing_intent: int | Finish | None = None,
    ) -> GroupRecord:
        """Replace a group's own attributes (members untouched), bumping version."""

        attributes = GroupAttributes(display_name, external_id, doc)

        def unit(c: sqlite3.Connection, now: str) -> GroupRecord:
            return group_writes.update_group(c, now, scim_id, attributes, expected_version)

        return await self._write(self._finishing(finishing_intent, unit))

    async def change_group(
        self,
        scim_id: str,
        *,
        attributes: GroupAttributes | None = None,
        add: Sequence[MemberRecord] = (),
        remove: Sequence[str] = (),
        finishing_intent: int | Finish | None = None,
        known: GroupRecord | None = None,
    ) -> GroupRecord:
        """One SCIM group write in one transaction: members removed and added (absent/present ids are no-ops)
        and, if given, the group's own attributes; returns the group as it then is. `known`: the group as the
        caller read it, if it did (its document is then not read again while the group is still at that
        version; group_writes.change_group)."""

        def unit(c: sqlite3.Connection, now: str) -> GroupRecord:
            return group_writes.change_group(
                c, now, scim_id, attributes=attributes, add=add, remove=remove, known=known
            )

        return await self._write(self._finishing(finishing_intent, unit))

    async def delete_group(
        self,
        scim_id: str,
        *,
        expected_version: int | None = None,
        finishing_intent: int | Finish | None = None,
    ) -> None:
        """Delete a group with its memberships, including its membership in other groups."""

        def unit(c: sqlite3.Connection, now: str) -> None:
            group_writes.delete_group(c, now, scim_id, expected_version)

        await self._write(self._finishing(finishing_intent, unit))

    async def move_group(self, scim_id: str, *, old_det_id: int, new_det_id: int) -> GroupRecord:
        """Point a group's mapping at another Determined group in one transaction, keeping everything else;
        NotFoundInStore if it no longer maps `old_det_id`, DuplicateDeterminedId if another mapping holds
        `new_det_id` (then nothing changed)."""

        def unit(c: sqlite3.Connection, _now: str) -> GroupRecord:
            return group_writes.move_group(c, scim_id, old_det_id, new_det_id)

        return await self._write(unit)

    async def list_groups(
        self,
        where: str,
        params: Sequence[object],
        *,
        order_by: str | None = None,
        descending: bool = False,
        offset: int = 0,
        limit: int,
    ) -> tuple[int, list[GroupRecord]]:
        """(total, page) of groups; `where`/`order_by` are trusted SQL over alias `g`, ordered as list_users."""
        _check_page(offset, limit)
        return await self._read(
            lambda c: groups.list_groups(
                c, where, params, order_by=order_by, descending=descending, offset=offset, limit=limit
            )
        )

    # -- memberships -----------------------------------------------------------------------------

    async def add_members(
        self,
        group_scim_id: str,
        members: Sequence[MemberRecord],
        *,
        expected_version: int | None = None,
        finishing_intent: int | Finish | None = None,
    ) -> list[str]:
        """Add members; ids already present (or repeated) are no-ops. Returns the ids actually added."""

        def unit(c: sqlite3.Connection, now: str) -> list[str]:
            return group_writes.add_members(c, now, group_scim_id, members, expected_version)

        return await self._write(self._finishing(finishing_intent, unit))

    async def remove_members(
        self,
        group_scim_id: str,
        ids: Sequence[str],
        *,
        expected_version: int | None = None,
        finishing_intent: int | Finish | None = None,
    ) -> list[str]:
        """Remove members; absent ids are no-ops. Returns the ids actually removed."""

        def unit(c: sqlite3.Connection, now: str) -> list[str]:
            return group_writes.remove_members(c, now, group_scim_id, ids, expected_version)

        return await self._write(self._finishing(finishing_intent, unit))

    async def replace_members(
        self,
        group_scim_id: str,
        members: Sequence[MemberRecord],
        *,
        expected_version: int | None = None,
        finishing_intent: int | Finish | None = None,
    ) -> MemberDiff:
        """Make the membership exactly `members`; returns what was added and removed."""

        def unit(c: sqlite3.Connection, now: str) -> MemberDiff:
            return group_writes.replace_members(c, now, group_scim_id, members, expected_version)

        return await self._write(self._finishing(finishing_intent, unit))

    async def list_members(self, group_scim_id: str) -> list[MemberRecord]:
        """Every member of a group, sorted by id; NotFoundInStore for an unknown group."""
        return await self._read(lambda c: groups.list_members(c, group_scim_id))

    async def count_members(self, group_scim_id: str) -> int:
        """How many members a group has; NotFoundInStore for an unknown group."""
        return await self._read(lambda c: groups.count_members(c, group_scim_id))

    async def get_member_refs(
        self, group_scim_id: str, ids: Sequence[str]
    ) -> tuple[set[str], dict[str, UserRef]]:
        """Which of `ids` are members of the group (none for an unknown group), and the users among `ids` as
        `get_user_refs(..., include_tombstoned=True)` finds them: what a member change needs, O(len(ids)),
        never the whole membership, and one statement, so it runs as a lookup on the loop's thread."""
        if not ids:
            return set(), {}
        return await self._lookup(lambda c: groups.read_member_refs(c, group_scim_id, ids))

    async def groups_of_member(self, member_scim_id: str) -> list[GroupRecord]:
        """The groups a user or group belongs to."""
        return await self._read(lambda c: groups.groups_of_member(c, member_scim_id))

    async def remove_member_everywhere(
        self, member_scim_id: str, *, finishing_intent: int | Finish | None = None
    ) -> list[str]:
        """Remove a member from every group; returns the SCIM ids of the groups changed."""

        def unit(c: sqlite3.Connection, now: str) -> list[str]:
            return group_writes.remove_member_everywhere(c, now, member_scim_id)

        return await self._write(self._finishing(finishing_intent, unit))

    # -- intent journal --------------------------------------------------------------------------

    async def begin_intent(
        self, *, request_id: str, operation: str, resource_type: str, target: str, payload_digest: str
    ) -> int:
        """Journal a master write before making it (issue 7); returns the intent id."""
        return await self._write(
            lambda c, now: journal.begin_intent(
                c,
                now,
                request_id=request_id,
                operation=operation,
                resource_type=resource_type,
                target=target,
                payload_digest=payload_digest,
            )
        )

    async def finish_intent(self, intent_id: int, state: IntentState) -> None:
        """Mark an intent done or rolled back; repeating the same state is a no-op, a different one raises."""
        await self._write(lambda c, now: journal.finish_intent(c, now, intent_id, state))

    async def get_intent(self, intent_id: int) -> IntentRecord | None:
        """One intent by id."""
        return await self._read(lambda c: journal.get_intent(c, intent_id))

    async def pending_intents(self) -> list[IntentRecord]:
        """Unfinished intents, oldest first."""
        return await self._read(journal.pending_intents)

    async def newer_pending_intent(self, intent_id: int, target: str) -> bool:
        """Whether a pending intent newer than `intent_id` names the same target."""
        return await self._read(lambda c: journal.newer_pending_intent(c, intent_id, target))

    async def prune_intents(self, before: datetime, *, limit: int = PRUNE_BATCH) -> int:
        """Delete up to `limit` intents finished before `before` (pending ones never), oldest first; returns
        how many. A caller deletes all by calling again until fewer than `limit` go: each call is one short
        write, so requests' writes run between them."""
        cutoff = format_ts(before)
        ids = await self._read(lambda c: journal.prunable_intents(c, cutoff, limit))
        if not ids:
            return 0
        return await self._write(lambda c, _now: journal.prune_intents(c, ids, cutoff))

    async def count_prunable(
        self, intents_before: datetime | None, audit_before: datetime | None
    ) -> tuple[int, int]:
        """How many finished intents and audit lines `prune_intents` and `prune_audit` would delete at these
        cut-offs (None: that table is not pruned), read in one snapshot."""
        intents_cutoff = None if intents_before is None else format_ts(intents_before)
        audit_cutoff = None if audit_before is None else format_ts(audit_before)
        return await self._read(lambda c: journal.count_prunable(c, intents_cutoff, audit_cutoff))

    # -- audit log -------------------------------------------------------------------------------

    async def append_audit(self, line: AuditLine) -> int:
        """Append one audit line stamped with the store clock; returns its id."""
        return await self._write(lambda c, now: journal.append_audit(c, now, line))

    async def recent_audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest audit lines, newest first."""
        return await self._read(lambda c: journal.recent_audit(c, limit))

    async def prune_audit(self, before: datetime, *, limit: int = PRUNE_BATCH) -> int:
        """Delete up to `limit` audit lines older than `before`, oldest first; returns how many (called again
        as `prune_intents` is)."""
        cutoff = format_ts(before)
        return await self._write(lambda c, _now: journal.prune_audit(c, cutoff, limit))

    # -- master binding --------------------------------------------------------------------------

    async def bound_master(self) -> BoundMaster | None:
        """The master cluster this database belongs to; None until it has met one."""
        return await self._lookup(binding.fetch_bound_master)

    async def bind_master(self, cluster_id: str, cluster_name: str) -> BoundMaster:
        """Bind to this cluster unless bound already; returns the binding that holds."""
        return await self._write(lambda c, now: binding.bind_master(c, now, cluster_id, cluster_name))

    async def rebind_master(self, cluster_id: str, cluster_name: str) -> BoundMaster:
        """Bind to this cluster, replacing any binding (``scim-bridge db rebind-master``)."""
        return await self._write(lambda c, now: binding.rebind_master(c, now, cluster_id, cluster_name))

    # -- data safety -----------------------------------------------------------------------------

    async def check(self) -> list[str]:
        """Integrity and mapping-consistency problems (empty when sound); `scim-bridge db check`."""
        return await self._read(integrity.check)

    async def backup(self, dest_path: str | Path) -> Path:
        """Copy the database with SQLite's online backup API to `dest_path` (replaced atomically)."""
        if self._closed:
            raise StoreClosed("store is closed")
        dest = Path(dest_path)
        partial = dest.with_name(dest.name + ".partial")
        # Creating the file first turns a missing or read-only directory into an OSError, not a SQLite error.
        partial.unlink(missing_ok=True)
        partial.touch()
        try:
            await self._guarded(lambda: self._readers.run(lambda source: _backup(source, partial)))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, dest)
        return dest


async def open_store(
    path: str | Path,
    *,
    clock: Clock | None = None,
    readers: int = DEFAULT_READERS,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> Store:
    """Open (creating if needed) and migrate the database; SchemaTooNew if it is newer than this code.

    `busy_timeout_ms` is how long a statement waits for another process's lock before StoreUnavailable.
    A file SQLite cannot open or use is a StoreError too (StoreUnavailable when busy or locked, StoreUnwritable
    when read-only, not permitted or its disk full or failing, StoreCorrupt when damaged or not a database).
    """
    if readers < 1 or busy_timeout_ms < 0:
        raise ValueError("readers must be >= 1 and busy_timeout_ms >= 0")
    db = Path(path)
    try:
        return await _open(db, clock, readers, busy_timeout_ms)
    except sqlite3.Error as exc:
        # Opening runs no query of the bridge's own: any SQLite failure here is the file's or its
        # environment's (another process's exclusive lock, not a database, unreadable), never a bug.
        error = _reported(_translate(exc, "cannot open"), exc, traceback=False)
        if isinstance(error, StoreUnwritable):
            # No store keeps the condition yet: opening is one call, so this is its one line, as a running
            # store's first failed call writes it (an unopenable file at start-up alerts as a full disk later).
            log_unwritable(error, exc)
        raise error from exc


async def _open(db: Path, clock: Clock | None, readers: int, busy_timeout_ms: int) -> Store:
    migrator = await connect_writer(db, busy_timeout_ms=busy_timeout_ms)
    try:
        await migrate(migrator, load_migrations())
    finally:
        await migrator.close()
    writer = await Writer.open(db, busy_timeout_ms)
    try:
        pool = await ReaderPool.open(db, readers, busy_timeout_ms)
    except BaseException:
        await writer.close()
        raise
    return Store(db, writer, pool, clock or _utc_now)
