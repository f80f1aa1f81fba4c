"""Ending the background tasks that live as long as the app (start-up announcement, retention, reconcile)."""

from __future__ import annotations

import asyncio
import contextlib


async def stop(task: asyncio.Task[object]) -> None:
    """Cancel `task` and wait until it has ended: its cleanup runs before the store or client it uses closes.
    The task's own cancellation is what was asked for, so it is not raised; any other error it ends with is."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
