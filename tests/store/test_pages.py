"""Deep pages from anchors (bridge/store/pages.py) return exactly what LIMIT/OFFSET returns, and never stale rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.scim.filters import MultiValuedSql, SqlMapping, compile_sql, parse_filter, sort_sql
from bridge.scim.schemas import USER_SCHEMA
from bridge.store import Store, open_store, sql_mapping
from bridge.store.codec import user_from_row
from bridge.store.connections import ReaderConnection
from bridge.store.migrations import load_migrations
from bridge.store.pages import MAX_LISTINGS, PageIndexes, _Listing, fetch_page

USERS = SqlMapping(
    document=sql_mapping.USER_DOCUMENT_SQL,
    columns=sql_mapping.USER_COLUMNS,
    multi_valued={k: MultiValuedSql(*v) for k, v in sql_mapping.USER_MULTI_VALUED.items()},
)
SOURCE = "FROM users u WHERE u.tombstoned_at IS NULL AND ({where})"
TS = "2026-01-02T03:04:05.678Z"
# The orderings a listing can ask for: none (pk, what IdPs page by), indexed columns with NOCASE, a column with
# NULLs, a JSON attribute, and a multi-valued attribute through its side table.
SORTS = (None, "userName", "displayName", "name.familyName", "emails.value", "active")
FILTERS = (None, "displayName pr", "active eq true", 'userName gt "m"')

# Few distinct values, "" (absent) among them: many ties and NULL keys, where an anchor is easiest to get wrong.
_names = st.sampled_from(["", "", "a", "A", "b", "ab", "aB"])
_user = st.tuples(
    _names,  # display name ("" stored as NULL)
    _names,  # family name ("" leaves name out)
    _names,  # email ("" leaves emails out)
    st.booleans(),  # active
    st.booleans(),  # tombstoned
)


def _schema(conn: sqlite3.Connection) -> None:
    for migration in load_migrations():
        for statement in migration.statements:
            conn.execute(statement)


def _insert(conn: sqlite3.Connection, seq: int, user: tuple[str, str, str, bool, bool]) -> None:
    display, family, email, active, tombstoned = user
    doc: dict[str, object] = {"userName": f"U{seq:03d}"[:: -1 if seq % 2 else 1]}
    if family:
        doc["name"] = {"familyName": family}
    pk = conn.execute(
        "INSERT INTO users (scim_id, det_id, user_name, external_id, display_name, active, doc, version, created,"
        " last_modified, tombstoned_at) VALUES (?, ?, ?, NULL, ?, ?, ?, 1, ?, ?, ?) RETURNING pk",
        (
            f"id-{seq}",
            1000 + seq,
            doc["userName"],
            display or None,
            int(active),
            json.dumps(doc),
            TS,
            TS,
            TS if tombstoned else None,
        ),
    ).fetchone()[0]
    if email:
        conn.execute(
            "INSERT INTO user_emails (user_pk, position, value, is_primary) VALUES (?, 0, ?, 1)", (pk, email)
        )


@pytest.fixture
def reader() -> Iterator[ReaderConnection]:
    conn = sqlite3.connect(":memory:", isolation_level=None, factory=ReaderConnection)
    conn.row_factory = sqlite3.Row
    _schema(conn)
    yield conn
    conn.close()


def _reference(
    conn: sqlite3.Connection,
    where: str,
    params: list[object],
    order_by: str | None,
    desc: bool,
    off: int,
    lim: int,
) -> tuple[int, list[str]]:
    source = SOURCE.format(where=where)
    total = conn.execute(f"SELECT count(*) {source}", params).fetchone()[0]
    direction = "DESC" if desc else "ASC"
    order = f"u.pk {direction}" if order_by is None else f"{order_by} {direction} NULLS LAST, u.pk ASC"
    rows = conn.execute(f"SELECT u.scim_id {source} ORDER BY {order} LIMIT ? OFFSET ?", (*params, lim, off))
    return total, [r[0] for r in rows]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    users=st.lists(_user, max_size=40),
    sort=st.sampled_from(SORTS),
    text=st.sampled_from(FILTERS),
    descending=st.booleans(),
    stride=st.integers(1, 7),
    pages=st.lists(st.tuples(st.integers(0, 45), st.integers(0, 12)), min_size=1, max_size=6),
)
def test_pages_equal_limit_offset(
    reader: ReaderConnection,
    users: list[tuple[str, str, str, bool, bool]],
    sort: str | None,
    text: str | None,
    descending: bool,
    stride: int,
    pages: list[tuple[int, int]],
) -> None:
    reader.execute("DELETE FROM user_emails")
    reader.execute("DELETE FROM users")
    for seq, user in enumerate(users):
        _insert(reader, seq, user)
    where, params = compile_sql(parse_filter(text), USER_SCHEMA, USERS) if text else ("1=1", [])
    order_by = sort_sql(sort, USER_SCHEMA, USERS) if sort else None
    indexes = PageIndexes(stride=stride)
    # Several pages of one listing in one state: later ones reuse the total and anchors of earlier ones.
    for offset, limit in pages:
        total, page = fetch_page(
            reader,
            indexes,
            SOURCE.format(where=where),
            "u",
            params,
            order_by=order_by,
            descending=descending,
            offset=offset,
            limit=limit,
            from_row=user_from_row,
        )
        expected = _reference(reader, where, list(params), order_by, descending, offset, limit)
        assert (total, [r.scim_id for r in page]) == expected


def test_stride_must_be_positive() -> None:
    with pytest.raises(ValueError, match="stride"):
        PageIndexes(stride=0)


async def _ids(store: Store, offset: int, limit: int = 5) -> tuple[int, list[str]]:
    total, page = await store.list_users("1=1", [], offset=offset, limit=limit)
    return total, [u.scim_id for u in page]


async def test_deep_pages_follow_every_write_including_other_processes(tmp_path: Path) -> None:
    """Anchors and totals are per database state: our writes and another connection's writes both show."""
    path = tmp_path / "bridge.db"
    store = await open_store(path)
    other = sqlite3.connect(path, isolation_level=None)  # stands for another process on the same file
    try:
        other.execute("BEGIN")
        for seq in range(2500):
            _insert(other, seq, ("", "", "", True, False))
        other.execute("COMMIT")
        assert await _ids(store, 2100) == (2500, [f"id-{s}" for s in range(2100, 2105)])
        assert await _ids(store, 2100) == (2500, [f"id-{s}" for s in range(2100, 2105)])  # from the anchors

        # Our own writer: two users before the page leave the listing, so it shifts by two.
        for seq in (5, 1500):
            await store.tombstone_user(f"id-{seq}")
        assert await _ids(store, 2100) == (2498, [f"id-{s}" for s in range(2102, 2107)])

        # Another connection deletes a row before the page and adds one at the end.
        other.execute("DELETE FROM users WHERE scim_id = 'id-10'")
        _insert(other, 2500, ("", "", "", True, False))
        assert await _ids(store, 2100) == (2498, [f"id-{s}" for s in range(2103, 2108)])
        assert await _ids(store, 2497, 10) == (2498, ["id-2500"])
    finally:
        other.close()
        await store.close()


