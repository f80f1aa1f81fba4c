"""Start-up and periodic resolution of unfinished intents (issue 7, intent journal; conventions §4.6).

An intent is journalled before a master write and finished in the same SQLite transaction as the mapping
write, so a pending intent means: the master may or may not have applied the change, and the store still
holds the state from before the request. The IdP never got a success answer. Resolution asks the master
what happened:

* ``create``: the intent's target is the SCIM id provisioning minted; the master object is found among
  the unmapped ones by the journalled payload digest. If it exists the mapping is completed under that
  SCIM id (the IdP's retry then finds it by filter instead of creating a second object); if not, the intent
  is rolled back.
* ``delete``: if the master shows the deletion, the store records it (completed); otherwise rolled back. For a
  user, an inactive Determined user shows it only while the store, unwritten since the delete read it (the
  version it journalled), has the user active: otherwise the inactivity is the store's own state (a user
  already inactive, or a later PATCH the IdP heard 200 for) and the delete is rolled back.
* ``replace`` / ``patch`` / ``relink`` and the rest: rolled back, and the master is put back to what the store
  says (idp_wins for that one resource), so the IdP's retry starts from a state both sides agree on.

Completing a ``delete`` whose Determined user or group the master lacks retires the mapping, and restoring a
group the master lacks re-creates it there, so a run is held to the retirement guard a repair pass is held to,
decided before it resolves anything: past the bound it resolves none of its intents (intent_guard.py,
docs/reliability.md). A group the master could not be asked about defers only the intents naming it.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from bridge.determined import DeterminedClient, MasterError, MasterGroupDetails, MasterUser
from bridge.provisioning.adoption import map_master_group
from bridge.reconcile.detect import DisplayName, Snapshot, master_group, master_user
from bridge.reconcile.drift import DriftKind
from bridge.reconcile.guard import RetireGuard, RetireRefusal
from bridge.reconcile.intent_guard import group_intents, intent_refusal, retiring_intents
from bridge.reconcile.journalled import (
    journalled_group_create,
    journalled_relink,
    journalled_user_create,
    journalled_user_delete,
)
from bridge.reconcile.refusal_log import RefusalLog
from bridge.reconcile.repair import REPAIR_ERRORS, Repairer, Unrepairable
from bridge.store import (
    Duplicate,
    IntentNotPending,
    IntentRecord,
    IntentState,
    NotFoundInStore,
    Store,
    StoreError,
    UserFields,
)

_log = structlog.get_logger("bridge.reconcile")


class Resolution(enum.Enum):
    """How an intent ended."""

    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    DEFERRED = "deferred"  # the master could not be asked; try again next time
    # At an IdP's retry (`resolve_ended`): the master was put right for now, but the intent's own master write may
    # still land (the master still working on a request the bridge gave up on), so it stays pending until a
    # run past reconcile.intent_grace, when it no longer can.
    KEPT = "kept"


@dataclass(frozen=True, slots=True)
class ResolvedIntent:
    """One intent's outcome, for the summary."""

    intent_id: int
    operation: str
    resource_type: str
    target: str
    resolution: Resolution
    master_actions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IntentPass:
    """One resolution run: each intent's outcome, or the guard's refusal (then none was resolved)."""

    outcomes: tuple[ResolvedIntent, ...] = ()
    refusal: RetireRefusal | None = None


# Operations whose resolution puts the master back to the store's state for their target (`_restore`).
_RESTORING_OPERATIONS = frozenset({"patch", "replace"})
# What `resolve_ended` reports as still pending.
_STILL_PENDING = frozenset({Resolution.DEFERRED, Resolution.KEPT})


