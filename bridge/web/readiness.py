"""Registry of readiness checks: each returns None when healthy or a short reason when not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import structlog
from aiohttp import web

from bridge.store import Store, StoreError, report_problem

ReadinessCheck = Callable[[], Awaitable[str | None]]
READINESS: Final = web.AppKey[dict[str, ReadinessCheck]]("readiness")

_log = structlog.get_logger("bridge.store")


class DatabaseReadiness:
    """The ``database`` check: the store's probe read, its error's class as the reason. A Kubernetes probe asks
    every few seconds, so the problem is logged when readiness turns bad or the problem changes (store.corrupt,
    store.failed), and store.recovered when a probe passes again after one was logged; a busy database is
    logged by no store call, and not here either."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._reason: str | None = None
        self._logged: str | None = None

    async def __call__(self) -> str | None:
        try:
            await self._store.probe()
        except StoreError as exc:
            reason = type(exc).__name__
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
