"""JSON encoding for every response body and log line: orjson, with the standard library as the fallback.

orjson (a maintained Rust extension) encodes several times faster than ``json.dumps``, which matters because
each request encodes its body and its log line. It refuses two things ``json`` accepts: integers beyond 64
bits and strings with lone surrogates; those values are encoded by ``json`` instead, so no input that
encoded before fails now. Decoding takes orjson only where it reads a text exactly as ``json`` does
(`loads_if_exact`): orjson turns integers beyond 64 bits into floats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import orjson

# What `loads_if_exact` returns when orjson cannot say what ``json.loads`` would.
UNSURE: Final = object()
# A run of 19 digits anywhere (even inside a string) may be an integer beyond 64 bits: found in the text
# with every digit mapped to "0" and every other byte to " " (a regex search cost three times the parse).
_DIGITS_ONLY: Final = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN: Final = b"0" * 19


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
        # Without OPT_NON_STR_KEYS first: it writes the same text whenever every key is a str, and it costs
        # orjson ~2k more instructions per 12-key dict (a log line), on every call.
        return orjson.dumps(value, default=default or _embed)
    except orjson.JSONEncodeError:
        return dumps_refused(value, default=default)


def dumps_refused(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """`dumps` of a `value` that orjson's plain try (`dumps`' first) has refused, for a caller that made that
    try itself: non-str keys, then the standard library."""
    try:
        return orjson.dumps(value, default=default or _embed, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(value, default=default or _embed_decoded).encode()


def loads_if_exact(data: bytes) -> Any:
    """The value ``json.loads`` reads from `data`, decoded by orjson (several times faster); `UNSURE` when
    orjson refuses the text (``json`` may accept it: NaN, lone surrogates; or refuse it, and say why) or
    may read it differently (a long run of digits)."""
    if _LONG_RUN in data.translate(_DIGITS_ONLY):
        return UNSURE
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return UNSURE