@dataclass(slots=True)
class PassCache:
    """What one resolution pass learns once and reuses.

    ``users``/``groups``: master objects no mapping points at (a create intent is matched among them).
    ``user_creates``/``group_creates``: the creates pending when they were listed, so a create whose object a
    newer create also matches (the IdP's retry of it, in flight) is left to that one (`_NewerCreatePending`).
    ``settled``: (resource type, target) pairs whose newest update intent this pass restored, so the master
    already equals the store there and an older update intent of the same target has nothing left to undo.
    ``retirable``: the delete intents the guard counted and allowed to retire their mapping; any other that
    finds its Determined user or group gone waits for the next run's count (none, for a lone `resolve`).
    ``recreatable``: the SCIM ids of the groups the guard counted and allowed to be re-created by a restore; a
    restore finding any other group gone waits for the next run's count in the same way.
    ``landing``: the intents whose master write may still land (at an IdP's retry: a call of their request got
    no answer, and the master may still be applying it): a restore or undo is done but the intent kept pending
    (`Resolution.KEPT`), and a create the master does not show is rolled back only when ``name_taken`` (the
    retry's write left the name taken on the master: the create can no longer land). Past the grace, none is.
    """

    users: list[MasterUser] | None = None
    groups: list[MasterGroupDetails] | None = None
    # The pending creates of users and of groups, each read just after that listing (`_pending_creates`).
    user_creates: tuple[IntentRecord, ...] = ()
    group_creates: tuple[IntentRecord, ...] = ()
    settled: set[tuple[str, str]] = field(default_factory=set)
    retirable: frozenset[int] = frozenset()
    recreatable: frozenset[str] = frozenset()
    landing: frozenset[int] = frozenset()
    name_taken: bool = True


