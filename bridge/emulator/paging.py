"""The master's two pagination flavours (contract §1.6)."""

from __future__ import annotations

from typing import Any

from bridge.emulator.errors import internal, invalid


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
