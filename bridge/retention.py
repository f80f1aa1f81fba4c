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


async def prune_once(
    store: Store,
    database: DatabaseSettings,
    now: datetime,
    batch: int,
    on_batch: Callable[[str, int], None] | None = None,
) -> Pruned:
    """Delete what is past retention at `now`, `batch` rows per store call, telling `on_batch` (table, rows) after
    each; logs ``store.pruned`` if any went, also when a later batch fails: what went before stays deleted."""
    fields: dict[str, object] = {}
    deleted = {"intents": 0, "audit_log": 0}

    async def drain(table: str, prune: Callable[[], Awaitable[int]]) -> None:
        while True:
            count = await prune()
            deleted[table] += count
            if on_batch is not None:
                on_batch(table, count)
            if count < batch:
                return

    cut = cutoffs(database, now)
    try:
        if (intents_before := cut.intents) is not None:
            fields["intents_before"] = intents_before.isoformat()
            await drain("intents", lambda: store.prune_intents(intents_before, limit=batch))
        if (audit_before := cut.audit) is not None:
            fields["audit_before"] = audit_before.isoformat()
            await drain("audit_log", lambda: store.prune_audit(audit_before, limit=batch))
    finally:
        if deleted["intents"] or deleted["audit_log"]:
            _log.info("store.pruned", intents=deleted["intents"], audit=deleted["audit_log"], **fields)
    return Pruned(deleted["intents"], deleted["audit_log"])
