"""JSON encoding for every response body and log line: orjson, with the standard library as the fallback.

orjson (a maintained Rust extension) encodes several times faster than ``json.dumps``, which matters because
each request encodes its body and its log line. It refuses two things ``json`` accepts: integers beyond 64
bits and strings with lone surrogates; those values are encoded by ``json`` instead, so no input that
encoded before fails now. Decoding stays with ``json``: orjson turns integers beyond 64 bits into floats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


class Encoded:
    """JSON encoded earlier (a kept rendering) that `dumps` embeds as it is, inside a bigger document."""

    __slots__ = ("json",)

    def __init__(self, json: bytes) -> None:
        self.json = json


def _embed(value: Any) -> Any:
    if isinstance(value, Encoded):
        return orjson.Fragment(value.json)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _embed_decoded(value: Any) -> Any:
    if isinstance(value, Encoded):
        return json.loads(value.json)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """UTF-8 JSON of `value`; `default` converts objects neither encoder knows (as in ``json.dumps``);
    without one, `Encoded` values are embedded."""
    try:
        return orjson.dumps(value, default=default or _embed, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(value, default=default or _embed_decoded).encode()
