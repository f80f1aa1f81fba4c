"""One page of a filtered, ordered listing, with the total it was cut from (Store.list_users / list_groups).

``LIMIT ? OFFSET k`` makes SQLite step over k rows, so a deep page costs O(k), and the total is a full
``count(*)``. A reader connection therefore keeps, per listing (source, parameters, order), the total and
an *anchor* every ``stride`` rows: the sort key and pk of that row. A page at offset k starts from the
anchor just before it (``WHERE <after anchor> ... LIMIT ? OFFSET k % stride``), which an index on the
ordering (the pk, the IdPs' default) turns into a seek: O(page + stride) instead of O(k).

Both are only reused in the database state they were computed from: each entry remembers SQLite's
``PRAGMA data_version``, which changes whenever another connection (our writer or another process)
commits, and which is read inside the page's own read transaction, so it names that snapshot. Results are
identical to plain LIMIT/OFFSET (tests/store/test_pages.py checks this against OFFSET over random data).
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

T = TypeVar("T")

STRIDE: Final = 1000
MAX_LISTINGS: Final = 64

_ListingKey = tuple[str, tuple[Any, ...], str | None, bool]


@dataclass(slots=True)
class _Listing:
    version: int
    total: int
    # (sort key, pk) of the rows at positions stride-1, 2*stride-1, ...; None until a deep page needs them.
    anchors: list[tuple[Any, int]] | None = None


class PageIndexes:
    """Totals and anchors of recent listings on one connection (touched only by that connection's thread)."""

    __slots__ = ("_listings", "stride")

    def __init__(self, stride: int = STRIDE) -> None:
        if stride < 1:
            raise ValueError("stride must be >= 1")
        self.stride = stride
        self._listings: OrderedDict[_ListingKey, _Listing] = OrderedDict()

    def get(self, key: _ListingKey, version: int) -> _Listing | None:
        listing = self._listings.get(key)
        if listing is None or listing.version != version:
            return None
        self._listings.move_to_end(key)
        return listing

    def put(self, key: _ListingKey, listing: _Listing) -> None:
        self._listings[key] = listing
        self._listings.move_to_end(key)
        while len(self._listings) > MAX_LISTINGS:
            self._listings.popitem(last=False)


def _order(alias: str, order_by: str | None, descending: bool) -> str:
    direction = "DESC" if descending else "ASC"
    if order_by is None:
        return f"{alias}.pk {direction}"
    return f"{order_by} {direction} NULLS LAST, {alias}.pk ASC"


def _after(
    alias: str, order_by: str | None, descending: bool, anchor: tuple[Any, int]
) -> tuple[str, list[Any]]:
    """A condition true exactly for the rows that come after `anchor` in `_order`'s ordering."""
    key, pk = anchor
    if order_by is None:
        return f"{alias}.pk {'<' if descending else '>'} ?", [pk]
    if key is None:
        # NULL keys come last in both directions, among themselves in pk order.
        return f"{order_by} IS NULL AND {alias}.pk > ?", [pk]
    beyond = "<" if descending else ">"
    # Comparisons use the expression's own collation, as ORDER BY does (order_by carries any COLLATE).
    return (
        f"{order_by} {beyond} ? OR ({order_by} = ? AND {alias}.pk > ?) OR {order_by} IS NULL",
        [key, key, pk],
    )


def _anchors(
    conn: sqlite3.Connection,
    source: str,
    alias: str,
    params: Sequence[object],
    order: str,
    key_sql: str,
    stride: int,
) -> list[tuple[Any, int]]:
    sql = (
        f"SELECT k, pk FROM (SELECT {key_sql} AS k, {alias}.pk AS pk, row_number() OVER (ORDER BY {order}) AS rn"  # noqa: S608 - trusted SQL
        f" {source}) WHERE rn % ? = 0 ORDER BY rn"
    )
    return [(row[0], int(row[1])) for row in conn.execute(sql, (*params, stride))]


def fetch_page(
    conn: sqlite3.Connection,
    pages: PageIndexes,
    source: str,
    alias: str,
    params: Sequence[object],
    *,
    order_by: str | None,
    descending: bool,
    offset: int,
    limit: int,
    from_row: Callable[[sqlite3.Row], T],
) -> tuple[int, list[T]]:
    """Total rows of `source` (``FROM ... WHERE ...`` over `alias`) and one page of them.

    `order_by` gets ASC/DESC appended, NULL keys last, ties in creation (pk) order; without it, pk order.
    Must run inside a read transaction (the Store's read units do).
    """
    version = int(conn.execute("PRAGMA data_version").fetchone()[0])
    key: _ListingKey = (source, tuple(params), order_by, descending)
    listing = pages.get(key, version)
    if listing is None:
        counted = conn.execute(f"SELECT count(*) {source}", tuple(params)).fetchone()
        listing = _Listing(version, int(counted[0]))
        pages.put(key, listing)
    if limit == 0 or offset >= listing.total:
        return listing.total, []
    order = _order(alias, order_by, descending)
    block = offset // pages.stride
    if block == 0:
        sql, args = f"SELECT {alias}.* {source}", list(params)
    else:
        if listing.anchors is None:
            key_sql = f"{alias}.pk" if order_by is None else order_by
            listing.anchors = _anchors(conn, source, alias, params, order, key_sql, pages.stride)
        condition, extra = _after(alias, order_by, descending, listing.anchors[block - 1])
        sql, args = f"SELECT {alias}.* {source} AND ({condition})", [*params, *extra]
        offset -= block * pages.stride
    rows = conn.execute(f"{sql} ORDER BY {order} LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
    return listing.total, [from_row(r) for r in rows]
