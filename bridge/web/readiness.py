"""Registry of readiness checks: each returns None when healthy or a short reason when not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

ReadinessCheck = Callable[[], Awaitable[str | None]]
READINESS: Final = web.AppKey[dict[str, ReadinessCheck]]("readiness")
