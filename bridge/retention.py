"""One retention pass over the intent journal and the audit log: finished intents older than
``database.intent_retention_days`` and audit lines older than ``database.audit_retention_days`` go, pending
intents never do. Each store call deletes a bounded batch in one short write, so IdP writes run between batches
instead of waiting behind one long delete. ``serve`` runs a pass at start-up and then hourly
(bridge/web/retention.py); ``scim-bridge db prune`` runs one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bridge.config import DatabaseSettings
from bridge.store import Store

_log = structlog.get_logger("bridge.store")


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
