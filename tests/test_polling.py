"""The shared polling helper: it waits for plain and async conditions and fails, not hangs, when one never holds."""

from __future__ import annotations

import asyncio

import pytest

from tests.polling import until


async def test_until_returns_once_a_plain_or_async_condition_holds() -> None:
    polls: list[int] = []

    def third_time() -> bool:
        polls.append(1)
        return len(polls) >= 3

    async def eventually() -> bool:
        await asyncio.sleep(0)
        return len(polls) >= 3

    await until(third_time, "never", every=0)
    assert len(polls) == 3
    await until(eventually, "never", polls=1, every=0)


async def test_until_fails_with_its_message_when_the_condition_never_holds() -> None:
    asked: list[int] = []

    async def never() -> bool:
        asked.append(1)
        return False

    with pytest.raises(AssertionError) as failed:
        await until(never, "the loop did not get there", polls=5, every=0)
    assert str(failed.value) == "the loop did not get there"
    assert len(asked) == 5
