"""EndedIntents on its own: what a retry holding a key settles, what stays noted, what is forgotten."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import pytest

from bridge.provisioning.ended import EndedIntents


class _Resolver:
    """Records what it was asked; `pending` are the ids it reports still pending (the master failed for them)."""

    def __init__(self, pending: frozenset[int] = frozenset()) -> None:
        self.asked: list[frozenset[int]] = []
        self.pending = pending

    async def __call__(self, ids: Collection[int]) -> Collection[int]:
        self.asked.append(frozenset(ids))
        return self.pending & frozenset(ids)


async def test_a_retry_settles_only_its_own_key_and_forgets_what_it_resolved() -> None:
    resolver = _Resolver()
    ended = EndedIntents(resolver, keep_s=120.0)
    ended.ended([("user-name:ada", 1), ("user:x", 2)])
    ended.ended([("user-name:ada", 3)])
    async with ended.settling("user-name:ada"):
        pass
    async with ended.settling("user-name:ada"):
        pass
    async with ended.settling("user-name:bob"):
        pass
    assert resolver.asked == [frozenset({1, 3})]


async def test_what_the_master_could_not_settle_is_asked_again_at_the_next_retry() -> None:
    resolver = _Resolver(pending=frozenset({1}))
    ended = EndedIntents(resolver, keep_s=120.0)
    ended.ended([("group:g", 1), ("group:g", 2)])
    for _ in range(2):
        with pytest.raises(ValueError, match="refused"):
            async with ended.settling("group:g"):
                raise ValueError("refused")  # the retry's own failure: it still settles
    assert resolver.asked == [frozenset({1, 2}), frozenset({1})]


async def test_a_cancelled_request_leaves_the_settling_to_the_next_holder() -> None:
    resolver = _Resolver()
    ended = EndedIntents(resolver, keep_s=120.0)
    ended.ended([("user:x", 1)])
    with pytest.raises(asyncio.CancelledError):
        async with ended.settling("user:x"):
            raise asyncio.CancelledError
    assert resolver.asked == []
    async with ended.settling("user:x"):
        pass
    assert resolver.asked == [frozenset({1})]


async def test_notes_older_than_the_grace_are_left_to_the_background() -> None:
    resolver = _Resolver()
    ended = EndedIntents(resolver, keep_s=0.0)
    ended.ended([("user:x", 1)])
    await asyncio.sleep(0.01)
    ended.ended([("user:y", 2)])  # each note drops those past the grace
    async with ended.settling("user:x"):
        pass
    assert resolver.asked == []
