"""Reconciliation with the master: drift detection and repair, and resolution of unfinished intents (issue 7)."""

from bridge.reconcile.drift import Drift, DriftKind, ReconcileReport
from bridge.reconcile.factory import build_intent_resolver, build_reconciler, intent_cutoff, mode_for
from bridge.reconcile.guard import RetireGuard, RetireRefusal
from bridge.reconcile.intents import IntentPass, IntentResolver, Resolution, ResolvedIntent
from bridge.reconcile.reconciler import Mode, Reconciler

__all__ = [
    "Drift",
    "DriftKind",
    "IntentPass",
    "IntentResolver",
    "Mode",
    "ReconcileReport",
    "Reconciler",
    "Resolution",
    "ResolvedIntent",
    "RetireGuard",
    "RetireRefusal",
    "build_intent_resolver",
    "build_reconciler",
    "intent_cutoff",
    "mode_for",
]
