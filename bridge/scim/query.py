"""List and search parameters (RFC 7644 §3.4.2, §3.4.3) and the ListResponse envelope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.scim.errors import InvalidSyntax, InvalidValue
from bridge.scim.filters import Filter, parse_filter
from bridge.scim.schemas import LIST_RESPONSE_URN


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A validated list/search request: 1-based `start_index`, `count` already capped (0 = totals only)."""

    filter: Filter | None = None
    start_index: int = 1
    count: int = 100
    sort_by: str | None = None
    sort_descending: bool = False
    attributes: tuple[str, ...] = ()
    excluded_attributes: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, str], *, max_count: int, default_count: int) -> ListQuery:
        """Build from query-string parameters (names matched case-insensitively; values already decoded)."""
        lowered = {k.lower(): v for k, v in params.items()}
        return cls._build(
            filter_text=lowered.get("filter"),
            start_index=lowered.get("startindex"),
            count=lowered.get("count"),
            sort_by=lowered.get("sortby"),
            sort_order=lowered.get("sortorder"),
            attributes=_names(lowered.get("attributes"), "attributes"),
            excluded=_names(lowered.get("excludedattributes"), "excludedAttributes"),
            max_count=max_count,
            default_count=default_count,
        )

    @classmethod
    def from_search_body(cls, body: object, *, max_count: int, default_count: int) -> ListQuery:
        """Build from a POST /.search SearchRequest body (RFC 7644 §3.4.3); `schemas` is not enforced."""
        if not isinstance(body, Mapping):
            raise InvalidSyntax("the SearchRequest body must be a JSON object")
        lowered = {str(k).lower(): v for k, v in body.items()}
        filter_text = lowered.get("filter")
        if filter_text is not None and not isinstance(filter_text, str):
            raise InvalidValue("filter must be a string")
        sort_by = lowered.get("sortby")
        if sort_by is not None and not isinstance(sort_by, str):
            raise InvalidValue("sortBy must be a string")
        sort_order = lowered.get("sortorder")
        if sort_order is not None and not isinstance(sort_order, str):
            raise InvalidValue("sortOrder must be a string")
        return cls._build(
            filter_text=filter_text,
            start_index=lowered.get("startindex"),
            count=lowered.get("count"),
            sort_by=sort_by,
            sort_order=sort_order,
            attributes=_names(lowered.get("attributes"), "attributes"),
            excluded=_names(lowered.get("excludedattributes"), "excludedAttributes"),
            max_count=max_count,
            default_count=default_count,
        )

    @classmethod
    def _build(
        cls,
        *,
        filter_text: str | None,
        start_index: object,
        count: object,
        sort_by: str | None,
        sort_order: str | None,
        attributes: tuple[str, ...],
        excluded: tuple[str, ...],
        max_count: int,
        default_count: int,
    ) -> ListQuery:
        parsed = parse_filter(filter_text) if filter_text is not None and filter_text.strip() else None
        start = _integer(start_index, "startIndex", default=1)
        wanted = _integer(count, "count", default=default_count)
        descending = False
        if sort_order is not None and sort_order.strip():
            order = sort_order.strip().lower()
            if order not in ("ascending", "descending"):
                raise InvalidValue("sortOrder must be 'ascending' or 'descending'")
            descending = order == "descending"
        return cls(
            filter=parsed,
            start_index=max(start, 1),  # RFC 7644 §3.4.2.4: values < 1 are interpreted as 1
            count=min(max(wanted, 0), max_count),  # negative → 0; over the limit → the limit
            sort_by=sort_by.strip() or None if sort_by is not None else None,
            sort_descending=descending,
            attributes=attributes,
            excluded_attributes=excluded,
        )

    @property
    def offset(self) -> int:
        """0-based offset for SQL OFFSET."""
        return self.start_index - 1


def _integer(value: object, name: str, *, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InvalidValue(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidValue(f"{name} must be an integer")


def _names(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items: Sequence[object] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidValue(f"{name} must be a list of attribute names")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidValue(f"{name} must be a list of attribute names")
        if item.strip():
            out.append(item.strip())
    return tuple(out)


def list_response(resources: Sequence[Any], total: int, start_index: int) -> dict[str, Any]:
    """RFC 7644 §3.4.2 ListResponse; integers stay JSON integers (Okta and the MS validator check).

    `resources` are rendered documents, or anything the caller's encoder embeds as one.
    """
    return {
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": list(resources),
    }
