"""One reconciliation pass: resolve pending intents, detect drift, log it, repair it per policy (issue 7).

Events: ``reconcile.drift`` (one per drift: kind, resource type, SCIM id, Determined id, expected/actual),
``reconcile.repaired`` / ``reconcile.repair_failed`` / ``reconcile.repair_skipped``, and one
``reconcile.summary`` with counts per kind. A repair pass that finds more user.missing mappings than
``reconcile.max_retire``, or than ``reconcile.max_retire_fraction`` of the mapped users, logs
``reconcile.retire_refused`` and changes nothing, not even pending intents (bridge/reconcile/guard.py,
docs/reliability.md); so does one that finds more group.deleted groups (to re-create) than those bounds allow of
the mapped groups. user.renamed and group.renamed drifts count toward the same bounds, with their resource's.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from bridge.determined import DeterminedClient
from bridge.reconcile.detect import DisplayName, Snapshot, detect
from bridge.reconcile.drift import REPORT_ONLY_KINDS, Drift, DriftKind, ReconcileReport
from bridge.reconcile.guard import RetireGuard, RetireRefusal
from bridge.reconcile.intents import IntentResolver, Resolution, ResolvedIntent
from bridge.reconcile.refusal_log import RefusalLog
from bridge.reconcile.repair import REPAIR_ERRORS, Repairer
from bridge.store import Store

_log = structlog.get_logger("bridge.reconcile")


class Mode(enum.Enum):
    """What a pass may change."""

    REPORT = "report"  # detect and log; change nothing
    DRY_RUN = "dry_run"  # detect, log the repairs it would make; change nothing
    REPAIR = "repair"  # detect and repair (policy idp_wins), resolving pending intents first


@dataclass(frozen=True, slots=True)
class Reconciler:
    """Compares the store (the IdP's intent) with the master and, when asked, makes the master follow."""

    store: Store
    client: DeterminedClient
    display_name: DisplayName
    ignored_usernames: Collection[str]
    # How many user.missing mappings one repair pass may retire (`reconcile.max_retire` and
    # `reconcile.max_retire_fraction`, or no bound when the operator allows a mass retirement).
    retire_guard: RetireGuard
    # How a refused pass is logged: every time, or throttled for the background loop (refusal_log.py).
    refusals: RefusalLog = field(default_factory=RefusalLog)

    async def run(self, mode: Mode, *, intents_before: datetime | None = None) -> ReconcileReport:
        """One full pass; safe to repeat; never raises for a single failed repair.

        In REPAIR mode pending intents created before ``intents_before`` are resolved first (all of them
        when None, which is right only when no request can be in flight), unless the pass is refused.

        The retirement guard is decided on the first comparison, before anything is changed: a refused pass
        changes nothing on either side, not even intent resolution, whose restores and roll-backs would
        trust the same suspect master (a create rolled back because a wrong master lacks its user would let
        the IdP's retry create a second one on the right master). When resolution ran, both sides are
        compared again, as it may have changed either, and the guard is checked once more on what repairs
        will see. Resolution is held to the same guard on its own count (the deletes it would complete on users
        the master lacks); those are user.missing drifts of this comparison too, so it refuses only if the
        master changed in between, and then the pass is refused with it.
        """
        drifts, snapshot = await self._detect()
        refusal = self._refusal(drifts, snapshot)
        resolved: tuple[ResolvedIntent, ...] = ()
        # The resolver logs its own refusal (path "pass"); this pass logs only the one it decides itself.
        logged: RetireRefusal | None = None
        if mode is Mode.REPAIR and refusal is None:
            resolver = IntentResolver(
                self.store, self.client, self.display_name, self.retire_guard, "pass", self.refusals
            )
            settled = await resolver.resolve_all(created_before=intents_before)
            resolved, refusal = settled.outcomes, settled.refusal
            logged = refusal
            if resolved:
                drifts, snapshot = await self._detect()
                refusal = self._refusal(drifts, snapshot)
        refused = mode is Mode.REPAIR and refusal is not None
        # Every drift, except those a lasting refusal already logged (the background loop's RefusalLog).
        suppressed = self.refusals.drifts("pass", drifts, refused=refused)
        if mode is Mode.REPAIR and (refusal is None or refusal is not logged):
            # Also an allowed pass: the background loop's log says when a refusal clears.
            self.refusals.outcome("pass", refusal)
        repaired: list[Drift] = []
        failed: list[Drift] = []
        skipped: list[Drift] = []
        busy = {intent.target for intent in await self.store.pending_intents()}
        # The groups this pass counted as gone, none busy: a re-creation may move them aside (recreate.py).
        recreatable = {d.scim_id for d in drifts if d.kind is DriftKind.GROUP_DELETED and d.scim_id} - busy
        repairer = Repairer(
            self.store,
            self.client,
            self.display_name,
            retire_missing=True,
            recreatable=frozenset(recreatable),
        )
        for drift in drifts:
            if drift.kind in REPORT_ONLY_KINDS or mode is Mode.REPORT:
                continue
            if mode is Mode.DRY_RUN:
                _log.info("reconcile.would_repair", **drift.log_fields())
                continue
            if refused:
                failed.append(drift)
                continue
            if drift.scim_id in busy or drift.expected in busy:
                # A request for this resource is between its master write and its store write.
                _log.info("reconcile.repair_skipped", reason="pending_intent", **drift.log_fields())
                skipped.append(drift)
                continue
            if drift.kind is DriftKind.GROUP_DELETED and drift.scim_id in repairer.moved:
                # Re-created earlier in this pass, to free the id the master gave another group it re-created.
                _log.info("reconcile.repaired", **drift.log_fields())
                repaired.append(drift)
                continue
            try:
                current = await repairer.current(drift, snapshot)
                if current is None:
                    _log.info("reconcile.repair_skipped", reason="gone", **drift.log_fields())
                    skipped.append(drift)
                    continue
                await repairer.apply(current)
            except REPAIR_ERRORS as exc:
                _log.error("reconcile.repair_failed", error=type(exc).__name__, **drift.log_fields())
                failed.append(drift)
                continue
            _log.info("reconcile.repaired", **current.log_fields())
            repaired.append(current)
        report = ReconcileReport(
            drifts=tuple(drifts),
            repaired=tuple(repaired),
            failed=tuple(failed),
            refused=refused,
            refusal=refusal,
            skipped_busy=tuple(skipped),
            users_checked=snapshot.users_checked,
            groups_checked=snapshot.groups_checked,
            counts=ReconcileReport.count(drifts),
        )
        _log.info(
            "reconcile.summary",
            mode=mode.value,
            users_checked=report.users_checked,
            groups_checked=report.groups_checked,
            drifts=len(drifts),
            by_kind=report.counts,
            repaired=len(repaired),
            failed=len(failed),
            skipped=len(skipped),
            refused=refused,
            drift_lines_suppressed=suppressed,
            intents_completed=sum(1 for r in resolved if r.resolution is Resolution.COMPLETED),
            intents_rolled_back=sum(1 for r in resolved if r.resolution is Resolution.ROLLED_BACK),
            intents_deferred=sum(1 for r in resolved if r.resolution is Resolution.DEFERRED),
        )
        return report

    async def _detect(self) -> tuple[list[Drift], Snapshot]:
        return await detect(
            self.store, self.client, display_name=self.display_name, ignored_usernames=self.ignored_usernames
        )

    def _refusal(self, drifts: Collection[Drift], snapshot: Snapshot) -> RetireRefusal | None:
        """Whether this comparison finds more vanished Determined users than one pass may retire, or more
        vanished mapped groups than it may re-create (each against its own mapped count), counting the renamed
        ones of each with them: a wrong master's own objects under the mapped ids show as renamed, and renaming
        them back would hand its accounts and groups the IdP's names (guard.py).

        Past the bound the pass changes nothing on either side, not even the other repairs: they would be
        written to the same suspect master. A report or dry run only tells (a dry run prints what --repair
        would refuse).
        """
        kinds = Counter(d.kind for d in drifts)
        return self.retire_guard.first_refusal(
            (kinds[DriftKind.USER_MISSING], snapshot.users_checked),
            (kinds[DriftKind.GROUP_DELETED], snapshot.groups_checked),
            renamed=(kinds[DriftKind.USER_RENAMED], kinds[DriftKind.GROUP_RENAMED]),
        )
