"""Concurrency: many concurrent writers lose nothing, reads proceed while a write waits, cancellation is safe."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bridge.store import Store, StoreUnavailable, UserRecord, open_store
from tests.store.factories import add_group, add_user, user_member


async def test_many_concurrent_inserts_lose_nothing(store: Store) -> None:
    await asyncio.gather(*(add_user(store, f"user{i:03d}") for i in range(200)))
    total, page = await store.list_users("1=1", [], limit=500)
    assert total == 200
    assert {u.user_name for u in page} == {f"user{i:03d}" for i in range(200)}


async def test_parallel_member_adds_to_one_group_all_land(store: Store) -> None:
    group = await add_group(store, "g")
    results = await asyncio.gather(
        *(store.add_members(group.scim_id, [user_member(f"m{i}")]) for i in range(50)),
        *(store.add_members(group.scim_id, [user_member(f"m{i}")]) for i in range(50)),
    )
    assert sorted(x for r in results for x in r) == sorted(f"m{i}" for i in range(50))
    assert await store.count_members(group.scim_id) == 50
    final = await store.get_group_by_scim_id(group.scim_id)
    assert final is not None
    assert final.version == 51


async def test_reads_interleaved_with_writes_see_consistent_snapshots(store: Store) -> None:
    async def read() -> tuple[int, int]:
        total, page = await store.list_users("1=1", [], limit=1000)
        return total, len(page)

    results = await asyncio.gather(*(coro for i in range(60) for coro in (add_user(store, f"w{i}"), read())))
    snapshots = [r for r in results if not isinstance(r, UserRecord)]
    assert all(total == count for total, count in snapshots)
    assert (await read()) == (60, 60)


async def test_reads_do_not_queue_behind_a_waiting_write(store: Store, db_path: Path) -> None:
    existing = await add_user(store, "before")
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        write = asyncio.ensure_future(add_user(store, "after"))
        assert await store.get_user_by_user_name("before") == existing
        assert await store.list_users("1=1", [], limit=10) == (1, [existing])
        assert not write.done()
        blocker.execute("COMMIT")
    finally:
        blocker.close()
    assert (await write).user_name == "after"


async def test_a_cancelled_writer_leaves_the_store_usable(store: Store, db_path: Path) -> None:
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        write = asyncio.ensure_future(add_user(store, "cancelled"))
        # A read on a reader thread takes several loop turns, so by its end the write has entered the store.
        # (A lookup by key would not do: it runs on the loop's own thread without yielding.)
        assert await store.list_users("u.user_name = ?", ["cancelled"], limit=1) == (0, [])
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        blocker.execute("COMMIT")
    finally:
        blocker.close()
    # The shielded unit of work still ran to its end, whole; the next write queues behind it.
    await add_user(store, "next")
    names = {u.user_name for u in (await store.list_users("1=1", [], limit=10))[1]}
    assert names == {"cancelled", "next"}
    assert await store.check() == []


async def test_two_stores_on_one_file_share_writes(db_path: Path) -> None:
    first = await open_store(db_path)
    second = await open_store(db_path)
    try:
        await asyncio.gather(
            *(add_user(first, f"a{i}") for i in range(30)),
            *(add_user(second, f"b{i}") for i in range(30)),
        )
        assert (await first.list_users("1=1", [], limit=0))[0] == 60
        assert (await second.list_users("1=1", [], limit=0))[0] == 60
    finally:
        await first.close()
        await second.close()


async def test_a_lock_held_past_the_busy_timeout_is_store_unavailable(db_path: Path) -> None:
    store = await open_store(db_path, busy_timeout_ms=20)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="locked"):
            await add_user(store, "blocked")
        blocker.execute("COMMIT")
        assert (await add_user(store, "after")).user_name == "after"
        assert [u.user_name for u in (await store.list_users("1=1", [], limit=10))[1]] == ["after"]
    finally:
        blocker.close()
        await store.close()
