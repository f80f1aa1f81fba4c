"""Drift records: one difference between what the store says the IdP intended and what the master holds."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from bridge.provisioning import stale
from bridge.reconcile.guard import RetireRefusal


class DriftKind(enum.Enum):
    """Every kind of disagreement reconciliation knows how to find (issue 7, Reconciliation)."""

    USER_MISSING = stale.USER_MISSING  # mapping points at a Determined user that no longer exists
    USER_RENAMED = "user.renamed"  # username changed on the master (Determined UI / CLI)
    USER_DISPLAY_NAME = "user.display_name"  # display name changed on the master
    USER_DEACTIVATED = "user.deactivated"  # deactivated on the master while the IdP wants it active
    USER_REACTIVATED = "user.reactivated"  # active on the master while the IdP wants it inactive or deleted
    USER_UNMANAGED = "user.unmanaged"  # exists only on the master (added in Determined's UI)
    GROUP_DELETED = "group.deleted"  # mapping points at a Determined group that no longer exists
    GROUP_RENAMED = "group.renamed"  # renamed on the master
    GROUP_MEMBER_ADDED = "group.member_added"  # a member added on the master, not by the IdP
    GROUP_MEMBER_REMOVED = "group.member_removed"  # a member removed on the master, not by the IdP
    GROUP_UNMANAGED = "group.unmanaged"  # exists only on the master


# Kinds that describe objects the IdP never asked for: reported, never changed (the IdP's intent covers
# only what it provisioned; `scim-bridge adopt` links such objects deliberately).
REPORT_ONLY_KINDS = frozenset({DriftKind.USER_UNMANAGED, DriftKind.GROUP_UNMANAGED})


@dataclass(frozen=True, slots=True)
class Drift:
    """One difference; ``expected`` is the IdP's intent (from the store), ``actual`` the master's value."""

    kind: DriftKind
    resource_type: str
    scim_id: str | None
    det_id: int | None
    expected: str | None = None
    actual: str | None = None
    det_user_ids: tuple[int, ...] = ()

    def log_fields(self) -> dict[str, object]:
        """Fields of the ``reconcile.drift`` event: ids and values, never documents."""
        fields: dict[str, object] = {
            "kind": self.kind.value,
            "resource_type": self.resource_type,
            "scim_id": self.scim_id,
            "det_id": self.det_id,
        }
        if self.expected is not None:
            fields["expected"] = self.expected
        if self.actual is not None:
            fields["actual"] = self.actual
        if self.det_user_ids:
            fields["det_user_ids"] = list(self.det_user_ids)
        return fields


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconciliation pass found and did."""

    drifts: tuple[Drift, ...]
    repaired: tuple[Drift, ...] = ()
    failed: tuple[Drift, ...] = ()
    skipped_busy: tuple[Drift, ...] = ()
    # A repair pass found more user.missing (or group.deleted) drifts, renames of the same resource counted with
    # them, than its guard allows: it changed nothing (all in failed).
    refused: bool = False
    # Why the guard refuses these drifts (also in a report or dry run, which refuse nothing themselves).
    refusal: RetireRefusal | None = None
    users_checked: int = 0
    groups_checked: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def count(drifts: Iterable[Drift]) -> dict[str, int]:
        """Drifts per kind, for the summary line."""
        return dict(Counter(d.kind.value for d in drifts))

    @property
    def actionable(self) -> tuple[Drift, ...]:
        """Drifts the IdP's intent says how to repair."""
        return tuple(d for d in self.drifts if d.kind not in REPORT_ONLY_KINDS)
