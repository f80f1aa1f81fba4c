"""One page of a filtered, ordered listing, with the total it was cut from (Store.list_users / list_groups)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import aiosqlite

T = TypeVar("T")


async def fetch_page(
    conn: aiosqlite.Connection,
    source: str,
    alias: str,
    params: Sequence[object],
    *,
    order_by: str | None,
    descending: bool,
    offset: int,
    limit: int,
    from_row: Callable[[aiosqlite.Row], T],
) -> tuple[int, list[T]]:
    """Total rows of `source` (``FROM ... WHERE ...`` over `alias`) and one page of them.

    `order_by` gets ASC/DESC appended, NULL keys last, ties in creation (pk) order; without it, pk order.
    """
    async with conn.execute(f"SELECT count(*) {source}", tuple(params)) as cur:
        counted = await cur.fetchone()
    assert counted is not None
    total = int(counted[0])
    if limit == 0 or offset >= total:
        return total, []
    direction = "DESC" if descending else "ASC"
    order = (
        f"{alias}.pk {direction}"
        if order_by is None
        else f"{order_by} {direction} NULLS LAST, {alias}.pk ASC"
    )
    async with conn.execute(
        f"SELECT {alias}.* {source} ORDER BY {order} LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ) as cur:
        return total, [from_row(r) for r in await cur.fetchall()]
