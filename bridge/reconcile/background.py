"""The bridge's background reconciliation: intents left by a previous process at start-up, drift every interval.

A cleanup_ctx runs before the listener accepts requests, so every pending intent found then belongs to a
process that is gone and can be resolved at once. That start-up pass is bounded (``START_BUDGET``): a
bridge that comes back after a long master outage with many intents pending must still open its listener
(and answer its liveness probe) soon, so what is left over is resolved by the background task, whose
in-flight deferral keeps it safe beside live requests. Later, intents older than ``reconcile.intent_grace``
(a request answered 503 after a master timeout) are resolved in the background, as are those the master
was too sick to answer for; ``reconcile.interval`` > 0 adds a full pass per policy on that period.

Each of those resolution runs is held to the retirement guard a pass is held to (intents.py): past the bound it
resolves nothing, and the next run decides again. The loop logs ``reconcile.retire_refused`` when a refusal starts
or changes, then every ``REFUSAL_REPEAT`` seconds while it lasts, and ``reconcile.retire_refusal_cleared`` when it
ends; the gauge ``scim_bridge_reconcile_refused`` shows it meanwhile, and a refused pass logs only the
``reconcile.drift`` lines the previous refused pass did not have (refusal_log.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Final

import structlog
from aiohttp import web

from bridge.config import Settings
from bridge.determined import DeterminedClient, MasterError
from bridge.provisioning.adoption import Adopter
from bridge.reconcile.factory import build_intent_resolver, build_reconciler, intent_cutoff, mode_for
from bridge.reconcile.intents import IntentResolver, Resolution
from bridge.reconcile.refusal_log import ThrottledRefusalLog
from bridge.reconcile.shadow import shadowed
from bridge.store import Store, StoreError
from bridge.tasks import stop
from bridge.web.keys import MASTER, STORE
from bridge.web.metrics import METRICS
from bridge.wiring import protected_usernames

# Upper bound of the period at which pending intents are looked at.
RETRY_PERIOD: Final = 15.0
# Seconds the start-up pass may spend before the listener opens; the rest is left to the background task.
START_BUDGET: Final = 10.0
# Seconds between two log lines of the same ongoing refusal: a reminder, not one error per run (every 15 s).
REFUSAL_REPEAT: Final = 300.0
_log = structlog.get_logger("bridge.reconcile")

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


async def resolve_leftovers(
    resolver: IntentResolver, cutoff: datetime, deadline: float | None = None
) -> bool:
    """Resolve pending intents created before ``cutoff``, stopping at ``deadline`` (``time.monotonic()``).

    True when none of them is left pending: not cut short by the deadline, none deferred, no failure, not
    refused by the retirement guard.
    """
    try:
        resolved = await resolver.resolve_all(created_before=cutoff, deadline=deadline)
    except (MasterError, StoreError) as exc:
        _log.warning("reconcile.intents_deferred", error=type(exc).__name__)
        return False
    if resolved.refusal is not None:
        return False
    outcomes = resolved.outcomes
    if deadline is not None and time.monotonic() >= deadline:
        _log.warning(
            "reconcile.intents_left_for_background",
            resolved=sum(o.resolution is not Resolution.DEFERRED for o in outcomes),
            budget_s=START_BUDGET,
        )
        return False
    return all(o.resolution is not Resolution.DEFERRED for o in outcomes)


def _intent_cutoff(settings: Settings, started: datetime) -> datetime:
    """Intents created before this are resolvable: older than the grace, or left by a previous process."""
    return max(started, intent_cutoff(settings))


async def _periodic(
    app: web.Application,
    settings: Settings,
    store: Store,
    client: DeterminedClient,
    started: datetime,
    *,
    leftovers: bool,
) -> None:
    refusals = ThrottledRefusalLog(REFUSAL_REPEAT, app.get(METRICS))
    resolver = build_intent_resolver(settings, store, client, path="background", refusals=refusals)
    interval = settings.reconcile.interval
    # A request answered 503 after a master timeout leaves its intent pending while the IdP retries;
    # resolving it within about one grace period lets that retry find a consistent state.
    intent_period = max(0.5, min(RETRY_PERIOD, settings.reconcile.intent_grace / 2))
    next_pass = time.monotonic() + interval
    while True:
        # What the start-up pass left pending (no time, or the master failed) goes first, without waiting.
        period = 0.0 if leftovers else intent_period
        leftovers = False
        if interval > 0:
            period = min(period, max(0.0, next_pass - time.monotonic()))
        await asyncio.sleep(period)
        await resolve_leftovers(resolver, _intent_cutoff(settings, started))
        if interval > 0 and time.monotonic() >= next_pass:
            next_pass = time.monotonic() + interval
            await _one_pass(app, settings, store, client, started, refusals)


async def _one_pass(
    app: web.Application,
    settings: Settings,
    store: Store,
    client: DeterminedClient,
    started: datetime,
    refusals: ThrottledRefusalLog,
) -> None:
    metrics = app.get(METRICS)
    try:
        reconciler = await build_reconciler(settings, store, client, refusals=refusals)
        report = await reconciler.run(mode_for(settings), intents_before=_intent_cutoff(settings, started))
    except (MasterError, StoreError) as exc:
        _log.warning("reconcile.pass_failed", error=type(exc).__name__)
        if metrics is not None:
            metrics.observe_reconcile("failed", {}, time.time())
        return
    if metrics is not None:
        metrics.observe_reconcile("ok" if not report.failed else "partial", report.counts, time.time())


async def _adopt_on_start(
    settings: Settings, store: Store, client: DeterminedClient, *, intents_settled: bool
) -> None:
    """``reconcile.adopt_on_start``: link unmanaged master users and groups by name, once, before serving.

    Only after the previous process's intents are settled: a user a crashed create made belongs to that
    create's SCIM id, which adoption would otherwise replace with a new one.
    """
    if not intents_settled:
        _log.warning("adoption.skipped", reason="intents_pending")
        return
    try:
        report = await Adopter(store, client, protected_usernames(settings)).adopt()
    except (MasterError, StoreError) as exc:
        # The bridge still serves; `scim-bridge adopt` can be run once the master (or the database) is back.
        _log.warning("adoption.failed", error=type(exc).__name__)
        return
    _log.info(
        "adoption.report",
        users_linked=len(report.users),
        groups_linked=len(report.groups),
        skipped=len(report.skipped),
        released=len(report.released),
    )


def reconcile_context(settings: Settings) -> CleanupContext:
    """A cleanup_ctx entry; register it after the store and master contexts and before the services.

    In ``mode: shadow`` it first replaces ``app[MASTER]`` by a ShadowClient, so the services built after it
    (and intent resolution) compute master writes without making them.
    """

    async def context(app: web.Application) -> AsyncIterator[None]:
        store = app[STORE]
        if settings.mode == "shadow":
            app[MASTER] = shadowed(app[MASTER])
        client = app[MASTER]
        started = datetime.now(UTC)
        resolver = build_intent_resolver(settings, store, client, path="startup")
        # Before the listener opens no request is in flight: every pending intent is a previous process's.
        finished = await resolve_leftovers(resolver, started, deadline=time.monotonic() + START_BUDGET)
        if settings.reconcile.adopt_on_start:
            await _adopt_on_start(settings, store, client, intents_settled=finished)
        task = asyncio.create_task(_periodic(app, settings, store, client, started, leftovers=not finished))
        try:
            yield
        finally:
            await stop(task)

    return context
