"""How a run's retirement-guard refusal is told: ``reconcile.retire_refused``, once per run or throttled.

A one-off run (start-up, a CLI command) logs its refusal. The background loop runs every few seconds, and a refusal
lasts until an operator acts (points master.url back, or overrides), so logging it on every run would bury the
logs in identical errors: its log tells when the refusal starts, when it changes (other counts, renames included,
or another bound), again every ``repeat_after`` seconds while it lasts, and when it clears; the
``scim_bridge_reconcile_refused`` gauge shows it all along.

A refused pass also tells its drifts (``reconcile.drift``, one warning each), and against a wrong master that is
every mapping, again at every pass: thousands of identical lines every few minutes. The background loop's log tells
each drift once per refusal: a refused pass logs the drifts the previous refused pass of that path did not have, and
only counts the others (``drift_lines_suppressed`` in its ``reconcile.summary``), until a pass is allowed again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from bridge.metrics import MetricsRecorder
from bridge.reconcile.drift import Drift
from bridge.reconcile.guard import RetireRefusal

_log = structlog.get_logger("bridge.reconcile")


def _log_drifts(drifts: Sequence[Drift]) -> None:
    for drift in drifts:
        _log.warning("reconcile.drift", **drift.log_fields())


class RefusalLog:
    """Logs every refusal it is given (a run that stands alone)."""

    def outcome(self, path: str, refusal: RetireRefusal | None) -> None:
        """The guard's decision for one run of `path`: its refusal, or None when the run was allowed."""
        if refusal is not None:
            _log.error("reconcile.retire_refused", path=path, **refusal.log_fields())

    def drifts(self, path: str, drifts: Sequence[Drift], *, refused: bool) -> int:
        """Log a pass's drifts (`refused`: the guard refused the pass); returns how many it left unlogged."""
        _log_drifts(drifts)
        return 0


@dataclass(slots=True)
class _Refused:
    """One path's ongoing refusal: what it is, since when, when it was last logged, runs refused since then."""

    key: tuple[object, ...]
    since: float
    logged_at: float
    runs: int = 0


@dataclass(slots=True)
class ThrottledRefusalLog(RefusalLog):
    """The background loop's: each path's refusal is logged when it starts or changes, then at most every
    `repeat_after` seconds while it lasts, and ``reconcile.retire_refusal_cleared`` when a run is allowed again.
    Each line says how many refused runs it stands for and how long the refusal has lasted."""

    repeat_after: float
    metrics: MetricsRecorder | None = None
    _state: dict[str, _Refused] = field(default_factory=dict)
    # Per path, the drifts of its last refused pass: all logged by now, by that pass or an earlier one.
    _told: dict[str, frozenset[Drift]] = field(default_factory=dict)

    def drifts(self, path: str, drifts: Sequence[Drift], *, refused: bool) -> int:
        if not refused:
            # An allowed pass repairs what it logs: its lines are news each time, and a later refusal starts over.
            self._told.pop(path, None)
            _log_drifts(drifts)
            return 0
        told = self._told.get(path, frozenset())
        fresh = [d for d in drifts if d not in told]
        _log_drifts(fresh)
        # Only this pass's drifts are kept: one that went away and comes back is news again.
        self._told[path] = frozenset(drifts)
        return len(drifts) - len(fresh)

    def outcome(self, path: str, refusal: RetireRefusal | None) -> None:
        now = time.monotonic()
        current = self._state.get(path)
        if refusal is None:
            self._told.pop(path, None)
            if current is not None:
                del self._state[path]
                _log.info(
                    "reconcile.retire_refusal_cleared",
                    path=path,
                    refused_for_s=round(now - current.since, 1),
                )
            self._gauge(path, 0)
            return
        key = (
            refusal.resource,
            refusal.missing,
            refusal.renamed,
            refusal.forgotten,
            refusal.mapped,
            refusal.setting,
        )
        if current is None or current.key != key:
            # A new refusal, or the master changed under it: worth a line at once. A change keeps `since`.
            since = now if current is None else current.since
            current = self._state[path] = _Refused(key, since, now)
        elif now - current.logged_at < self.repeat_after:
            current.runs += 1
            self._gauge(path, refusal.counted)
            return
        current.runs += 1
        _log.error(
            "reconcile.retire_refused",
            path=path,
            refused_runs=current.runs,
            refused_for_s=round(now - current.since, 1),
            **refusal.log_fields(),
        )
        current.logged_at, current.runs = now, 0
        self._gauge(path, refusal.counted)

    def _gauge(self, path: str, counted: int) -> None:
        if self.metrics is not None:
            self.metrics.set_reconcile_refused(path, counted)