@dataclass(frozen=True, slots=True)
class IntentResolver:
    """Resolves pending intents against the master; safe to run again on the same intents."""

    store: Store
    client: DeterminedClient
    display_name: DisplayName
    # The bound a repair pass is held to (`reconcile.max_retire`, `max_retire_fraction`; none when the operator
    # allows a mass retirement), and which path resolves, for `reconcile.retire_refused`: "startup",
    # "background", "pass", or the CLI command ("adopt", "import-builtin").
    retire_guard: RetireGuard
    path: str
    # How a refusal is logged: every time, or throttled for the background loop (refusal_log.py).
    refusals: RefusalLog = field(default_factory=RefusalLog)

    async def resolve_all(
        self, *, created_before: datetime | None = None, deadline: float | None = None
    ) -> IntentPass:
        """Resolve pending intents (only those created before ``created_before`` if given), newest first.

        One that cannot be resolved now (master unreachable) stays pending for the next run, as do those
        not reached by ``deadline`` (a ``time.monotonic()`` value): they are left out of the outcomes.

        The retirement guard is decided first, on what the master says before anything changes: if the
        deletes among these intents would retire more mappings (users or groups), or the group updates re-create
        more groups, than it allows, none of the intents is resolved
        (not only those deletes: the refusal says this master is suspect, and rolling back a create because it
        lacks the user would let the IdP's retry make a second one on the right master). They stay pending,
        so the store still holds the IdP's last confirmed state, and a run against a master the guard allows,
        or under ``--allow-mass-retire``, resolves them. A group the master failed to answer for while counting
        defers only the intents naming it (logged ``reconcile.intent_deferred``); the rest are resolved.
        """
        due = [
            intent
            for intent in reversed(await self.store.pending_intents())
            if created_before is None or intent.created < created_before
        ]
        return await self._resolve_due(due, deadline)

    async def resolve_ended(
        self, ids: Collection[int], landing: Collection[int], name_taken: bool
    ) -> frozenset[int]:
        """Resolve these intents at once, whatever their age: their requests ended in this process, so none is
        in flight (provisioning/ended.py; the IdP's retry of the write holds its lock meanwhile). The master
        writes of `landing` may still land, though (`PassCache.landing`); `name_taken` says whether the retry's
        write left the name it locks taken on the master. The ids still pending afterwards: kept (their writes may still
        land), deferred, refused by the retirement guard, or not asked (the master or the store failed while
        counting). Every other step is `resolve_all`'s, guard and log events included."""
        due: list[IntentRecord] = []
        try:
            for intent_id in sorted(ids, reverse=True):  # newest first, as `resolve_all` goes
                intent = await self.store.get_intent(intent_id)
                if intent is not None and intent.state is IntentState.PENDING:
                    due.append(intent)
            resolved = await self._resolve_due(due, None, landing=frozenset(landing), name_taken=name_taken)
        except (MasterError, StoreError) as exc:
            # The retry's own answer stands (a 503 while the master is down); its next retry asks again.
            _log.warning("reconcile.intents_deferred", path=self.path, error=type(exc).__name__)
            return frozenset(ids)
        if resolved.refusal is not None:
            return frozenset(i.id for i in due)
        return frozenset(o.intent_id for o in resolved.outcomes if o.resolution in _STILL_PENDING)

    async def _resolve_due(
        self,
        due: list[IntentRecord],
        deadline: float | None,
        *,
        landing: frozenset[int] = frozenset(),
        name_taken: bool = True,
    ) -> IntentPass:
        retiring = await retiring_intents(self.store, self.client, due)
        groups = await group_intents(self.store, self.client, due)
        refusal = await intent_refusal(self.retire_guard, self.store, retiring, groups)
        self.refusals.outcome(self.path, refusal)
        if refusal is not None:
            return IntentPass(refusal=refusal)
        outcomes: list[ResolvedIntent] = []
        cache = PassCache(
            retirable=frozenset(retiring) | frozenset(groups.retiring),
            recreatable=frozenset(groups.recreating.values()),
            landing=landing,
            name_taken=name_taken,
        )
        # Newest first: an older intent for the same target waits for a newer one (see `resolve`), so this
        # order settles them all in one pass.
        for intent in due:
            if deadline is not None and time.monotonic() >= deadline:
                break
            unread = groups.unread.get(intent.target) if intent.resource_type == "Group" else None
            if unread is not None:
                # The guard could not count this group: resolving would decide on a master that did not answer
                # for it. Only this group's intents wait; the next run counts them.
                outcomes.append(_deferred(intent, unread))
                continue
            try:
                outcome = await self.resolve(intent, cache)
            except REPAIR_ERRORS as exc:
                outcome = _deferred(intent, type(exc).__name__)
            else:
                _log_outcome(intent, outcome)
            outcomes.append(outcome)
        return IntentPass(tuple(outcomes))

    async def resolve(self, intent: IntentRecord, cache: PassCache | None = None) -> ResolvedIntent:
        """Complete or roll back one intent; defer it while a newer request for the same target is in flight."""
        cache = cache or PassCache()
        landing = intent.id in cache.landing
        if await self._superseded_in_flight(intent):
            # Rolling back now could undo that request's master write just before it records it in the
            # store; once it has finished, this intent is resolved against the state it left.
            return _unresolved(intent, Resolution.DEFERRED)
        if intent.operation == "create":
            try:
                if intent.resource_type == "User":
                    mapped = await self._complete_user_create(intent, cache)
                else:
                    mapped = await self._complete_group_create(intent, cache)
            except _NewerCreatePending:
                # Its object is the newer create's: mapped here, that request's own insert would fail and its
                # IdP hear 409 for what it just made. Once it has finished, this one finds nothing to map.
                return _unresolved(intent, Resolution.DEFERRED)
            if mapped is not None:
                return await self._finish(intent, IntentState.DONE, mapped)
            if landing and not cache.name_taken:
                # The name is still free on the master, so the create may land yet: rolled back now, it would
                # leave that user or group unmapped for good (every create of the name a 409 nobody can find).
                return _unresolved(intent, Resolution.KEPT)
            return await self._finish(intent, IntentState.ROLLED_BACK, ())
        if intent.operation == "delete" and await self._deletion_happened(intent, cache):
            return await self._finish(intent, IntentState.DONE, ("store.delete",))
        if intent.operation == "relink":
            undone = await self._undo_relink(intent)
            if landing and not cache.name_taken:
                # As for a create: its revival may land yet, and is undone again then.
                return _unresolved(intent, Resolution.KEPT, undone)
            return await self._finish(intent, IntentState.ROLLED_BACK, undone)
        key = (intent.resource_type, intent.target)
        actions: tuple[str, ...] = ()
        if intent.operation not in _RESTORING_OPERATIONS or key not in cache.settled:
            actions = await self._restore(intent, cache)
            if intent.operation in _RESTORING_OPERATIONS:
                cache.settled.add(key)
        if landing:
            # Put right for now, but a write landing after this restore would stay until a reconcile pass: kept
            # pending, it is restored again by the next write of the resource, and past the grace by the
            # background, from the store's (the newest) state.
            return _unresolved(intent, Resolution.KEPT, actions)
        return await self._finish(intent, IntentState.ROLLED_BACK, actions)

    async def _superseded_in_flight(self, intent: IntentRecord) -> bool:
        # One indexed probe, not a listing of every pending intent: a pass over n intents stays O(n).
        return await self.store.newer_pending_intent(intent.id, intent.target)

    async def _finish(
        self, intent: IntentRecord, state: IntentState, actions: tuple[str, ...]
    ) -> ResolvedIntent:
        try:
            await self.store.finish_intent(intent.id, state)
        except (IntentNotPending, NotFoundInStore):
            # Finished meanwhile by the request itself (a periodic run raced a slow request): its answer wins.
            # Gone is the same case: retention deletes only finished intents.
            return _unresolved(intent, Resolution.DEFERRED)
        resolution = Resolution.COMPLETED if state is IntentState.DONE else Resolution.ROLLED_BACK
        return ResolvedIntent(
            intent.id, intent.operation, intent.resource_type, intent.target, resolution, actions
        )

    async def _unmapped_users(self, cache: PassCache) -> list[MasterUser]:
        if cache.users is None:
            mapped = {r.det_id for r in await self.store.all_users(include_tombstoned=True)}
            users = [u async for u in self.client.iter_users() if u.id not in mapped]
            cache.user_creates = await self._pending_creates("User")
            cache.users = users
        return cache.users

    async def _pending_creates(self, resource_type: str) -> tuple[IntentRecord, ...]:
        """The pending creates of `resource_type`, read after the master was listed: a create whose object the
        listing shows journalled its intent before its master call, so it is among them unless it finished
        since (then its mapping holds the object, and mapping it again fails as a Duplicate)."""
        pending = await self.store.pending_intents()
        return tuple(i for i in pending if i.operation == "create" and i.resource_type == resource_type)

    async def _unmapped_groups(self, cache: PassCache) -> list[MasterGroupDetails]:
        if cache.groups is None:
            found: list[MasterGroupDetails] = []
            async for listed in self.client.iter_groups():
                if await self.store.get_group_by_det_id(listed.id) is None:
                    details = await master_group(self.client, listed.id)
                    if details is not None:
                        found.append(details)
            cache.group_creates = await self._pending_creates("Group")
            # Cached only when complete: a GET that failed midway defers this create, and a partial list would
            # have the next create rolled back for missing a group the master made.
            cache.groups = found
        return cache.groups

    async def _complete_user_create(self, intent: IntentRecord, cache: PassCache) -> tuple[str, ...] | None:
        """Map the Determined user this create made: the actions taken, or None if there is none to map."""
        if await self.store.get_user_by_scim_id(intent.target, include_tombstoned=True) is not None:
            return ()  # mapped by an earlier resolution that was stopped before it could finish the intent
        candidates = await self._unmapped_users(cache)
        for user in candidates:
            active = journalled_user_create(intent.payload_digest, user.username)
            if active is None:
                continue
            if any(
                o.id > intent.id and journalled_user_create(o.payload_digest, user.username) is not None
                for o in cache.user_creates
            ):
                raise _NewerCreatePending
            doc: dict[str, object] = {"userName": user.username, "active": active}
            if user.display_name:
                doc["displayName"] = user.display_name
            try:
                fields = UserFields(user.username, None, user.display_name or None, active, doc)
                await self.store.insert_user(scim_id=intent.target, det_id=user.id, fields=fields)
            except Duplicate:
                # The userName was provisioned again meanwhile (e.g. the user was adopted): leave the
                # Determined user unmapped; reconcile reports it.
                return None
            candidates.remove(user)
            if user.active != active:
                await self.client.patch_user(user.id, active=active)
            return (f"user.mapped:{user.id}",)
        return None

    async def _complete_group_create(self, intent: IntentRecord, cache: PassCache) -> tuple[str, ...] | None:
        """Map the Determined group this create made: the actions taken, or None if there is none to map."""
        if await self.store.get_group_by_scim_id(intent.target) is not None:
            return ()  # mapped by an earlier resolution that was stopped before it could finish the intent
        candidates = await self._unmapped_groups(cache)
        for details in candidates:
            if not journalled_group_create(intent.payload_digest, details):
                continue
            if any(
                o.id > intent.id and journalled_group_create(o.payload_digest, details)
                for o in cache.group_creates
            ):
                raise _NewerCreatePending
            try:
                await map_master_group(self.store, intent.target, details.id, details.name, details.users)
            except Duplicate:
                return None
            candidates.remove(details)
            return (f"group.mapped:{details.id}",)
        return None

    async def _undo_relink(self, intent: IntentRecord) -> tuple[str, ...]:
        """A relink revives a tombstoned user on the master first: put it back to sleep."""
        for record in await self.store.all_users(include_tombstoned=True):
            if record.tombstoned_at is None:
                continue
            master = await master_user(self.client, record.det_id)
            if master is None or not journalled_relink(intent.payload_digest, record.det_id, master.username):
                continue
            if master.active:
                await self.client.patch_user(record.det_id, active=False)
                return (f"user.deactivate:{record.det_id}",)
            return ()
        return ()

    async def _deletion_happened(self, intent: IntentRecord, cache: PassCache) -> bool:
        """If the master already shows the deletion, record it in the store and say so (for a user: see the
        module's note on ``delete``)."""
        if intent.resource_type == "User":
            record = await self.store.get_user_by_scim_id(intent.target)
            if record is None:
                return True
            master = await master_user(self.client, record.det_id)
            if master is not None and master.active:
                return False
            if master is None and intent.id not in cache.retirable:
                # Tombstoning it would be a retirement the guard did not count (the master answered otherwise
                # when it was counted, or nothing counted: a lone `resolve`; master_user took only the master's
                # own "user not found" as gone): the next run counts it.
                raise Unrepairable("a retirement the guard did not count")
            memberships = await self.store.groups_of_member(record.scim_id)
            if master is not None and not (
                record.active
                and journalled_user_delete(
                    intent.payload_digest, record.det_id, [g.det_id for g in memberships], record.version
                )
            ):
                # An inactive user shows this delete landed only where the store, as the delete read it, has it
                # active. Else the inactivity is the store's own state (the user was inactive before the DELETE,
                # or a write the IdP heard 2xx for since, a PATCH active=false, deactivated it) and proves
                # nothing: tombstoning would retire a user the IdP was last told exists (its next write a 404).
                return False
            # The deletion may have died between deactivating and leaving the groups: finish the second
            # step on the master before the store forgets the memberships (§7.2 Delete user).
            await self.client.leave_groups(record.det_id, [m.det_id for m in memberships])
            await self.store.tombstone_user(record.scim_id)
            return True
        group = await self.store.get_group_by_scim_id(intent.target)
        if group is None:
            return True
        if await master_group(self.client, group.det_id) is not None:
            return False
        if intent.id not in cache.retirable:
            # As for a user: forgetting the mapping is a retirement the guard must have counted (master_group
            # took only the master's own "no such group" as gone; the guard saw it too): the next run counts it.
            raise Unrepairable("a group retirement the guard did not count")
        await self.store.delete_group(group.scim_id)
        return True

    async def _restore(self, intent: IntentRecord, cache: PassCache) -> tuple[str, ...]:
        """Put the master back to the store's state for this resource (reconcile's idp_wins, one resource)."""
        repairer = Repairer(self.store, self.client, self.display_name, recreatable=cache.recreatable)
        drifts = await repairer.fresh_drifts(intent.resource_type, intent.target, Snapshot())
        if intent.target not in cache.recreatable and any(d.kind is DriftKind.GROUP_DELETED for d in drifts):
            # Re-creating it would be a write the guard did not count (the master had the group when it was
            # counted, or nothing counted: a lone `resolve`): the next run counts it. Raised before any write.
            raise Unrepairable("a group re-creation the guard did not count")
        done = []
        for drift in drifts:
            try:
                await repairer.apply(drift)
            except Unrepairable:
                # Nothing to roll back onto (e.g. the Determined user vanished): reconcile reports it.
                continue
            done.append(drift.kind.value)
        return tuple(done)


