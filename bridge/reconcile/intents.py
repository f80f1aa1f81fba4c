"""Start-up and periodic resolution of unfinished intents (issue 7, intent journal; conventions §4.6).

An intent is journalled before a master write and finished in the same SQLite transaction as the mapping
write, so a pending intent means: the master may or may not have applied the change, and the store still
holds the state from before the request. The IdP never got a success answer and will retry. Resolution asks
the master what happened and either completes the intent (the master shows the IdP's final wish, which
the store can record without the request body: a deletion) or rolls it back (the master is put back to
what the store says, so the IdP's retry starts from a state both sides agree on). A retried POST then
re-links the same Determined object by name (provisioning adopts an unmapped master object with the same
userName / group name), so a crash never yields two.

Targets, as provisioning journals them: ``operation`` is ``create``, ``replace``, ``patch`` or ``delete``;
``target`` is the SCIM id for existing resources and the userName / displayName for a create.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import structlog

from bridge.determined import DeterminedClient, MasterNotFound
from bridge.reconcile.detect import DisplayName, Snapshot, master_group, master_user
from bridge.reconcile.repair import REPAIR_ERRORS, Repairer, Unrepairable
from bridge.store import IntentRecord, IntentState, Store

_log = structlog.get_logger("bridge.reconcile")


class Resolution(enum.Enum):
    """How an intent ended."""

    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    DEFERRED = "deferred"  # the master could not be asked; try again next time


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
class IntentResolver:
    """Resolves pending intents against the master; safe to run again on the same intents."""

    store: Store
    client: DeterminedClient
    display_name: DisplayName

    async def resolve_all(self, *, created_before: datetime | None = None) -> list[ResolvedIntent]:
        """Resolve pending intents (only those created before ``created_before`` if given), oldest first.

        One that cannot be resolved now (master unreachable) stays pending for the next run.
        """
        outcomes: list[ResolvedIntent] = []
        for intent in await self.store.pending_intents():
            if created_before is not None and intent.created >= created_before:
                continue
            try:
                outcome = await self.resolve(intent)
            except REPAIR_ERRORS as exc:
                _log.warning(
                    "reconcile.intent_deferred",
                    intent_id=intent.id,
                    operation=intent.operation,
                    resource_type=intent.resource_type,
                    error=type(exc).__name__,
                )
                outcome = ResolvedIntent(
                    intent.id, intent.operation, intent.resource_type, intent.target, Resolution.DEFERRED
                )
            else:
                _log.info(
                    "reconcile.intent_resolved",
                    intent_id=intent.id,
                    request_id=intent.request_id,
                    operation=intent.operation,
                    resource_type=intent.resource_type,
                    target=intent.target,
                    resolution=outcome.resolution.value,
                    master_actions=list(outcome.master_actions),
                )
            outcomes.append(outcome)
        return outcomes

    async def resolve(self, intent: IntentRecord) -> ResolvedIntent:
        """Complete or roll back one intent."""
        if intent.operation == "create":
            actions = await self._undo_create(intent)
            return await self._finish(intent, IntentState.ROLLED_BACK, actions)
        if intent.operation == "delete" and await self._deletion_happened(intent):
            return await self._finish(intent, IntentState.DONE, ("store.delete",))
        actions = await self._restore(intent)
        return await self._finish(intent, IntentState.ROLLED_BACK, actions)

    async def _finish(
        self, intent: IntentRecord, state: IntentState, actions: tuple[str, ...]
    ) -> ResolvedIntent:
        await self.store.finish_intent(intent.id, state)
        resolution = Resolution.COMPLETED if state is IntentState.DONE else Resolution.ROLLED_BACK
        return ResolvedIntent(
            intent.id, intent.operation, intent.resource_type, intent.target, resolution, actions
        )

    async def _undo_create(self, intent: IntentRecord) -> tuple[str, ...]:
        """A create whose mapping was never written: take the master object back out of service.

        Users cannot be deleted on the master (§8.16): an unmapped user it created is deactivated (the IdP
        never heard of it; its retried POST re-links and reactivates it). An unmapped group is deleted.
        A master object the store does map belongs to someone else's finished request: left alone.
        """
        if intent.resource_type == "User":
            if await self.store.get_user_by_user_name(intent.target, include_tombstoned=True) is not None:
                return ()
            user = await self.client.get_user_by_username(intent.target)
            if user is None or not user.active:
                return ()
            await self.client.patch_user(user.id, active=False)
            return (f"user.deactivate:{user.id}",)
        if await self.store.get_group_by_display_name(intent.target) is not None:
            return ()
        actions = []
        async for group in self.client.iter_groups(name=intent.target):
            if await self.store.get_group_by_det_id(group.id) is None:
                try:
                    await self.client.delete_group(group.id)
                except MasterNotFound:
                    continue
                actions.append(f"group.delete:{group.id}")
        return tuple(actions)

    async def _deletion_happened(self, intent: IntentRecord) -> bool:
        """If the master already shows the deletion, record it in the store and say so."""
        if intent.resource_type == "User":
            record = await self.store.get_user_by_scim_id(intent.target)
            if record is None:
                return True
            master = await master_user(self.client, record.det_id)
            if master is not None and master.active:
                return False
            await self.store.tombstone_user(record.scim_id)
            return True
        group = await self.store.get_group_by_scim_id(intent.target)
        if group is None:
            return True
        if await master_group(self.client, group.det_id) is not None:
            return False
        await self.store.delete_group(group.scim_id)
        return True

    async def _restore(self, intent: IntentRecord) -> tuple[str, ...]:
        """Put the master back to the store's state for this resource (reconcile's idp_wins, one resource)."""
        repairer = Repairer(self.store, self.client, self.display_name)
        drifts = await repairer.fresh_drifts(intent.resource_type, intent.target, Snapshot())
        done = []
        for drift in drifts:
            try:
                await repairer.apply(drift)
            except Unrepairable:
                # Nothing to roll back onto (e.g. the Determined user vanished): reconcile reports it.
                continue
            done.append(drift.kind.value)
        return tuple(done)
