"""The bridge's background reconciliation: intents left by a previous process at start-up, drift every interval.

A cleanup_ctx runs before the listener accepts requests, so every pending intent found then belongs to a
process that is gone and can be resolved at once. Intents that could not be resolved (master down) are
retried in the background; ``reconcile.interval`` > 0 adds a full pass per policy on that period.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from aiohttp import web

from bridge.config import Settings
from bridge.determined import DeterminedClient, MasterError
from bridge.reconcile.desired import display_names
from bridge.reconcile.factory import build_reconciler, mode_for
from bridge.reconcile.intents import IntentResolver, Resolution
from bridge.store import Store, StoreError
from bridge.web.metrics import METRICS

# How often intents left over from a previous process are retried while the master is unreachable.
RETRY_PERIOD: Final = 15.0
_log = structlog.get_logger("bridge.reconcile")

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


async def resolve_leftovers(resolver: IntentResolver, started: datetime) -> bool:
    """Resolve intents created before this process started; True when none is left pending."""
    try:
        outcomes = await resolver.resolve_all(created_before=started)
    except (MasterError, StoreError) as exc:
        _log.warning("reconcile.intents_deferred", error=type(exc).__name__)
        return False
    return all(o.resolution is not Resolution.DEFERRED for o in outcomes)


async def _periodic(
    app: web.Application,
    settings: Settings,
    store: Store,
    client: DeterminedClient,
    started: datetime,
    leftovers_done: bool,
) -> None:
    resolver = IntentResolver(store, client, display_names(settings.users.display_name_source))
    interval = settings.reconcile.interval
    next_pass = time.monotonic() + interval
    while True:
        if leftovers_done and interval <= 0:
            return
        until_pass = max(0.0, next_pass - time.monotonic())
        if leftovers_done:
            period = until_pass
        else:
            period = min(RETRY_PERIOD, until_pass) if interval > 0 else RETRY_PERIOD
        await asyncio.sleep(period)
        if not leftovers_done:
            leftovers_done = await resolve_leftovers(resolver, started)
        if interval <= 0 or time.monotonic() < next_pass:
            continue
        next_pass = time.monotonic() + interval
        await _one_pass(app, settings, store, client, started)


async def _one_pass(
    app: web.Application, settings: Settings, store: Store, client: DeterminedClient, started: datetime
) -> None:
    metrics = app.get(METRICS)
    cutoff = max(started, datetime.now(UTC) - timedelta(seconds=settings.reconcile.intent_grace))
    try:
        reconciler = await build_reconciler(settings, store, client)
        report = await reconciler.run(mode_for(settings), intents_before=cutoff)
    except (MasterError, StoreError) as exc:
        _log.warning("reconcile.pass_failed", error=type(exc).__name__)
        if metrics is not None:
            metrics.observe_reconcile("failed", {}, time.time())
        return
    if metrics is not None:
        metrics.observe_reconcile("ok" if not report.failed else "partial", report.counts, time.time())


def reconcile_context(
    settings: Settings,
    store_of: Callable[[web.Application], Store],
    client_of: Callable[[web.Application], DeterminedClient],
) -> CleanupContext:
    """A cleanup_ctx entry; register it after the store and client contexts so they exist when it starts."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        store = store_of(app)
        client = client_of(app)
        started = datetime.now(UTC)
        resolver = IntentResolver(store, client, display_names(settings.users.display_name_source))
        # Before the listener opens no request is in flight: every pending intent is a previous process's.
        leftovers_done = await resolve_leftovers(resolver, started)
        task = asyncio.create_task(_periodic(app, settings, store, client, started, leftovers_done))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return context
