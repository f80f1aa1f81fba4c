"""The fields every log line of one request carries (request_id, idp, idp_dialect, op, ...), bound as the
request goes.

One context variable holds them all, as a mapping that each bind replaces and never mutates: aiohttp runs
each request in a task of its own, in a copy of its connection's context, so what one request binds stays
its own and needs no clearing. structlog's own contextvars keep one variable per field, and their merge
walks the whole context (every variable aiohttp and asyncio keep there too) for every line: a third of
the request line's cost (issue 9), for the three to six fields a request binds.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Final

_NONE: Final[Mapping[str, Any]] = MappingProxyType({})
_FIELDS: Final[ContextVar[Mapping[str, Any]]] = ContextVar("bridge_log_fields", default=_NONE)


def bind_log_fields(**fields: Any) -> None:
    """Add `fields` to every later log line of the current context (a request, a command)."""
    _FIELDS.set({**_FIELDS.get(), **fields})


def bind_log_field(key: str, value: Any) -> None:
    """`bind_log_fields` for one field: the context, dialect and authentication middlewares bind one each per
    request, and packing it as keywords cost a dict more per bind."""
    # A copy and one item set: ``{**bound, key: value}`` builds a second dict to merge (~0.7k instructions
    # more per bind, three binds per request).
    fields = {**_FIELDS.get()}
    fields[key] = value
    _FIELDS.set(fields)


def clear_log_fields() -> None:
    """Forget every bound field (between tests; a request never needs it)."""
    _FIELDS.set(_NONE)


def merge_log_fields(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the bound fields join the event, after its own (an event's field wins)."""
    for key, value in _FIELDS.get().items():
        event_dict.setdefault(key, value)
    return event_dict
