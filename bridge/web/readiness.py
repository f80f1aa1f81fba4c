"""Registry of readiness checks: each returns None when healthy or a short reason when not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import structlog
from aiohttp import web

from bridge.store import Store, StoreError, StoreUnwritable, report_problem

ReadinessCheck = Callable[[], Awaitable[str | None]]
READINESS: Final = web.AppKey[dict[str, ReadinessCheck]]("readiness")

_log = structlog.get_logger("bridge.store")


def _reason(exc: StoreError) -> str:
    """The error's class, and for StoreUnwritable which condition: the operator's fixes differ."""
    if isinstance(exc, StoreUnwritable):
        return f"{type(exc).__name__} ({exc.condition})"
    return type(exc).__name__


class DatabaseReadiness:
    """The ``database`` check: the store's probe read, its error's class as the reason. A Kubernetes probe asks
    every few seconds, so the problem is logged when readiness turns bad or the problem changes (store.corrupt,
    store.failed), and store.recovered when a probe passes again after one was logged; a busy database is
    logged by no store call, and not here either. After a StoreUnwritable the probe also writes, until a write
    passes: the store logs that condition's store.unwritable and store.recovered itself, once each."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._reason: str | None = None
        self._logged: str | None = None

    async def __call__(self) -> str | None:
        try:
            await self._store.probe()
            if self._store.unwritable is not None:
                # Reads pass on a full disk or a read-only file: only a write tells whether it was mended.
                await self._store.probe_write()
        except StoreError as exc:
            reason = _reason(exc)
            if reason != self._reason:
                self._reason = reason
                if report_problem(exc):
                    self._logged = reason
            return reason
        self._reason = None
        if self._logged is not None:
            _log.info("store.recovered", error=self._logged)
            self._logged = None
        return None