class _NewerCreatePending(Exception):
    """A create's object is also what a newer pending create journalled (the same userName, or displayName and
    members): that newer request may be in flight, between its master call and its mapping (`resolve`)."""


def _log_outcome(intent: IntentRecord, outcome: ResolvedIntent) -> None:
    """The line of an intent resolved (or deferred behind a request in flight), or kept pending."""
    fields = {
        "intent_id": intent.id,
        "request_id": intent.request_id,
        "operation": intent.operation,
        "resource_type": intent.resource_type,
        "target": intent.target,
        "resolution": outcome.resolution.value,
        "master_actions": list(outcome.master_actions),
    }
    if outcome.resolution is Resolution.KEPT:
        _log.info("reconcile.intent_kept", **fields)
    else:
        _log.info("reconcile.intent_resolved", **fields)


def _unresolved(
    intent: IntentRecord, resolution: Resolution, actions: tuple[str, ...] = ()
) -> ResolvedIntent:
    """The outcome of an intent left pending: deferred (to the next run), or kept (`Resolution.KEPT`: its master
    write may still land) after `actions` put the master right for now."""
    return ResolvedIntent(
        intent.id, intent.operation, intent.resource_type, intent.target, resolution, actions
    )


def _deferred(intent: IntentRecord, error: str) -> ResolvedIntent:
    """Log an intent left pending for the next run, and its outcome; `error` names the failure's class."""
    _log.warning(
        "reconcile.intent_deferred",
        intent_id=intent.id,
        operation=intent.operation,
        resource_type=intent.resource_type,
        error=error,
    )
    return _unresolved(intent, Resolution.DEFERRED)
