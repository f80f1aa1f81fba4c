"""UserService: SCIM Users operations as master calls plus store writes (master-api.md §7.2, conventions §5).

Deletion policy (users.on_delete: deactivate): the master cannot delete users, so DELETE deactivates the
Determined user, removes it from every managed group and tombstones the mapping; a later POST with the same
userName re-links (reactivates) the same Determined user under a new SCIM id, if the master still has it under
that userName (else the tombstone is dropped and the userName provisioned afresh: `_relinkable`). Protected
accounts (`admin`, `determined`, the bridge's own account, users.protected_usernames) are never mapped: creating
or renaming a user to one of those names answers 409 uniqueness, because the name is taken on the master.

A stale mapping (its Determined user is gone; reconcile's user.missing) is a SCIM resource only until a write
finds the user gone: DELETE tombstones it (204); a PATCH or PUT that must reach the master tombstones it and
answers 404 (RFC 7644 §3.12), so GET, listings and the IdP's re-lookup agree and its re-create provisions a new
Determined user (docs/reliability.md, "Stale mappings").
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import structlog

from bridge.config import UsersSettings
from bridge.determined import DeterminedClient, MasterBadRequest, MasterError, MasterNotFound, MasterUser
from bridge.provisioning.consistency import (
    AuditScope,
    Caller,
    Journal,
    MappedMeanwhile,
    PartialMasterWrite,
    check_if_match,
    scim_store_error,
    store_errors,
)
from bridge.provisioning.ended import EndedIntents
from bridge.provisioning.ids import ScimIds
from bridge.provisioning.locks import KeyedLocks, group_key, user_key, user_name_key
from bridge.provisioning.stale import USER_MISSING, retire, user_missing
from bridge.provisioning.translate import (
    USER_SQL,
    MasterUserFields,
    display_name_candidates,
    stored_doc,
    user_fields,
)
from bridge.provisioning.upstream_errors import Operation, contradicted_not_found, to_scim_error
from bridge.scim import USER_SCHEMA, ListQuery, apply_patch, compile_sql
from bridge.scim.errors import InvalidValue, NotFound, ScimError, Uniqueness
from bridge.scim.filter_sql import sort_sql
from bridge.scim.filters import Compare, CompareOp, Filter
from bridge.scim.patch import PatchOperation
from bridge.store import Duplicate, Finish, NotFoundInStore, Store, UserFields, UserRecord, UserView

# Texts of the master's display-name validation (§5.1, §4.9 step 7); another candidate may pass.
_DISPLAY_REJECTIONS = ("similar username or display name", "non-ASCII", "cannot be renamed", "minimum length")
BUILTIN_USER_IDS = frozenset({1, 2})
# The master sets no maximum (§5.1), but a username is a unique-indexed PostgreSQL column whose btree entries
# cannot exceed ~2,700 bytes (and the master refuses non-ASCII): refuse longer names as the IdP's value error.
MAX_USERNAME_LENGTH: Final = 1024
# The audit outcome of a DELETE whose Determined user was already gone.
DELETED_MISSING_OUTCOME: Final = f"ok:{USER_MISSING}"
_log = structlog.get_logger("bridge.provisioning")


def _display_rejected(err: MasterBadRequest) -> bool:
    return any(text in err.message for text in _DISPLAY_REJECTIONS)


class _DeterminedUserGone(NotFound):
    """Raised by a write's master step: the mapped Determined user is gone (a stale mapping, user.missing)."""


def _random_password() -> str:
    # Never disclosed; local users must not get a blank password (§4.7 step 8) and the remote flip needs one.
    return secrets.token_urlsafe(32)


