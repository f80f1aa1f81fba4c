"""A group the database itself refuses as a whole: a unit whose statement makes SQLite roll the whole
transaction back (a trigger's RAISE(ROLLBACK), as disk full or an I/O error does), or a COMMIT refused by a
deferred foreign key. Nothing of the group is durable, so every unit's caller hears the error, including
the units that had succeeded inside it; the writer goes on with the next group."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.store.writer import SyncUnit, Writer
from tests.store.test_writer import _held_group, _insert, _rows


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[Writer]:
    opened = await Writer.open(tmp_path / "w.db", 5000)

    def schema(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE t (v TEXT PRIMARY KEY)")
        c.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        c.execute(
            "CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        c.execute(
            "CREATE TRIGGER doom BEFORE INSERT ON t WHEN NEW.v = 'doom'"
            " BEGIN SELECT RAISE(ROLLBACK, 'the whole transaction is gone'); END"
        )

    await opened.run(schema)
    try:
        yield opened
    finally:
        await opened.close()


def _orphan(c: sqlite3.Connection) -> int:
    """Valid until COMMIT checks the deferred foreign key."""
    return c.execute("INSERT INTO child (parent_id) VALUES (42)").rowcount


async def _as_one_group(writer: Writer, units: list[SyncUnit[object]]) -> list[object]:
    release = threading.Event()
    holder = await _held_group(writer, release)
    queued = [asyncio.ensure_future(writer.run(unit)) for unit in units]
    await asyncio.sleep(0)  # every task queues its unit behind the held group
    release.set()
    await holder
    return await asyncio.gather(*queued, return_exceptions=True)


@pytest.mark.parametrize("doomed", [_insert("doom"), _orphan], ids=["rollback-in-a-unit", "refused-commit"])
async def test_a_group_the_database_refuses_fails_every_unit_and_the_writer_goes_on(
    writer: Writer, doomed: SyncUnit[object]
) -> None:
    results = await _as_one_group(writer, [_insert("a"), doomed, _insert("b")])
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results
    assert len({id(r) for r in results}) == 1  # one failure, told to every caller
    assert await writer.run(_rows) == []
    assert await writer.run(_insert("after")) == 1
    assert await writer.run(_rows) == ["after"]


@pytest.mark.parametrize("doomed", [_insert("doom"), _orphan], ids=["rollback-in-a-unit", "refused-commit"])
async def test_a_unit_alone_the_database_refuses_fails_and_leaves_nothing(
    writer: Writer, doomed: SyncUnit[object]
) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await writer.run(doomed)
    assert await writer.run(lambda c: c.execute("SELECT count(*) FROM child").fetchone()[0]) == 0
    assert await writer.run(_insert("after")) == 1
