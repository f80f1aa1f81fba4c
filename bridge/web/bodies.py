"""Request bodies: media type (RFC 7644 §3.1, §8.1), JSON syntax and nesting depth, before any parsing by the core."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from bridge import jsonenc
from bridge.scim.errors import InvalidSyntax, InvalidValue, UnsupportedMediaType
from bridge.scim.media import request_media_type_ok
from bridge.web.keys import JSON_BODY


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True when objects/arrays nest deeper than `limit` (scanned without parsing, so a deep body costs O(n))."""
    if text.count("[") + text.count("{") <= limit:
        # Cannot nest deeper than it opens (brackets inside strings only overcount): skips the character
        # loop, ~25 µs for an ordinary IdP body, in C.
        return False
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


async def read_json(request: web.Request, max_depth: int) -> Any:
    """The decoded JSON body; 415 for another media type, 400 invalidSyntax for malformed or too-deep JSON.

    Accepts application/scim+json and application/json with or without parameters (idp-traffic §0.15).
    A missing Content-Type is tolerated when the body parses, as several IdP clients omit it.
    """
    try:
        raw = await request.read()
    except web.RequestPayloadError:
        # The body broke its Content-Encoding or chunked framing after the handler began to read it (had it all
        # come with the headers, aiohttp itself would have refused the message with 400): the client's error.
        raise InvalidSyntax("The request body could not be decoded.") from None
    if not raw.strip():
        raise InvalidSyntax("The request body is empty.")
    content_type = request.headers.get("Content-Type")
    if content_type is not None and not request_media_type_ok(content_type):
        raise UnsupportedMediaType("Send application/scim+json or application/json.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSyntax("The request body is not UTF-8.") from None
    if json_depth_exceeds(text, max_depth):
        raise InvalidSyntax(f"The JSON body nests deeper than {max_depth} levels.")
    body = jsonenc.loads_if_exact(raw)
    if body is jsonenc.UNSURE:
        body = _decode_strictly(text)
    request[JSON_BODY] = body
    return body


def _decode_strictly(text: str) -> Any:
    """The standard library's reading of a body orjson could not vouch for, and why it is refused."""
    try:
        body = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except _OutOfRange:
        raise InvalidValue("The request body holds a number beyond the range of a double.") from None
    except (ValueError, RecursionError):
        raise InvalidSyntax("The request body is not valid JSON.") from None
    if "\\u" in text:
        # Only a \u escape can produce a lone surrogate (the text itself was decoded from UTF-8).
        try:
            # A `\ud800` escape decodes to a lone surrogate that no UTF-8 writer (SQLite, the master client)
            # can encode; RFC 8259 §8.2 leaves such strings unpredictable, so refuse them here (found by
            # tests/fuzz).
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidSyntax("The request body holds an unpaired UTF-16 surrogate escape.") from None
    return body


class _OutOfRange(Exception):
    """A JSON number that overflows a double."""


def _finite_float(text: str) -> float:
    # RFC 8259 §6 lets a parser limit the range of numbers. Python's would turn 1e400 into infinity, which
    # a string attribute then stored as "inf" and the SQLite document store refuses.
    value = float(text)
    if math.isinf(value):
        raise _OutOfRange(text)
    return value


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; RFC 8259 §6 does not.
    raise ValueError(f"{name} is not JSON")
