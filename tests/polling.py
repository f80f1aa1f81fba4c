"""Waiting for what a task on the test's own event loop (a background loop) or a thread (the checkpointer) brings
about. There is no finer event to await, so the condition is polled; the bound turns a hang into a failure."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

POLLS = 3000  # of 10 ms: 30 s, far above any wait these tests expect on a loaded machine
EVERY = 0.01


async def until(
    condition: Callable[[], bool | Awaitable[bool]],
    failure: str,
    *,
    polls: int = POLLS,
    every: float = EVERY,
) -> None:
    """Return once `condition` (a plain or async callable) holds; raise AssertionError(`failure`) if it still
    does not after `polls` tries `every` seconds apart."""
    for _ in range(polls):
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        await asyncio.sleep(every)
    raise AssertionError(failure)
