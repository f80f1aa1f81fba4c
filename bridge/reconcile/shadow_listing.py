"""The master's listings as they would read after the shadow overlay's writes (master-api.md §1.6, §4.4, §4.12).

A listing of the overlay must match, order and page as the master would once those writes were made: the
bridge pages with ``offset = endIndex`` until ``endIndex >= total``, and adoption, detection and repair look
groups up by name and by member. So the real objects the overlay has not touched are merged with the
overlaid and shadow-created ones, filtered on their overlaid fields, ordered by the master's rule, and only
then cut into the requested page. The caller fetches every real object that can match; these functions are
pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Final

from bridge.determined import (
    MasterBadRequest,
    MasterGroup,
    MasterGroupDetails,
    MasterGroupPage,
    MasterInternal,
    MasterUser,
    MasterUserPage,
    Pagination,
)

_INVALID: Final = 3
_INTERNAL: Final = 13

_NEVER: Final = datetime.min.replace(tzinfo=UTC)

# Where an id stands in the master's id order (ShadowClient._position): a shadow-created id has none of its own.
Position = Callable[[int], tuple[int, int, int]]


def _time(value: datetime | None) -> tuple[bool, datetime]:
    return value is None, value or _NEVER


# GetUsers' sort columns (§4.4), as (is NULL, value): NULLs sort last ascending and first descending. An empty
# display name is the master's NULL (§4.7 step 5). Strings compare by code point, not the database's collation.
SortKey = Callable[[MasterUser], tuple[bool, str | bool | datetime]]
USER_SORT_KEYS: Final[Mapping[str, SortKey]] = {
    "SORT_BY_DISPLAY_NAME": lambda u: (not u.display_name, u.display_name),
    "SORT_BY_USER_NAME": lambda u: (False, u.username),
    "SORT_BY_ADMIN": lambda u: (False, u.admin),
    "SORT_BY_ACTIVE": lambda u: (False, u.active),
    "SORT_BY_MODIFIED_TIME": lambda u: _time(u.modified_at),
    "SORT_BY_NAME": lambda u: (False, u.display_name or u.username),
    "SORT_BY_LAST_AUTH_TIME": lambda u: _time(u.last_auth_at),
    "SORT_BY_REMOTE": lambda u: (False, u.remote),
}
# The proto's numbering (§4.4 table order), which the master takes for the name.
_SORT_NUMBERS: Final = ("SORT_BY_UNSPECIFIED", *USER_SORT_KEYS)


def sort_column(sort_by: str | None) -> str | None:
    """``sort_by`` by name (a number read as its name): "SORT_BY_UNSPECIFIED" for the id, None if the master
    does not know it."""
    if not sort_by:
        return _SORT_NUMBERS[0]
    if sort_by.isdigit():
        return _SORT_NUMBERS[int(sort_by)] if int(sort_by) < len(_SORT_NUMBERS) else None
    return sort_by if sort_by in _SORT_NUMBERS else None


# --- groups: POST /api/v1/groups/search -----------------------------------------------------------------


def merged_groups(
    untouched: Iterable[MasterGroup],
    overlay: Mapping[int, MasterGroupDetails],
    name: str | None,
    user_id: int | None,
    position: Position,
) -> list[MasterGroup]:
    """The real groups the overlay has not touched (already filtered by the master) and the overlaid ones that
    match: exact name, membership of ``user_id``; an empty name or zero user is no filter (§4.12). In the
    master's id order, ``position`` placing a shadow-created id."""
    groups = list(untouched)
    groups += [
        MasterGroup(det_id, details.name, len(details.users))
        for det_id, details in overlay.items()
        if (not name or details.name == name) and (not user_id or any(u.id == user_id for u in details.users))
    ]
    return sorted(groups, key=lambda g: position(g.id))


def group_page(groups: list[MasterGroup], offset: int, limit: int) -> MasterGroupPage:
    """SQL pagination (§1.6): a negative offset is ignored and a negative limit means none; ``offset`` and
    ``limit`` are echoed, ``startIndex = offset``, ``endIndex = offset + len(page)``. The caller has refused a
    zero or too large limit as the master does."""
    start = max(offset, 0)
    page = groups[start:] if limit < 0 else groups[start : start + limit]
    return MasterGroupPage(tuple(page), Pagination(offset, limit, offset, offset + len(page), len(groups)))


# --- users: GET /api/v1/users ---------------------------------------------------------------------------


def _ilike(name: str) -> re.Pattern[str]:
    """``ILIKE '%' || name || '%'``: ``%`` and ``_`` are wildcards and a backslash escapes (§4.4).

    The emulator has its own (handlers_users.like_pattern), on purpose: it is the model the shadow listings are
    tested against, and a shared copy would agree with itself on any mistake."""
    parts: list[str] = []
    escaped = False
    for ch in name:
        if escaped:
            parts.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "%_":
            parts.append(".*" if ch == "%" else ".")
        else:
            parts.append(re.escape(ch))
    return re.compile(".*" + "".join(parts) + ".*", re.IGNORECASE | re.DOTALL)


def filtered_users(
    users: Iterable[MasterUser], name: str | None, active: bool | None, admin: bool | None
) -> list[MasterUser]:
    """GetUsers' filters on the overlaid fields: ``name`` a substring of the username or display name, case
    insensitive; ``active`` and ``admin`` exact (§4.4)."""
    pattern = _ilike(name) if name else None
    return [
        u
        for u in users
        if (active is None or u.active == active)
        and (admin is None or u.admin == admin)
        and (pattern is None or pattern.fullmatch(u.username) or pattern.fullmatch(u.display_name))
    ]


def ordered_users(
    users: Collection[MasterUser], column: str, descending: bool, position: Position
) -> list[MasterUser]:
    """Sorted by ``column`` (from sort_column), ties by id ascending (§4.4); ``position`` places a
    shadow-created id in the master's id order."""
    if column not in USER_SORT_KEYS:
        return sorted(users, key=lambda u: position(u.id), reverse=descending)
    # Python's sort is stable, reversed too: equal keys keep the id order ascending, as on the master.
    by_id = sorted(users, key=lambda u: position(u.id))
    return sorted(by_id, key=USER_SORT_KEYS[column], reverse=descending)


def user_page(users: list[MasterUser], offset: int, limit: int) -> MasterUserPage:
    """In-memory pagination (api.Paginate, §1.6): a negative offset counts from the end; a start outside
    ``0..total`` is the master's 400, a negative limit its recovered slice panic (500); ``limit`` 0 is all."""
    total = len(users)
    start = offset if offset >= 0 else total + offset
    if not 0 <= start <= total:
        raise MasterBadRequest("offset out of bounds", grpc_code=_INVALID)
    if limit < 0:
        raise MasterInternal("reflect.Value.Slice: slice index out of bounds", grpc_code=_INTERNAL)
    end = total if limit == 0 else min(start + limit, total)
    return MasterUserPage(tuple(users[start:end]), Pagination(offset, limit, start, end, total))