class UserService:
    """create / get / list / replace / patch / delete for SCIM Users."""

    def __init__(
        self,
        store: Store,
        master: DeterminedClient,
        settings: UsersSettings,
        *,
        ended: EndedIntents,
        own_username: str | None = None,
        locks: KeyedLocks | None = None,
    ) -> None:
        self._store = store
        self._master = master
        self._settings = settings
        self._ended = ended
        self._journal = Journal(store, ended)
        self._locks = locks or KeyedLocks()
        self._ids = ScimIds()
        names = {n.lower() for n in settings.protected_usernames} | {"admin", "determined"}
        if own_username:
            names.add(own_username.lower())
        self._protected = frozenset(names)
        # With an access token the bridge's own username is not in the settings: learn it once from /me.
        self._own_known = own_username is not None

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, scim_id: str) -> UserRecord:
        """A live user; 404 for unknown and tombstoned ids."""
        with store_errors():
            record = await self._store.get_user_by_scim_id(scim_id)
        if record is None:
            raise NotFound(f"User {scim_id} not found.")
        return record

    async def get_unless(self, scim_id: str, known_version: int | None) -> UserView | int:
        """What a read without projection renders of a live user (`get` reads the whole record), or only the
        version when it is still `known_version` (the caller's cached rendering of that version is current);
        404 for unknown and tombstoned ids."""
        # `store_errors` as a try: a ``with`` calls its __enter__ and __exit__ on every read (~2k instructions;
        # every GET makes this read), a try costs nothing until something is raised.
        try:
            found = await self._store.get_live_user_unless(scim_id, known_version)
        except Exception as exc:
            translated = scim_store_error(exc)
            if translated is None:
                raise
            raise translated from None
        if found is None:
            raise NotFound(f"User {scim_id} not found.")
        return found

    async def list(self, query: ListQuery) -> tuple[int, list[UserRecord]]:
        """One page of live users, filtered and sorted in SQL: O(page), no master calls."""
        name = _user_name_equals(query.filter)
        if name is not None:
            # The probe IdPs send before each create is a lookup by a unique key: no listing, no count.
            with store_errors():
                found = await self._store.get_user_by_user_name(name)
            matched = [] if found is None else [found]
            return len(matched), matched[query.offset : query.offset + query.count]
        where, params = compile_sql(query.filter, USER_SCHEMA, USER_SQL) if query.filter else ("1=1", [])
        order = sort_sql(query.sort_by, USER_SCHEMA, USER_SQL) if query.sort_by else None
        with store_errors():
            return await self._store.list_users(
                where,
                params,
                order_by=order,
                descending=query.sort_descending,
                offset=query.offset,
                limit=query.count,
            )

    # -- writes --------------------------------------------------------------------------------

    async def create(self, doc: Mapping[str, Any], caller: Caller) -> UserRecord:
        """POST /Users (RFC 7644 §3.3): new remote Determined user, or re-link of a tombstoned one."""
        async with self._journal.audited(caller, "create", "User") as scope:
            desired = self._fields(doc, default_active=True)
            _check_length(desired.username)
            await self._refuse_protected(desired.username)
            password = doc.get("password") if isinstance(doc.get("password"), str) else None
            key = user_name_key(desired.username)
            async with self._locks.hold(key), self._ended.settling(key):
                existing: UserRecord | None = None
                # Almost always no user has the name: a one-column probe; a tombstone's is then read whole.
                live = await self._store.user_name_live(desired.username)
                if live is False:
                    existing = await self._store.get_user_by_user_name(
                        desired.username, include_tombstoned=True
                    )
                if live or (existing is not None and existing.tombstoned_at is None):
                    raise Uniqueness(f"userName {desired.username!r} is already provisioned.")
                if existing is not None and not await self._relinkable(existing):
                    # Nothing of the tombstone's to relink (see _relinkable): the userName is provisioned afresh.
                    with store_errors():
                        await self._store.forget_tombstone(existing.scim_id)
                    existing = None
                if existing is not None:
                    record = await self._relink(existing, doc, desired, password, caller)
                else:
                    record = await self._create_new(doc, desired, password, caller)
            scope.resource_id = record.scim_id
            return record

    async def replace(
        self, scim_id: str, doc: Mapping[str, Any], caller: Caller, if_match: str | None = None
    ) -> UserRecord:
        """PUT /Users/{id} (RFC 7644 §3.5.1): one PatchUser with what changed; the rest in the store."""
        key = user_key(scim_id)
        async with (
            self._journal.audited(caller, "replace", "User", scim_id) as scope,
            self._locks.hold(key),
            self._ended.settling(key),
        ):
            record = await self.get(scim_id)
            check_if_match(if_match, record.version)
            password = doc.get("password") if isinstance(doc.get("password"), str) else None
            return await self._update(record, doc, password, caller, scope)

    async def patch(
        self, scim_id: str, ops: Sequence[PatchOperation], caller: Caller, if_match: str | None = None
    ) -> UserRecord:
        """PATCH /Users/{id} (RFC 7644 §3.5.2): only changed master fields are sent, `active` always."""
        key = user_key(scim_id)
        async with (
            self._journal.audited(caller, "patch", "User", scim_id) as scope,
            self._locks.hold(key),
            self._ended.settling(key),
        ):
            record = await self.get(scim_id)
            check_if_match(if_match, record.version)
            current: dict[str, Any] = {**record.doc, "active": record.active}
            result = apply_patch(current, ops, USER_SCHEMA)
            new_doc = dict(result.document)
            raw_password = new_doc.pop("password", None)
            password = raw_password if isinstance(raw_password, str) else None
            return await self._update(record, new_doc, password, caller, scope)

    async def delete(self, scim_id: str, caller: Caller, if_match: str | None = None) -> None:
        """DELETE /Users/{id}: deactivate, leave every managed group, tombstone (the master cannot delete).

        A stale mapping (its Determined user is gone: reconcile's user.missing) is tombstoned all the same:
        the state the IdP asks for, no usable account, already holds on the master, and refusing would make
        the IdP's deprovisioning fail for ever while the store kept a live ghost.
        """
        key = user_key(scim_id)
        async with (
            self._journal.audited(caller, "delete", "User", scim_id) as scope,
            self._locks.hold(key),
            self._ended.settling(key),
        ):
            record = await self.get(scim_id)
            check_if_match(if_match, record.version)
            groups = await self._store.groups_of_member(scim_id)

            async def master_write() -> bool:
                try:
                    await self._master.patch_user(record.det_id, active=False)
                except MasterNotFound as err:
                    await self._confirm_gone(err, record, Operation.DELETE_USER)
                    # A user the master lacks is in none of its groups (memberships reference users).
                    scope.outcome = DELETED_MISSING_OUTCOME
                    return True
                try:
                    # Leaving the groups is a member diff on each: serialise with their PATCHes.
                    async with self._locks.hold_all(group_key(g.scim_id) for g in groups):
                        await self._master.leave_groups(record.det_id, [g.det_id for g in groups])
                except MasterError as err:
                    raise PartialMasterWrite(err) from None
                return False

            async def store_write(gone: bool, finish: Finish) -> UserRecord:
                tombstoned = await self._store.tombstone_user(scim_id, finishing_intent=finish)
                if gone:
                    _log.warning(
                        "user.deleted_missing_on_master",
                        kind=USER_MISSING,
                        scim_id=scim_id,
                        det_id=record.det_id,
                        groups=len(groups),
                    )
                return tombstoned

            await self._journal.write(
                caller,
                operation="delete",
                resource_type="User",
                target=scim_id,
                # The version read: resolution counts this delete as landed only while the store still holds it
                # (reconcile/journalled.py `journalled_user_delete`).
                payload={
                    "det_id": record.det_id,
                    "groups": [g.det_id for g in groups],
                    "version": record.version,
                },
                master=master_write,
                store=store_write,
                on_master_error=lambda err: to_scim_error(err, Operation.DELETE_USER),
                retry_key=key,
            )

    # -- internals -----------------------------------------------------------------------------

    async def _confirm_gone(self, err: MasterNotFound, record: UserRecord, op: Operation) -> None:
        """Return if a GET of `record`'s Determined user confirms that the master no longer has it (asked only
        after the write `op` got the 404 `err`); else raise the write's answer, the mapping left live.

        Only the master's own "user not found" is asked about: any other 404 (a proxy's page) is the failure it
        is (500) without a GET, as a group write's is (docs/reliability.md). A GET that fails is raised and
        answers the write: the write's "user not found" would tell the IdP the user is gone (a DELETE done, a
        PATCH's user to re-create) while the mapping stays live for GET. A GET that finds the user contradicts
        the master's "user not found", which `to_scim_error` would pass on as 404: a 500
        (`contradicted_not_found`).
        """
        if not err.is_unknown_user():
            raise err
        if await user_missing(self._master, record.det_id):
            return
        raise contradicted_not_found(err, op, scim_id=record.scim_id, det_id=record.det_id) from None

    async def _relinkable(self, tombstone: UserRecord) -> bool:
        """Whether the master still has the tombstone's Determined user, for a POST of its userName to relink.

        Not when the master says it has no user under that id (a stale mapping deleted, or a restored master),
        nor when the user it has there bears another userName (case aside): after an override against another
        master (docs/reliability.md, "Overriding against a wrong master") the tombstone keeps the old master's
        id, which this master may have given anyone, and a relink would rename that person's account to this
        userName and hand it to the IdP's user. Each case is logged as a warning. A failing master, or a 404 not
        the master's own, says nothing: the relink goes ahead and its own read of the user answers for it.
        """
        try:
            current = await self._master.get_user(tombstone.det_id)
        except MasterNotFound as err:
            if not err.is_unknown_user():
                return True
            _log.warning(
                "user.tombstone_missing_on_master",
                kind=USER_MISSING,
                scim_id=tombstone.scim_id,
                det_id=tombstone.det_id,
            )
            return False
        except MasterError:
            return True
        if current.username.casefold() == tombstone.user_name.casefold():
            return True
        _log_tombstone_taken(tombstone, current.username)
        return False

    def _fields(self, doc: Mapping[str, Any], *, default_active: bool) -> MasterUserFields:
        return user_fields(doc, self._settings.display_name_source, default_active=default_active)

    async def _refuse_protected(self, user_name: str) -> None:
        if not self._own_known:
            try:
                own = await self._master.me()
            except MasterError as err:
                raise to_scim_error(err, Operation.CREATE_USER) from None
            self._protected = self._protected | {own.username.lower()}
            self._own_known = True
        if user_name.lower() in self._protected:
            raise Uniqueness(f"userName {user_name!r} belongs to a protected Determined account.")

    async def _create_new(
        self, doc: Mapping[str, Any], desired: MasterUserFields, password: str | None, caller: Caller
    ) -> UserRecord:
        remote = self._settings.create_remote
        local_password: str | None = None
        if not remote:
            local_password = password if self._settings.password_sync and password else _random_password()
        scim_id = self._ids.new()

        async def master_write() -> MasterUser:
            return await self._with_display_fallback(
                desired,
                lambda display: self._master.create_user(
                    desired.username, display, desired.active, remote=remote, password=local_password
                ),
            )

        async def store_write(user: MasterUser, finish: Finish) -> UserRecord:
            async def insert() -> UserRecord:
                return await self._store.insert_user(
                    scim_id=scim_id, det_id=user.id, fields=_row(doc, desired), finishing_intent=finish
                )

            try:
                return await insert()
            except Duplicate:
                holder = await self._store.get_user_by_det_id(user.id, include_tombstoned=True)
                if holder is None:
                    raise
                if holder.tombstoned_at is None:
                    raise await self._journal.taken_meanwhile(
                        finish,
                        f"userName {desired.username!r}",
                        user_name_key(desired.username),
                        user_key(holder.scim_id),
                    ) from None
            # The master just gave this id to the user it created, so the tombstone holding it maps no user of
            # this master (one made on another before an override): nothing can relink it. Kept, it would
            # refuse this user's mapping for good, the IdP hearing 409 while the account stays unmapped.
            _log_tombstone_taken(holder, user.username)
            with contextlib.suppress(NotFoundInStore):  # another create got there first: the id is free
                await self._store.forget_tombstone(holder.scim_id)
            return await insert()

        async def compensate(user: MasterUser) -> None:
            # The insert failed (a busy database), but another writer (`adopt` beside the bridge) may have mapped
            # the user since: deactivated, it would be inactive under their live mapping. Read again first.
            holder = await self._store.get_user_by_det_id(user.id)
            if holder is not None:
                raise MappedMeanwhile(f"userName {desired.username!r}", user_key(holder.scim_id))
            # Users cannot be deleted (§5.5): an unrecorded user must at least not be usable.
            await self._master.patch_user(user.id, active=False)

        return await self._journal.write(
            caller,
            operation="create",
            resource_type="User",
            target=scim_id,
            payload={"username": desired.username, "active": desired.active, "remote": remote},
            master=master_write,
            store=store_write,
            compensate=compensate,
            on_master_error=lambda err: _create_error(err, desired.username),
            retry_key=user_name_key(desired.username),
        )

    async def _relink(
        self,
        existing: UserRecord,
        doc: Mapping[str, Any],
        desired: MasterUserFields,
        password: str | None,
        caller: Caller,
    ) -> UserRecord:
        new_scim_id = self._ids.new()

        async def master_write() -> MasterUser | None:
            current = await self._master.get_user(existing.det_id)
            before = MasterUserFields(current.username, current.display_name, current.active)
            return await self._push(existing.det_id, before, desired, password, remote=current.remote)

        async def store_write(_: MasterUser | None, finish: Finish) -> UserRecord:
            return await self._store.relink_user(
                existing.scim_id, _row(doc, desired), new_scim_id=new_scim_id, finishing_intent=finish
            )

        async def compensate(_: MasterUser | None) -> None:
            await self._master.patch_user(existing.det_id, active=False)

        return await self._journal.write(
            caller,
            operation="relink",
            resource_type="User",
            target=new_scim_id,
            payload={"det_id": existing.det_id, "username": desired.username},
            master=master_write,
            store=store_write,
            compensate=compensate,
            on_master_error=lambda err: to_scim_error(err, Operation.CREATE_USER),
            retry_key=user_name_key(desired.username),
        )

    async def _update(
        self,
        record: UserRecord,
        new_doc: Mapping[str, Any],
        password: str | None,
        caller: Caller,
        scope: AuditScope,
    ) -> UserRecord:
        operation = scope.operation
        # What the master holds now: the record's own userName and active, no copy of its document.
        held = user_fields(
            record.doc,
            self._settings.display_name_source,
            default_active=record.active,
            user_name=record.user_name,
        )
        before = MasterUserFields(held.username, held.display_name, record.active)
        after = self._fields(new_doc, default_active=record.active)
        row = _row(new_doc, after)
        sync_password = password if self._settings.password_sync and password else None
        if after.username != record.user_name:
            _check_length(after.username)
            await self._refuse_protected(after.username)
            await self._check_rename(record, after.username)
        if before == after and sync_password is None:
            if row.doc == dict(record.doc) and after.active == record.active:
                return record
            return await self._store_update(record, row, None)

        async def master_write() -> MasterUser | None:
            try:
                remote: bool | None = None
                if after.username != before.username or sync_password is not None:
                    remote = (await self._master.get_user(record.det_id)).remote
                return await self._push(record.det_id, before, after, sync_password, remote=remote)
            except MasterNotFound as err:
                await self._confirm_gone(err, record, Operation.UPDATE_USER)
                raise _DeterminedUserGone from None

        async def store_write(_: MasterUser | None, finish: Finish) -> UserRecord:
            return await self._store_update(record, row, finish)

        async def compensate(_: MasterUser | None) -> None:
            await self._push(record.det_id, after, before, None, remote=None)

        try:
            return await self._journal.write(
                caller,
                operation=operation,
                resource_type="User",
                target=record.scim_id,
                payload={"det_id": record.det_id, "username": after.username, "active": after.active},
                master=master_write,
                store=store_write,
                compensate=compensate,
                on_master_error=lambda err: to_scim_error(err, Operation.UPDATE_USER),
                retry_key=user_key(record.scim_id),
            )
        except _DeterminedUserGone:
            raise await self._retire_stale(record, scope) from None

    async def _retire_stale(self, record: UserRecord, scope: AuditScope) -> NotFound:
        """Tombstone a mapping whose Determined user a write found gone, and the IdP's 404 for it.

        RFC 7644 §3.12: the resource the IdP names no longer exists, so 404, and GET and listings must agree
        (a tombstone answers neither), or the IdP's re-lookup by userName would find the same id again. An IdP
        treats a 404 as a missing object and re-creates it (idp-traffic §3.5, §8, §11): that POST finds this
        tombstone's user gone and provisions a new Determined user. A 500 would be retried for ever and count
        toward Entra's quarantine. One retired meanwhile (by `reconcile --repair`) stays as it is: the 404 holds.
        """
        with store_errors():
            await retire(self._store, record.scim_id, record.det_id, operation=scope.operation)
        scope.drift = USER_MISSING
        return NotFound(
            f"User {record.scim_id} not found: its Determined user {record.det_id} no longer exists on the "
            f"master (user.missing), so the mapping was retired; POST /Users provisions the userName afresh."
        )

    async def _store_update(self, record: UserRecord, row: UserFields, finish: Finish | None) -> UserRecord:
        return await self._store.update_user(
            record.scim_id,
            row,
            finishing_intent=finish,
            renamed=row.user_name != record.user_name,
            known=record,
        )

    async def _check_rename(self, record: UserRecord, new_name: str) -> None:
        other = await self._store.get_user_by_user_name(new_name, include_tombstoned=True)
        if other is not None and other.scim_id != record.scim_id:
            raise Uniqueness(f"userName {new_name!r} is already provisioned.")
        try:
            on_master = await self._master.get_user_by_username(new_name)
        except MasterError as err:
            raise to_scim_error(err, Operation.UPDATE_USER) from None
        if on_master is not None and on_master.id != record.det_id:
            raise Uniqueness(f"userName {new_name!r} is taken on the Determined master.")

    async def _push(
        self,
        det_id: int,
        before: MasterUserFields,
        after: MasterUserFields,
        password: str | None,
        *,
        remote: bool | None,
    ) -> MasterUser | None:
        """Bring the master from `before` to `after` in as few PatchUser calls as possible (§4.9, §7.2)."""
        if det_id in BUILTIN_USER_IDS:
            raise Uniqueness("The built-in Determined accounts are not managed by SCIM.")
        rename = after.username != before.username
        display_changed = after.display_name != before.display_name
        if rename and remote:
            # Remote users cannot be renamed (§4.9 step 6): flip to local with a throwaway password, rename,
            # flip back. Both calls end the user's login sessions (§7.2 Replace user).
            await self._master.patch_user(
                det_id,
                active=after.active,
                remote=False,
                username=after.username,
                password=_random_password(),
            )
            try:
                return await self._with_display_fallback(
                    after,
                    lambda display: self._master.patch_user(
                        det_id, active=after.active, remote=True, display_name=display
                    ),
                )
            except MasterError as err:
                raise PartialMasterWrite(err) from None
        if password is not None and remote:
            password = None  # a remote user has no password login (§5.3); the IdP's placeholder is ignored
        if display_changed:
            return await self._with_display_fallback(
                after,
                lambda display: self._master.patch_user(
                    det_id,
                    active=after.active,
                    username=after.username if rename else None,
                    display_name=display,
                    password=password,
                ),
            )
        if rename or password is not None or after.active != before.active:
            return await self._master.patch_user(
                det_id, active=after.active, username=after.username if rename else None, password=password
            )
        return None

    async def _with_display_fallback(
        self, fields: MasterUserFields, call: Callable[[str], Awaitable[MasterUser]]
    ) -> MasterUser:
        candidates = display_name_candidates(fields.display_name, fields.username)
        for index, display in enumerate(candidates):
            try:
                return await call(display)
            except MasterBadRequest as err:
                if index == len(candidates) - 1 or not _display_rejected(err):
                    raise
        raise AssertionError("unreachable: the last candidate re-raises")


