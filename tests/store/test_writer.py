"""The writer thread: queued units share one transaction (a unit that fails undoes only itself), answered after
COMMIT; the unit of the one marked operation under way, or of the one in its journal stage, runs inline on the
loop's thread, never waiting there for a lock."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.store import DuplicateUserName, IntentState, Store, StoreClosed
from bridge.store.writer import SyncUnit, Writer
from tests.store.factories import add_group, add_user, user_member


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[Writer]:
    opened = await Writer.open(tmp_path / "w.db", 5000)
    await opened.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
    try:
        yield opened
    finally:
        await opened.close()


def _rows(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")]


def _insert(value: str) -> SyncUnit[int]:
    return lambda c: c.execute("INSERT INTO t (v) VALUES (?)", (value,)).rowcount


async def _held_group(writer: Writer, release: threading.Event) -> asyncio.Task[object]:
    """Occupy the writer thread until `release` is set, so the units queued meanwhile form one group."""
    started = threading.Event()

    def hold(_: sqlite3.Connection) -> None:
        started.set()
        release.wait()

    holder = asyncio.ensure_future(writer.run(hold))
    await asyncio.to_thread(started.wait)
    return holder


async def test_a_failing_unit_rolls_back_alone_inside_a_shared_group(writer: Writer) -> None:
    release = threading.Event()
    holder = await _held_group(writer, release)

    def half_then_fail(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t (v) VALUES ('half')")
        raise ValueError("refused after a statement")

    queued = [
        asyncio.ensure_future(writer.run(unit))
        for unit in (_insert("a"), half_then_fail, _insert("a"), _insert("b"))
    ]
    await asyncio.sleep(0)  # let every task queue its unit behind the held group
    release.set()
    await holder
    results = await asyncio.gather(*queued, return_exceptions=True)
    assert results[0] == 1
    assert isinstance(results[1], ValueError)
    assert isinstance(results[2], sqlite3.IntegrityError)  # duplicate of the first unit in the same group
    assert results[3] == 1
    assert await writer.run(_rows) == ["a", "b"]


async def test_a_unit_alone_that_fails_leaves_nothing_and_the_next_unit_commits(writer: Writer) -> None:
    def half_then_fail(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t (v) VALUES ('half')")
        raise ValueError("refused after a statement")

    with pytest.raises(ValueError, match="refused"):
        await writer.run(half_then_fail)
    with pytest.raises(sqlite3.IntegrityError):
        await writer.run(lambda c: c.executemany("INSERT INTO t (v) VALUES (?)", [("x",), ("x",)]))
    assert await writer.run(_insert("after")) == 1
    assert await writer.run(_rows) == ["after"]


async def test_a_group_whose_begin_fails_fails_every_unit_and_the_next_group_runs(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    writer = await Writer.open(path, 20)
    await writer.run(lambda c: c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)"))
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        failed = await asyncio.gather(
            writer.run(_insert("x")), writer.run(_insert("y")), return_exceptions=True
        )
        assert all(isinstance(f, sqlite3.OperationalError) for f in failed)
        blocker.execute("COMMIT")
        assert await writer.run(_insert("z")) == 1
        assert await writer.run(_rows) == ["z"]
    finally:
        blocker.close()
        await writer.close()


async def test_a_cancelled_caller_does_not_withdraw_its_unit(writer: Writer) -> None:
    release = threading.Event()
    holder = await _held_group(writer, release)
    cancelled = asyncio.ensure_future(writer.run(_insert("kept")))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    release.set()
    await holder
    assert await writer.run(_rows) == ["kept"]


async def test_close_finishes_queued_units_then_refuses_new_ones(writer: Writer) -> None:
    release = threading.Event()
    holder = await _held_group(writer, release)
    queued = asyncio.ensure_future(writer.run(_insert("last")))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(writer.close())
    await asyncio.sleep(0)
    with pytest.raises(StoreClosed):
        await writer.run(_insert("late"))
    release.set()
    await holder
    assert await queued == 1
    await closing


async def test_store_units_queued_together_commit_together_with_their_intents(store: Store) -> None:
    group = await add_group(store, "g")
    members = [await add_user(store, f"m{i}") for i in range(3)]
    intents = [
        await store.begin_intent(
            request_id=f"r{i}",
            operation="patch",
            resource_type="Group",
            target=group.scim_id,
            payload_digest="d",
        )
        for i in range(3)
    ]
    results = await asyncio.gather(
        add_user(store, "taken"),
        add_user(store, "taken"),
        *(
            store.change_group(group.scim_id, add=[user_member(m.scim_id)], finishing_intent=intent)
            for m, intent in zip(members, intents, strict=True)
        ),
        return_exceptions=True,
    )
    assert isinstance(results[1], DuplicateUserName)
    assert await store.count_members(group.scim_id) == 3
    for intent in intents:
        found = await store.get_intent(intent)
        assert found is not None
        assert found.state is IntentState.DONE
    assert await store.check() == []


def _thread_and_busy_timeout(c: sqlite3.Connection) -> tuple[int, int]:
    return threading.get_ident(), c.execute("PRAGMA busy_timeout").fetchone()[0]


async def test_the_one_marked_operation_runs_its_units_inline_without_waiting_for_locks(
    writer: Writer,
) -> None:
    with writer.operation():
        assert await writer.run(_thread_and_busy_timeout) == (threading.get_ident(), 0)
    thread, timeout = await writer.run(_thread_and_busy_timeout)  # unmarked: on the writer thread
    assert (thread != threading.get_ident(), timeout) == (True, 5000)


async def test_with_two_marked_operations_under_way_units_queue_for_group_commit(writer: Writer) -> None:
    with writer.operation(), writer.operation():
        thread, timeout = await writer.run(_thread_and_busy_timeout)
    assert (thread != threading.get_ident(), timeout) == (True, 5000)


async def test_the_one_operation_in_its_stage_runs_inline_while_the_others_wait_before_theirs(
    writer: Writer,
) -> None:
    here = threading.get_ident()
    with writer.operation(), writer.operation():  # e.g. two PATCHes of one group, one holding its lock
        with writer.stage():
            assert await writer.run(_thread_and_busy_timeout) == (here, 0)
        with writer.stage(), writer.stage():  # both in their stage: they share the writer thread's groups
            thread, timeout = await writer.run(_thread_and_busy_timeout)
    assert (thread != here, timeout) == (True, 5000)
    with writer.stage():  # a stage outside a marked operation (not a SCIM write) never runs inline
        thread, _ = await writer.run(_thread_and_busy_timeout)
    assert thread != here


async def test_an_inline_unit_meeting_another_connections_write_lock_waits_on_the_writer_thread(
    writer: Writer, tmp_path: Path
) -> None:
    blocker = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with writer.operation():
            waiting = asyncio.ensure_future(writer.run(lambda c: (_insert("x")(c), threading.get_ident())))
            await asyncio.sleep(0)  # the inline attempt met the lock and queued the unit; the loop goes on
        assert not waiting.done()
        blocker.execute("COMMIT")
        inserted, thread = await waiting
    finally:
        blocker.close()
    assert inserted == 1
    assert thread != threading.get_ident()
    assert await writer.run(_rows) == ["x"]


async def test_an_inline_unit_that_raises_undoes_only_itself(writer: Writer) -> None:
    def half_then_fail(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t (v) VALUES ('half')")
        raise ValueError("refused after a statement")

    with writer.operation():
        await writer.run(_insert("kept"))
        with pytest.raises(ValueError, match="refused"):
            await writer.run(half_then_fail)
        with pytest.raises(sqlite3.IntegrityError):
            await writer.run(_insert("kept"))
        assert await writer.run(_insert("next")) == 1
        assert await writer.run(_rows) == ["kept", "next"]


async def test_a_caller_cancelled_after_its_inline_unit_ran_leaves_it_committed(writer: Writer) -> None:
    async def marked() -> object:
        with writer.operation():
            return await writer.run(_insert("done"))

    task = asyncio.ensure_future(marked())
    await asyncio.sleep(0)  # the unit ran inline; its caller waits for one loop turn
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await writer.run(_rows) == ["done"]


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="no SCHED_BATCH on this platform (Linux has it)")
async def test_the_writer_thread_runs_under_sched_batch_and_the_loops_thread_does_not(writer: Writer) -> None:
    """The writer thread, woken by every hand-over, must not preempt the loop's thread (bridge/store/scheduling.py)."""
    assert (
        await writer.run(lambda _: os.sched_getscheduler(0)) == os.SCHED_BATCH
    )  # unmarked: the writer thread
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
