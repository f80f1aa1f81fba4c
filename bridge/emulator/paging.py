"""The master's two pagination flavours (contract §1.6)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from bridge.emulator.errors import internal, invalid

T = TypeVar("T")


def memory_window(total: int, offset: int, limit: int) -> tuple[int, int]:
    """api.Paginate: (startIndex, endIndex); negative offsets count from the end."""
    start = offset if offset >= 0 else total + offset
    if not 0 <= start <= total:
        raise invalid("offset out of bounds")
    if limit < 0:
        # The master slices with a negative bound and recovers the panic as a 500.
        raise internal("reflect.Value.Slice: slice index out of bounds")
    end = total if limit == 0 else min(start + limit, total)
    return start, end


def pagination(offset: int, limit: int, start: int, end: int, total: int) -> dict[str, Any]:
    """Pagination wire object; offset and limit are echoed as requested."""
    return {"offset": offset, "limit": limit, "startIndex": start, "endIndex": end, "total": total}


def ordered_page(
    items: Iterable[T], key: Callable[[T], Any] | None, *, descending: bool, offset: int, limit: int
) -> tuple[list[T], dict[str, Any]]:
    """Sort by `key` (else keep storage order), reverse for descending, then window: (page, pagination)."""
    if key is not None:
        # Python's sort is stable even reversed, so storage order (id order) breaks ties ascending.
        ordered = sorted(items, key=key, reverse=descending)
    else:
        ordered = list(items)
        if descending:
            ordered.reverse()
    start, end = memory_window(len(ordered), offset, limit)
    return ordered[start:end], pagination(offset, limit, start, end, len(ordered))