def _log_tombstone_taken(tombstone: UserRecord, master_user_name: str) -> None:
    """The warning for a tombstone whose Determined id the master now gives a user of another userName."""
    _log.warning(
        "user.tombstone_taken_on_master",
        scim_id=tombstone.scim_id,
        det_id=tombstone.det_id,
        user_name=tombstone.user_name,
        master_user_name=master_user_name,
    )


def _check_length(user_name: str) -> None:
    if len(user_name) > MAX_USERNAME_LENGTH:
        raise InvalidValue(f"userName is longer than {MAX_USERNAME_LENGTH} characters.")


def _create_error(err: MasterError, user_name: str) -> ScimError:
    # The master's own duplicate check answers the POST (§4.7 step 10), so no by-username lookup precedes it.
    if err.is_duplicate_username():
        # Either an account SCIM does not manage (linking it is an operator decision: `scim-bridge adopt`) or
        # this request's own earlier attempt, which the retry's settling (ended.py) maps as this answer leaves:
        # the detail has to be true of both.
        return Uniqueness(
            f"userName {user_name!r} already exists on the Determined master. If a userName filter does not"
            " find it, it is not managed by SCIM: an operator can link it with `scim-bridge adopt`."
        )
    return to_scim_error(err, Operation.CREATE_USER)


def _row(doc: Mapping[str, Any], fields: MasterUserFields) -> UserFields:
    """The store's row for a user the master now holds as `fields`: the SCIM-only attributes from `doc`."""
    return UserFields(
        user_name=fields.username,
        external_id=_opt_str(doc.get("externalId")),
        display_name=_opt_str(doc.get("displayName")),
        active=fields.active,
        doc=stored_doc(doc, "active", fields.active),
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _user_name_equals(expression: Filter | None) -> str | None:
    """The value of a bare ``userName eq "<text>"`` filter (Okta's and Entra's pre-create probe), else None.

    Such a listing holds at most one live user: the store's lookup by userName answers it with the same
    case-insensitive match (the column's NOCASE collation) that the compiled filter would use.
    """
    if not isinstance(expression, Compare) or expression.op is not CompareOp.EQ:
        return None
    path = expression.path
    if path.sub is not None or path.attr.lower() != "username" or not isinstance(expression.value, str):
        return None
    if path.urn is not None and path.urn.lower() != USER_SCHEMA.core.id.lower():
        return None
    return expression.value
