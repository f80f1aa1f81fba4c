"""Retention of the intent journal and the audit log: ``serve`` prunes both at start-up, then every hour
(``scim-bridge db prune`` runs one pass).

Every SCIM write adds an intent and an audit line, so without this the database grows for as long as the
bridge serves. Finished intents older than ``database.intent_retention_days`` and audit lines older than
``database.audit_retention_days`` go; pending intents never do. Each store call deletes a bounded batch
(``PRUNE_BATCH`` rows) in one short write, so IdP writes run between batches instead of waiting behind one long
delete. A failed pass (a busy or failing database) is logged ``store.prune_failed`` and tried again next period;
a pass that deleted something logs ``store.pruned``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from aiohttp import web

from bridge.config import DatabaseSettings
from bridge.metrics import MetricsRecorder
from bridge.store import PRUNE_BATCH, Store, StoreError
from bridge.web.keys import STORE
from bridge.web.metrics import METRICS

# Seconds between two passes: rows become prunable by the day, so an hour keeps each pass small.
PRUNE_PERIOD: Final = 3600.0
_log = structlog.get_logger("bridge.store")

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one pass deleted."""

    intents: int = 0
    audit: int = 0


async def _all_batches(prune: Callable[[], Awaitable[int]], batch: int) -> int:
    deleted = 0
    while True:
        count = await prune()
        deleted += count
        if count < batch:
            return deleted


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """What is older than this goes: finished intents, audit lines (None: that table is kept forever)."""

    intents: datetime | None
    audit: datetime | None


def cutoffs(database: DatabaseSettings, now: datetime) -> Cutoffs:
    """The cut-offs of ``database.intent_retention_days`` and ``database.audit_retention_days`` at `now`."""

    def before(days: float) -> datetime | None:
        return now - timedelta(days=days) if days else None

    return Cutoffs(before(database.intent_retention_days), before(database.audit_retention_days))


async def prune_once(store: Store, database: DatabaseSettings, now: datetime, batch: int) -> Pruned:
    """Delete what is past retention at `now`, `batch` rows per store call; logs ``store.pruned`` if any went."""
    fields: dict[str, object] = {}
    intents = audit = 0
    cut = cutoffs(database, now)
    if (intents_before := cut.intents) is not None:
        intents = await _all_batches(lambda: store.prune_intents(intents_before, limit=batch), batch)
        fields["intents_before"] = intents_before.isoformat()
    if (audit_before := cut.audit) is not None:
        audit = await _all_batches(lambda: store.prune_audit(audit_before, limit=batch), batch)
        fields["audit_before"] = audit_before.isoformat()
    if intents or audit:
        _log.info("store.pruned", intents=intents, audit=audit, **fields)
    return Pruned(intents, audit)


async def _periodic(
    store: Store, database: DatabaseSettings, metrics: MetricsRecorder | None, period: float, batch: int
) -> None:
    while True:
        try:
            pruned = await prune_once(store, database, datetime.now(UTC), batch)
        except StoreError as exc:
            # What went before the failure stays deleted; the rest goes next period.
            _log.warning("store.prune_failed", error=type(exc).__name__)
        else:
            if metrics is not None:
                metrics.observe_pruned("intents", pruned.intents)
                metrics.observe_pruned("audit_log", pruned.audit)
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
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return context
