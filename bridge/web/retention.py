"""``serve``'s retention task: a pass of bridge/retention.py at start-up, then every hour.

Every SCIM write adds an intent and an audit line, so without it the database grows for as long as the bridge
serves. A failed pass (a busy or failing database) is logged ``store.prune_failed`` and tried again next period;
a pass that deleted something logs ``store.pruned``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Final

import structlog
from aiohttp import web

from bridge.config import DatabaseSettings
from bridge.metrics import MetricsRecorder
from bridge.retention import prune_once
from bridge.store import PRUNE_BATCH, Store, StoreError
from bridge.tasks import stop
from bridge.web.keys import STORE
from bridge.web.metrics import METRICS

# Seconds between two passes: rows become prunable by the day, so an hour keeps each pass small.
PRUNE_PERIOD: Final = 3600.0
_log = structlog.get_logger("bridge.store")

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


async def _periodic(
    store: Store, database: DatabaseSettings, metrics: MetricsRecorder | None, period: float, batch: int
) -> None:
    while True:
        counted = None if metrics is None else metrics.observe_pruned
        try:
            await prune_once(store, database, datetime.now(UTC), batch, counted)
        except StoreError as exc:
            # What went before the failure stays deleted (and counted); the rest goes next period.
            _log.warning("store.prune_failed", error=type(exc).__name__)
        await asyncio.sleep(period)


def retention_context(
    database: DatabaseSettings, *, period: float = PRUNE_PERIOD, batch: int = PRUNE_BATCH
) -> CleanupContext:
    """A cleanup_ctx entry, after the store's: prunes in a background task from start-up until shutdown (none
    when both retentions are 0). `period` and `batch` are for tests."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        if not (database.intent_retention_days or database.audit_retention_days):
            yield
            return
        store = app[STORE]
        task = asyncio.create_task(_periodic(store, database, app.get(METRICS), period, batch))
        try:
            yield
        finally:
            await stop(task)

    return context
