"""user_from_row and group_from_row read a row by position: the same records as reading it by column name."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.store import GroupRecord, Store, UserGroup, UserRecord
from bridge.store.codec import (
    GROUP_ROW,
    USER_ROW,
    decode_doc,
    encode_doc,
    format_ts,
    group_from_row,
    parse_ts,
    user_from_row,
)
from bridge.store.migrations import load_migrations

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
# st.datetimes takes naive bounds; the values it draws are in UTC.
_EARLIEST = datetime(1970, 1, 1)  # noqa: DTZ001
_LATEST = datetime(9998, 12, 31)  # noqa: DTZ001
_TIMES = st.datetimes(_EARLIEST, _LATEST, timezones=st.just(UTC)).map(format_ts)
_DOCS = st.dictionaries(
    st.sampled_from(["name", "emails", "nickName", "title"]),
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TEXT | st.lists(_TEXT, max_size=2),
    max_size=4,
).map(lambda doc: encode_doc(doc, group=False))


@pytest.fixture(scope="module")
def conn() -> Iterator[sqlite3.Connection]:
    """The migrated schema in memory, rows by sqlite3.Row as the store's connections read them."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.row_factory = sqlite3.Row
    for migration in load_migrations():
        for statement in migration.statements:
            db.execute(statement)
    yield db
    db.close()


def _user_by_name(row: sqlite3.Row, groups: tuple[UserGroup, ...] = ()) -> UserRecord:
    """The decoder before rows were read by position."""
    tombstoned = row["tombstoned_at"]
    return UserRecord(
        scim_id=row["scim_id"],
        det_id=row["det_id"],
        user_name=row["user_name"],
        external_id=row["external_id"],
        display_name=row["display_name"],
        active=bool(row["active"]),
        doc=decode_doc(row["doc"]),
        version=row["version"],
        created=format_ts(parse_ts(row["created"])),
        last_modified=format_ts(parse_ts(row["last_modified"])),
        tombstoned_at=None if tombstoned is None else parse_ts(tombstoned),
        groups=groups,
    )


def _group_by_name(row: sqlite3.Row) -> GroupRecord:
    return GroupRecord(
        scim_id=row["scim_id"],
        det_id=row["det_id"],
        display_name=row["display_name"],
        external_id=row["external_id"],
        doc=decode_doc(row["doc"]),
        version=row["version"],
        created=format_ts(parse_ts(row["created"])),
        last_modified=format_ts(parse_ts(row["last_modified"])),
    )


async def test_the_row_orders_are_those_of_the_migrated_tables(store: Store) -> None:
    db = sqlite3.connect(store.path)
    try:
        for table, order in (("users", USER_ROW), ("groups", GROUP_ROW)):
            assert tuple(r[1] for r in db.execute(f"PRAGMA table_info({table})")) == order
    finally:
        db.close()


@given(
    scim_id=_TEXT,
    det_id=st.integers(1, 2**62),
    user_name=_TEXT,
    external_id=st.none() | _TEXT,
    display_name=st.none() | _TEXT,
    active=st.booleans(),
    doc=_DOCS,
    version=st.integers(1, 2**62),
    created=_TIMES,
    last_modified=_TIMES,
    tombstoned_at=st.none() | _TIMES,
)
def test_a_user_row_reads_as_by_name(conn: sqlite3.Connection, **values: object) -> None:
    conn.execute("DELETE FROM users")
    columns = ", ".join(values)
    returned = conn.execute(
        f"INSERT INTO users ({columns}) VALUES ({', '.join('?' * len(values))}) RETURNING *",  # noqa: S608 - test's own names
        tuple(values.values()),
    ).fetchone()
    assert user_from_row(returned) == _user_by_name(returned)
    groups = (UserGroup("g1", "Ops"),)
    selected = conn.execute("SELECT u.*, 'extra' AS groups FROM users u").fetchone()
    assert user_from_row(selected, groups) == _user_by_name(selected, groups)
    assert type(user_from_row(selected)) is UserRecord


@given(
    scim_id=_TEXT,
    det_id=st.integers(1, 2**62),
    display_name=_TEXT,
    external_id=st.none() | _TEXT,
    doc=_DOCS,
    version=st.integers(1, 2**62),
    created=_TIMES,
    last_modified=_TIMES,
)
def test_a_group_row_reads_as_by_name(conn: sqlite3.Connection, **values: object) -> None:
    conn.execute("DELETE FROM groups")
    columns = ", ".join(values)
    row = conn.execute(
        f"INSERT INTO groups ({columns}) VALUES ({', '.join('?' * len(values))}) RETURNING *",  # noqa: S608 - test's own names
        tuple(values.values()),
    ).fetchone()
    assert group_from_row(row) == _group_by_name(row)
