"""EndedIntents on its own: what a retry holding a key settles, what stays noted, what is forgotten."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import pytest

from bridge.provisioning.ended import EndedIntents
from bridge.scim.errors import InternalError, ServiceUnavailable, Uniqueness


class _Resolver:
    """Records what it was asked; `pending` are the ids it reports still pending (the master failed for them)."""

    def __init__(self, pending: frozenset[int] = frozenset()) -> None:
        self.asked: list[frozenset[int]] = []
        self.landing: list[frozenset[int]] = []
        self.name_taken: list[bool] = []
        self.pending = pending

    async def __call__(
        self, ids: Collection[int], landing: Collection[int], name_taken: bool
    ) -> Collection[int]:
        self.asked.append(frozenset(ids))
        self.landing.append(frozenset(landing))
        self.name_taken.append(name_taken)
        return self.pending & frozenset(ids)


async def test_a_retry_settles_only_its_own_key_and_forgets_what_it_resolved() -> None:
    resolver = _Resolver()
    ended = EndedIntents(resolver, keep_s=120.0)
    ended.ended([("user-name:ada", 1, True), ("user:x", 2, True)])
    ended.ended([("user-name:ada", 3, True)])
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
    ended.ended([("group:g", 1, True), ("group:g", 2, False)])
    for _ in range(2):
        with pytest.raises(ValueError, match="refused"):
            async with ended.settling("group:g"):
                raise ValueError("refused")  # the retry's own failure: it still settles
    assert resolver.asked == [frozenset({1, 2}), frozenset({1})]
    # Only what got no answer may still land, and stays so while it is noted.
    assert resolver.landing == [frozenset({1}), frozenset({1})]


async def test_a_cancelled_request_leaves_the_settling_to_the_next_holder() -> None:
    resolver = _Resolver()
    ended = EndedIntents(resolver, keep_s=120.0)
    ended.ended([("user:x", 1, True)])
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
    ended.ended([("user:x", 1, True)])
    await asyncio.sleep(0.01)
    ended.ended([("user:y", 2, True)])  # each note drops those past the grace
    async with ended.settling("user:x"):
        pass
    assert resolver.asked == []


async def test_the_name_is_taken_after_a_success_or_a_409_and_may_be_free_after_any_other_failure() -> None:
    """What tells resolution whether a create the master does not show can still land (PassCache.may_land)."""
    resolver = _Resolver(pending=frozenset({1}))
    ended = EndedIntents(resolver, keep_s=120.0)
    ended.ended([("user-name:ada", 1, True)])
    async with ended.settling("user-name:ada"):
        pass
    for failure in (Uniqueness("taken"), InternalError("500"), ServiceUnavailable("down")):
        with pytest.raises(type(failure)):
            async with ended.settling("user-name:ada"):
                raise failure
    assert resolver.name_taken == [True, True, False, False]