# Ties, NULL keys (empty display and family names, no email) and a pk order unlike the key order: 23 users.
_FIXED = [
    (
        ("", "a", "b", "A", "ab", "aB")[i % 6],
        ("b", "", "a")[i % 3],
        ("", "ab", "A", "b")[i % 4],
        i % 2 == 0,
        i % 7 == 3,
    )
    for i in range(23)
]


@pytest.mark.parametrize("sort", [s for s in SORTS if s is not None])
@pytest.mark.parametrize("descending", [False, True])
def test_every_page_of_a_sorted_listing_past_its_anchors_equals_limit_offset(
    reader: ReaderConnection, sort: str, descending: bool
) -> None:
    """Deep pages under a sortBy seek past an anchor row's key (or, among NULL keys, its pk); every offset
    and stride small enough to have anchors, walked in one state so later pages reuse them."""
    for seq, user in enumerate(_FIXED):
        _insert(reader, seq, user)
    order_by = sort_sql(sort, USER_SCHEMA, USERS)
    for stride in (1, 2, 5):
        indexes = PageIndexes(stride=stride)
        for offset in range(len(_FIXED) + 1):
            total, page = fetch_page(
                reader,
                indexes,
                SOURCE.format(where="1=1"),
                "u",
                [],
                order_by=order_by,
                descending=descending,
                offset=offset,
                limit=3,
                from_row=user_from_row,
            )
            expected = _reference(reader, "1=1", [], order_by, descending, offset, 3)
            assert (total, [r.scim_id for r in page]) == expected, (stride, offset)


def test_the_least_recently_used_listing_is_forgotten_past_the_bound() -> None:
    indexes = PageIndexes()
    for n in range(MAX_LISTINGS + 1):
        indexes.put((f"FROM t{n}", (), None, False), _Listing(version=1, total=n))
    assert indexes.get(("FROM t0", (), None, False), 1) is None
    kept = indexes.get((f"FROM t{MAX_LISTINGS}", (), None, False), 1)
    assert kept is not None
    assert kept.total == MAX_LISTINGS
