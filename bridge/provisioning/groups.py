"""GroupService: SCIM Groups as Determined groups; members kept in the store's side table (§7.2, §7.3).

Membership writes are diffs against the store's membership, so repeated adds and absent removes are no-ops
(idp-traffic §0.13), and every master write for one group runs under that group's lock, so parallel PATCHes
(Entra, idp-traffic §0.12) each see the membership the previous one left and the master never answers 409.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, NamedTuple, NoReturn

import structlog

from bridge.determined import (
    DeterminedClient,
    MasterConflict,
    MasterError,
    MasterGroupDetails,
    MasterInternal,
    MasterNotFound,
    MasterUnavailable,
)
from bridge.provisioning.consistency import (
    AuditScope,
    Caller,
    Journal,
    MappedMeanwhile,
    PartialMasterWrite,
    check_if_match,
    store_errors,
)
from bridge.provisioning.ended import EndedIntents
from bridge.provisioning.ids import ScimIds
from bridge.provisioning.locks import KeyedLocks, group_key, group_name_key, user_key
from bridge.provisioning.stale import USER_MISSING, missing_users, retire
from bridge.provisioning.translate import GROUP_SQL, PERSONAL_GROUP_MARK, stored_doc
from bridge.provisioning.upstream_errors import Operation, to_scim_error
from bridge.scim import GROUP_SCHEMA, ListQuery, apply_patch, compile_sql, needs_members
from bridge.scim.errors import InvalidValue, NotFound, Uniqueness
from bridge.scim.filter_sql import sort_sql
from bridge.scim.patch import PatchOperation
from bridge.store import (
    Duplicate,
    Finish,
    GroupAttributes,
    GroupRecord,
    MemberRecord,
    Store,
    StoreError,
    UserRef,
)

_log = structlog.get_logger("bridge.provisioning")


class GroupView(NamedTuple):
    """A group and, when loaded, its members (None when the caller excluded them). Named tuples, as this
    and `_Resolved`, are immutable like frozen dataclasses and ~1.3k instructions cheaper to build (every
    group write builds both)."""

    record: GroupRecord
    members: list[MemberRecord] | None


class _Resolved(NamedTuple):
    """A member the master can take: its store entry and Determined user id."""

    member: MemberRecord
    det_id: int


class _LostUsers(Exception):
    """Users an add named that the master no longer has (their mappings are stale); the add was not applied."""

    def __init__(self, det_ids: frozenset[int]) -> None:
        super().__init__(f"{len(det_ids)} user(s) no longer exist on the master")
        self.det_ids = det_ids


class _StaleMembers(InvalidValue):
    """The refusal of added members whose Determined users are gone, as `_resolve` refuses unknown ids; carries
    them so the write retires their mappings once the refused change is rolled back. The IdP hears the answer
    `_RetireStaleMembers` writes after retiring, which says how each retirement went."""

    def __init__(self, stale: Sequence[_Resolved], group: str) -> None:
        super().__init__(f"members: {_gone(r.member.member_scim_id for r in stale)} (user.missing).")
        self.stale = tuple(stale)
        self.group = group


def _stale_members(lost: _LostUsers, resolved: Sequence[_Resolved], group: str) -> _StaleMembers:
    """The refusal of an add naming members the master no longer has (each logged as found)."""
    stale = [r for r in resolved if r.det_id in lost.det_ids]
    for entry in stale:
        _log.warning(
            "group.member_missing_on_master",
            kind=USER_MISSING,
            scim_id=entry.member.member_scim_id,
            det_id=entry.det_id,
            group=group,
        )
    return _StaleMembers(stale, group)


class _Retired(enum.Enum):
    """How retiring one stale member's mapping went, as the IdP's answer reports it."""

    RETIRED = "retired: POST /Users provisions the userName afresh"
    ALREADY = "already retired by another write"
    FAILED = (
        "NOT retired (the bridge's store failed): it stays provisioned until a later write naming it or "
        "`reconcile --repair` retires it"
    )


def _ids(scim_ids: Iterable[str]) -> str:
    return ", ".join(repr(scim_id) for scim_id in scim_ids)


def _gone(scim_ids: Iterable[str]) -> str:
    named = list(scim_ids)
    if len(named) == 1:
        return f"the Determined user of {_ids(named)} no longer exists on the master"
    return f"the Determined users of {_ids(named)} no longer exist on the master"


def _stale_detail(added: Sequence[str], removed: Sequence[str], outcomes: Mapping[str, _Retired]) -> str:
    """The 400's detail once the refused write's stale members were retired: what each retirement did, never
    a retirement that did not happen."""
    parts = [f"members: {_gone(added)} (user.missing), so the group was left unchanged."]
    if removed:
        parts.append(f"Of the removed members, {_gone(removed)} either.")
    for outcome in _Retired:
        named = [scim_id for scim_id in (*added, *removed) if outcomes.get(scim_id) is outcome]
        if named:
            mappings = "Mapping" if len(named) == 1 else "Mappings"
            parts.append(f"{mappings} of {_ids(named)} {outcome.value}.")
    return " ".join(parts)


class _RetireStaleMembers:
    """Around a group write (outside its group lock): retires the mappings of the stale members it found.

    A write adding a user the master lacks can never succeed, and until the mapping goes every group sync
    naming it fails while GET still answers it. Retiring it (stale.retire, as a user write that finds its
    Determined user gone does) makes reads agree: the IdP's next lookup by userName finds nothing and its
    re-create provisions the user afresh, after which the group write goes through. The same holds for a
    member a refused swap removed and could not put back because the master lacks it too (`found`): it is
    retired whatever the swap's own error, as the master's "user not found" is definite either way. The group
    itself is left as before the request (the refusal rolled it back; an added member was in none of its store
    memberships, and a retirement takes a member out of every group in the store). Each retirement holds that
    user's lock, taken only after the group's is released (UserService.delete takes a user's lock, then its
    groups'). A class, not an async generator: see consistency._StoreErrors.
    """

    __slots__ = ("_found", "_group", "_scope", "_service")

    def __init__(self, service: GroupService, scope: AuditScope) -> None:
        self._service = service
        self._scope = scope
        self._found: list[_Resolved] = []
        self._group = ""

    def found(self, removed: Sequence[_Resolved], group: str) -> None:
        """Removed members of `group` a refused swap's undo found gone on the master."""
        if removed:
            self._found.extend(removed)
            self._group = group

    async def __aenter__(self) -> _RetireStaleMembers:
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        refused = exc if isinstance(exc, _StaleMembers) else None
        added = list(refused.stale) if refused is not None else []
        named = {entry.member.member_scim_id for entry in added}
        removed = [entry for entry in self._found if entry.member.member_scim_id not in named]
        if not added and not removed:
            return
        self._scope.drift = USER_MISSING
        group = refused.group if refused is not None else self._group
        outcomes = await self._service._retire([*added, *removed], self._scope.operation, group)
        if refused is not None:
            detail = _stale_detail(
                [e.member.member_scim_id for e in added], [e.member.member_scim_id for e in removed], outcomes
            )
            raise InvalidValue(detail) from None


def _member_ids(entries: object) -> list[str]:
    out: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        value = entry.get("value") if isinstance(entry, Mapping) else entry
        if value is not None and str(value) not in out:
            out.append(str(value))
    return out


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidValue("displayName must not be empty.")
    if PERSONAL_GROUP_MARK.lower() in cleaned.lower():
        raise InvalidValue(f"displayName must not contain {PERSONAL_GROUP_MARK!r}.")
    return cleaned


ResolvedMembers = list[_Resolved]


def _resolve(ids: Sequence[str], users: Mapping[str, UserRef]) -> ResolvedMembers:
    """The added members: each must be a live user (`users` from the store's refs of at least `ids`)."""
    out: ResolvedMembers = []
    for member_id in ids:
        user = users.get(member_id)
        if user is None or not user.live:
            # Determined groups hold users only; an unknown id is the IdP's value error (§7.2 Create group).
            raise InvalidValue(f"members: {member_id!r} is not a provisioned user.")
        out.append(_Resolved(MemberRecord(member_id, display=user.user_name), user.det_id))
    return out


def _members(ids: Sequence[str], users: Mapping[str, UserRef]) -> ResolvedMembers:
    """The store entries and Determined ids of the users among `ids` (a removal's: tombstoned ones too)."""
    return [
        _Resolved(MemberRecord(member_id, display=users[member_id].user_name), users[member_id].det_id)
        for member_id in ids
        if member_id in users
    ]


class GroupService:
    """create / get / list / replace / patch / delete for SCIM Groups."""

    def __init__(
        self, store: Store, master: DeterminedClient, *, ended: EndedIntents, locks: KeyedLocks | None = None
    ) -> None:
        self._store = store
        self._master = master
        self._ended = ended
        self._journal = Journal(store, ended)
        self._locks = locks or KeyedLocks()
        self._ids = ScimIds()

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, scim_id: str, *, with_members: bool = True) -> GroupView:
        """A group; members come from the store only when wanted (`excludedAttributes=members`)."""
        with store_errors():
            record = await self._store.get_group_by_scim_id(scim_id)
            if record is None:
                raise NotFound(f"Group {scim_id} not found.")
            members = await self._store.list_members(scim_id) if with_members else None
        return GroupView(record, members)

    async def list(self, query: ListQuery, *, with_members: bool = True) -> tuple[int, list[GroupView]]:
        """One page of groups filtered and sorted in SQL; members loaded per listed group only if wanted."""
        where, params = compile_sql(query.filter, GROUP_SCHEMA, GROUP_SQL) if query.filter else ("1=1", [])
        order = sort_sql(query.sort_by, GROUP_SCHEMA, GROUP_SQL) if query.sort_by else None
        with store_errors():
            total, records = await self._store.list_groups(
                where,
                params,
                order_by=order,
                descending=query.sort_descending,
                offset=query.offset,
                limit=query.count,
            )
            views = [
                GroupView(r, await self._store.list_members(r.scim_id) if with_members else None)
                for r in records
            ]
        return total, views

    # -- writes --------------------------------------------------------------------------------

    async def create(self, doc: Mapping[str, Any], caller: Caller) -> GroupView:
        """POST /Groups: one `POST /api/v1/groups` with the initial members (§4.11)."""
        async with (
            self._journal.audited(caller, "create", "Group") as scope,
            _RetireStaleMembers(self, scope),
        ):
            name = _check_name(str(doc.get("displayName", "")))
            key = group_name_key(name)
            async with self._locks.hold(key), self._ended.settling(key):
                if await self._store.get_group_by_display_name(name) is not None:
                    raise Uniqueness(f"displayName {name!r} is already provisioned.")
                ids = _member_ids(doc.get("members"))
                resolved = _resolve(ids, await self._store.get_user_refs(ids))
                scim_id = self._ids.new()

                async def master_write() -> MasterGroupDetails:
                    try:
                        return await self._create_on_master(name, [r.det_id for r in resolved])
                    except _LostUsers as lost:
                        raise _stale_members(lost, resolved, scim_id) from None

                async def store_write(group: MasterGroupDetails, finish: Finish) -> GroupRecord:
                    try:
                        return await self._store.insert_group(
                            scim_id=scim_id,
                            det_id=group.id,
                            display_name=name,
                            external_id=_opt_str(doc.get("externalId")),
                            doc=stored_doc(doc, "displayName", name),
                            members=[r.member for r in resolved],
                            finishing_intent=finish,
                        )
                    except Duplicate:
                        holder = await self._store.get_group_by_det_id(group.id)
                        if holder is None:
                            raise
                        raise await self._journal.taken_meanwhile(
                            finish, f"displayName {name!r}", key, group_key(holder.scim_id)
                        ) from None

                async def compensate(group: MasterGroupDetails) -> None:
                    # As for a user (users.py): a group another writer mapped since the insert failed is theirs.
                    holder = await self._store.get_group_by_det_id(group.id)
                    if holder is not None:
                        raise MappedMeanwhile(f"displayName {name!r}", group_key(holder.scim_id))
                    await self._master.delete_group(group.id)

                record = await self._journal.write(
                    caller,
                    operation="create",
                    resource_type="Group",
                    target=scim_id,
                    payload={"name": name, "members": sorted(r.det_id for r in resolved)},
                    master=master_write,
                    store=store_write,
                    compensate=compensate,
                    on_master_error=lambda err: to_scim_error(err, Operation.CREATE_GROUP),
                    retry_key=key,
                )
            scope.resource_id = record.scim_id
            return GroupView(record, sorted((r.member for r in resolved), key=lambda m: m.member_scim_id))

    async def replace(
        self, scim_id: str, doc: Mapping[str, Any], caller: Caller, if_match: str | None = None
    ) -> GroupView:
        """PUT /Groups/{id}: the rename and the member diff, as in `_write_members` (§4.14, §4.16, §7.2)."""
        key = group_key(scim_id)
        async with (
            self._journal.audited(caller, "replace", "Group", scim_id) as scope,
            _RetireStaleMembers(self, scope) as retiring,
            self._locks.hold(key),
            self._ended.settling(key),
        ):
            view = await self.get(scim_id, with_members=True)
            check_if_match(if_match, view.record.version)
            current = [m.member_scim_id for m in view.members or []]
            # Keycloak omits `members` for an empty group (idp-traffic §0.6): absent means none.
            desired = _member_ids(doc.get("members"))
            add = [m for m in desired if m not in current]
            remove = [m for m in current if m not in desired]
            return await self._apply(
                view.record, dict(doc), add, remove, caller, "replace", retiring, with_members=True
            )

    async def patch(
        self,
        scim_id: str,
        ops: Sequence[PatchOperation],
        caller: Caller,
        if_match: str | None = None,
        *,
        with_members: bool = False,
    ) -> GroupView:
        """PATCH /Groups/{id}: member deltas made idempotent against the store, then minimal master calls.

        Members are loaded only when an operation needs them or the caller wants them back, and a
        members-only change goes through assignments (whose answer does not list the group), so a member
        add to a large group costs O(delta), not O(group), on both sides.
        """
        key = group_key(scim_id)
        async with (
            self._journal.audited(caller, "patch", "Group", scim_id) as scope,
            _RetireStaleMembers(self, scope) as retiring,
            self._locks.hold(key),
            self._ended.settling(key),
        ):
            loaded = needs_members(ops)
            view = await self.get(scim_id, with_members=loaded)
            record = view.record
            check_if_match(if_match, record.version)
            current: dict[str, Any] = {**record.doc, "displayName": record.display_name}
            if view.members is not None:
                current["members"] = [
                    {"value": m.member_scim_id, "type": m.member_type.value, "display": m.display}
                    for m in view.members
                ]
            result = apply_patch(current, ops, GROUP_SCHEMA)
            new_doc = dict(result.document)
            users: Mapping[str, UserRef] | None = None
            if result.members_replaced:
                desired = _member_ids(new_doc.get("members"))
                present = [m.member_scim_id for m in await self._store.list_members(scim_id)]
                add = [m for m in desired if m not in present]
                remove = [m for m in present if m not in desired]
            else:
                # Presence and the users in one statement: a member add reads the store twice, not three times.
                asked = list(result.members_added) + list(result.members_removed)
                there, users = await self._store.get_member_refs(scim_id, asked)
                add = [m for m in result.members_added if m not in there]
                remove = [m for m in result.members_removed if m in there]
            return await self._apply(
                record,
                new_doc,
                add,
                remove,
                caller,
                "patch",
                retiring,
                with_members=with_members,
                users=users,
            )

    async def delete(self, scim_id: str, caller: Caller, if_match: str | None = None) -> None:
        """DELETE /Groups/{id}: `DELETE /api/v1/groups/{id}`, then drop the mapping and memberships."""
        key = group_key(scim_id)
        async with (
            self._journal.audited(caller, "delete", "Group", scim_id),
            self._locks.hold(key),
            self._ended.settling(key),
        ):
            view = await self.get(scim_id, with_members=False)
            check_if_match(if_match, view.record.version)
            det_id = view.record.det_id

            async def master_write() -> None:
                try:
                    await self._master.delete_group(det_id)
                except MasterNotFound as err:
                    # The master's own "no such group": already gone, the goal is reached. Any other 404 (a
                    # proxy's) says nothing about the group, and dropping the mapping would orphan it.
                    if not err.is_unknown_group():
                        raise

            async def store_write(_: None, finish: Finish) -> None:
                await self._store.delete_group(scim_id, finishing_intent=finish)

            await self._journal.write(
                caller,
                operation="delete",
                resource_type="Group",
                target=scim_id,
                payload={"det_id": det_id},
                master=master_write,
                store=store_write,
                on_master_error=lambda err: to_scim_error(err, Operation.DELETE_GROUP),
                retry_key=key,
            )

    # -- internals -----------------------------------------------------------------------------

    async def _retire(self, stale: Sequence[_Resolved], operation: str, group: str) -> dict[str, _Retired]:
        """Retire the mappings a refused write found stale (see `_RetireStaleMembers`), saying how each went."""
        outcomes: dict[str, _Retired] = {}
        for entry in stale:
            scim_id = entry.member.member_scim_id
            try:
                # Under the user's lock, as a user write retires it: retire re-reads the mapping there.
                async with self._locks.hold(user_key(scim_id)):
                    done = await retire(self._store, scim_id, entry.det_id, operation=operation, group=group)
            except StoreError:
                # The refusal stands; the mapping stays live until the next write naming it or reconcile.
                _log.exception("group.member_retire_failed", scim_id=scim_id, group=group)
                outcomes[scim_id] = _Retired.FAILED
                continue
            outcomes[scim_id] = _Retired.RETIRED if done else _Retired.ALREADY
        return outcomes

    async def _apply(
        self,
        record: GroupRecord,
        new_doc: Mapping[str, Any],
        add: Sequence[str],
        remove: Sequence[str],
        caller: Caller,
        operation: str,
        retiring: _RetireStaleMembers,
        *,
        with_members: bool,
        users: Mapping[str, UserRef] | None = None,
    ) -> GroupView:
        """`users`: the refs of at least `add` and `remove` when the caller read them (tombstoned ones too)."""
        name = _check_name(str(new_doc.get("displayName", record.display_name)))
        renamed = name != record.display_name
        if renamed:
            other = await self._store.get_group_by_display_name(name)
            if other is not None and other.scim_id != record.scim_id:
                raise Uniqueness(f"displayName {name!r} is already provisioned.")
        doc_to_store = stored_doc(new_doc, "displayName", name)
        external_id = _opt_str(new_doc.get("externalId"))
        doc_changed: bool = renamed or doc_to_store != dict(record.doc) or external_id != record.external_id
        if users is None:
            users = await self._store.get_user_refs([*add, *remove], include_tombstoned=True)
        resolved = _resolve(add, users)
        removed = _members(remove, users)
        removed_det = [r.det_id for r in removed]
        scim_id = record.scim_id
        if not renamed and not resolved and not removed_det:
            if doc_changed:
                with store_errors():
                    record = await self._store.update_group(
                        scim_id, display_name=name, external_id=external_id, doc=doc_to_store
                    )
            return GroupView(record, await self._store.list_members(scim_id) if with_members else None)

        added_det = [r.det_id for r in resolved]

        async def master_write() -> None:
            gone: set[int] = set()
            try:
                await self._write_members(
                    record.det_id, name if renamed else None, added_det, removed_det, gone
                )
            except _LostUsers as lost:
                raise _stale_members(lost, resolved, scim_id) from None
            finally:
                retiring.found([r for r in removed if r.det_id in gone], scim_id)

        async def store_write(_: None, finish: Finish) -> GroupRecord:
            # One transaction for the member diff, the attributes and the intent: a crash leaves all or none.
            return await self._store.change_group(
                scim_id,
                attributes=GroupAttributes(name, external_id, doc_to_store) if doc_changed else None,
                add=[r.member for r in resolved],
                remove=remove,
                finishing_intent=finish,
                known=record,
            )

        async def compensate(_: None) -> None:
            old_name = record.display_name if renamed else None
            await self._write_members(record.det_id, old_name, removed_det, added_det)

        updated = await self._journal.write(
            caller,
            operation=operation,
            resource_type="Group",
            target=scim_id,
            payload={"name": name if renamed else None, "add": added_det, "remove": removed_det},
            master=master_write,
            store=store_write,
            compensate=compensate,
            on_master_error=lambda err: to_scim_error(err, Operation.UPDATE_GROUP),
            retry_key=group_key(scim_id),
        )
        return GroupView(updated, await self._store.list_members(scim_id) if with_members else None)

    async def _write_members(
        self,
        det_group_id: int,
        name: str | None,
        add: Sequence[int],
        remove: Sequence[int],
        gone: set[int] | None = None,
    ) -> None:
        """A members-only change through assignments (§4.16), a rename through one UpdateGroup (§4.14).

        The assignments answer is `{}`, so the master's work is O(delta), where UpdateGroup's answer lists
        the whole group; its adds skip existing members and a removal of non-members reaches the goal, so a
        membership that drifted outside SCIM needs no re-diff. Adds together with removes (Okta's group push
        sends both in one PATCH) take two calls, as one call moves the same users in and out. When the second
        is refused, the removal is undone at once (RFC 7644 §3.5.2: a failed PATCH leaves the resource
        unchanged), so the error, the store and the master agree; only when that cannot be done, or the add may
        have landed (the master unreachable after sending), is it a `PartialMasterWrite`: the intent stays
        pending and reconciliation puts the master back to the store's state. A rename keeps UpdateGroup, one
        master transaction, so name and members never land half-way. Removed members the undo finds gone on the
        master are added to `gone`, for the caller to retire.
        """
        if name is not None:
            try:
                await self._put(det_group_id, name, add, remove)
            except MasterError as err:
                await self._explain_failed_add(err, add)
            return
        if not remove:
            await self._add(det_group_id, add)
            return
        # Removes first: if the adds then fail, the half-applied master only lacks access the IdP is still
        # granting (until its retry or reconciliation), whereas adds first would leave a member the IdP took
        # out of the group with the group's access (e.g. to its workspaces) until then.
        await self._master.remove_from_groups(remove, [det_group_id])
        if not add:
            return
        try:
            await self._add(det_group_id, add)
        except _LostUsers:
            # The request is refused whole (400), so the removal is undone: master and store agree again.
            await self._undo_removal(det_group_id, remove, gone)
            raise
        except MasterUnavailable as err:
            # Perhaps applied (a timeout or a lost answer): only the master's own state can say what to undo.
            raise PartialMasterWrite(err) from None
        except MasterError as err:
            # Refused in one master transaction that applied nothing: the IdP hears this error, as if the whole
            # request had been refused, once the removal is undone (else reconciliation finishes the undo).
            try:
                await self._undo_removal(det_group_id, remove, gone)
            except PartialMasterWrite:
                raise PartialMasterWrite(err) from None
            raise

    async def _undo_removal(self, det_group_id: int, removed: Sequence[int], gone: set[int] | None) -> None:
        """Put back the members a refused swap removed; a removed member the master no longer has (a stale
        mapping too) was in none of its groups, so the others go back without it, and it joins `gone`."""
        try:
            await self._add(det_group_id, removed)
        except _LostUsers as lost:
            back = [det_id for det_id in removed if det_id not in lost.det_ids]
            if gone is not None:
                gone.update(lost.det_ids)
            for det_id in sorted(lost.det_ids):
                _log.warning(
                    "group.removed_member_missing_on_master",
                    kind=USER_MISSING,
                    det_id=det_id,
                    det_group_id=det_group_id,
                )
            try:
                if back:
                    await self._master.add_to_groups(back, [det_group_id])
            except MasterError as err:
                raise PartialMasterWrite(err) from None
        except MasterError as err:
            raise PartialMasterWrite(err) from None

    async def _create_on_master(self, name: str, add: Sequence[int]) -> MasterGroupDetails:
        try:
            return await self._master.create_group(name, add)
        except MasterError as err:
            await self._explain_failed_add(err, add)

    async def _add(self, det_group_id: int, add: Sequence[int]) -> None:
        try:
            await self._master.add_to_groups(add, [det_group_id])
        except MasterError as err:
            await self._explain_failed_add(err, add)

    async def _explain_failed_add(self, err: MasterError, added: Sequence[int]) -> NoReturn:
        """Re-raise `err`, or `_LostUsers` if it came from added users the master no longer has.

        The master answers an add of such a user with a bare 500 on assignments (a foreign-key violation it
        does not map, master usergroup AddUsersToGroupsTx) and a 404 naming no one on create and UpdateGroup
        (`is_unknown_member`: its whole text), in one transaction that applied nothing. Asking the master about
        the added users tells a stale mapping from a real failure; it runs only after those two answers, in a
        bounded number of calls (stale.PROBE_GETS). Any other 404 (a proxy's page, a group deleted meanwhile)
        says nothing about a member: it is raised as it came, without asking.
        """
        if added and (isinstance(err, MasterInternal) or err.is_unknown_member()):
            lost = await missing_users(self._master, added)
            if lost:
                raise _LostUsers(lost) from err
        raise err

    async def _put(self, det_group_id: int, name: str, add: Sequence[int], remove: Sequence[int]) -> None:
        """One `PUT /api/v1/groups/{id}` with a rename; if the master's membership drifted, re-diff once."""
        try:
            await self._master.change_group(det_group_id, name=name, add_users=add, remove_users=remove)
            return
        except MasterConflict as err:
            if err.is_duplicate_group():
                raise
        except MasterNotFound as err:
            if not err.is_no_member_removed():
                raise
        # Someone changed the group outside SCIM: an add of an existing member is a 409 and a remove of only
        # non-members a 404 for the whole request (§4.14), so recompute against the master's own list.
        current = {u.id for u in (await self._master.get_group(det_group_id)).users}
        add_left = [u for u in add if u not in current]
        remove_left = [u for u in remove if u in current]
        await self._master.change_group(det_group_id, name=name, add_users=add_left, remove_users=remove_left)


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
