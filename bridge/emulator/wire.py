"""jsonpb-style request parsing and response encoding (contract §1.3, §1.4, §10)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from bridge.emulator.errors import invalid

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def timestamp(value: datetime) -> str:
    """RFC 3339 UTC with 0, 3, 6 fractional digits, trailing zero groups trimmed, `Z` suffix."""
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    micros = value.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def json_response(payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    """200 JSON response, as the gateway marshals every success."""
    return web.Response(text=json.dumps(payload), content_type="application/json", headers=headers)


async def read_json(request: web.Request) -> Any:
    """Decode the body; empty means "all defaults" (io.EOF in jsonpb)."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"invalid character in request body: {exc}") from None


async def read_object(request: web.Request) -> dict[str, Any]:
    """Decode a message body; an empty body is an all-default message."""
    value = await read_json(request)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("json: cannot unmarshal non-object into Go value of type map[string]json.RawMessage")
    return value


class Message:
    """A decoded jsonpb message: camelCase or snake_case keys, `null` means unset (§10)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields

    def raw(self, name: str) -> Any:
        """The value under the camelCase name or its snake_case alias; None when absent or null."""
        if name in self._fields and self._fields[name] is not None:
            return self._fields[name]
        snake = "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)
        return self._fields.get(snake)

    def has(self, name: str) -> bool:
        """True when the field is present and not null."""
        return self.raw(name) is not None

    def string(self, name: str) -> str | None:
        """An optional string field."""
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid(f"json: cannot unmarshal {type(value).__name__} into Go value of type string")
        return value

    def boolean(self, name: str) -> bool | None:
        """An optional bool field."""
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise invalid(f"json: cannot unmarshal {type(value).__name__} into Go value of type bool")
        return value

    def integer(self, name: str) -> int | None:
        """An optional int32 field; jsonpb accepts quoted integers."""
        value = self.raw(name)
        return None if value is None else to_int32(value)

    def integers(self, name: str) -> list[int]:
        """A repeated int32 field; absent or null is empty."""
        value = self.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid("json: cannot unmarshal non-array into Go value of type []int32")
        return [to_int32(item) for item in value]

    def message(self, name: str) -> Message | None:
        """An optional nested message."""
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid(f"json: cannot unmarshal {type(value).__name__} into Go value of type object")
        return Message(value)


def to_int32(value: Any) -> int:
    """jsonpb int32: a JSON number or a quoted decimal string."""
    if isinstance(value, bool):
        raise invalid("json: cannot unmarshal bool into Go value of type int32")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str):
        try:
            result = int(value, 10)
        except ValueError:
            raise invalid(f"bad value for int32: {value!r}") from None
    else:
        raise invalid(f"json: cannot unmarshal {type(value).__name__} into Go value of type int32")
    if not _INT32_MIN <= result <= _INT32_MAX:
        raise invalid(f"bad value for int32: {value!r}")
    return result


def path_int(request: web.Request, key: str, proto_name: str) -> int:
    """A numeric path parameter, with the gateway's type-mismatch text on failure."""
    text = request.match_info[key]
    try:
        value = int(text, 10)
    except ValueError:
        raise invalid(
            f'type mismatch, parameter: {proto_name}, error: strconv.ParseInt: parsing "{text}": invalid syntax'
        ) from None
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise invalid(
            f'type mismatch, parameter: {proto_name}, error: strconv.ParseInt: parsing "{text}": value out of range'
        )
    return value


def query_value(request: web.Request, name: str, snake: str) -> str | None:
    """A query parameter under its camelCase or snake_case name."""
    return request.query.get(name, request.query.get(snake))


def query_int(request: web.Request, name: str, snake: str) -> int:
    """An int32 query parameter, 0 when absent."""
    text = query_value(request, name, snake)
    if text is None:
        return 0
    try:
        value = int(text, 10)
    except ValueError:
        raise invalid(
            f'type mismatch, parameter: {snake}, error: strconv.ParseInt: parsing "{text}": invalid syntax'
        ) from None
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise invalid(
            f'type mismatch, parameter: {snake}, error: strconv.ParseInt: parsing "{text}": value out of range'
        )
    return value


def query_bool(request: web.Request, name: str, snake: str) -> bool | None:
    """A bool query parameter parsed like Go's strconv.ParseBool; None when absent."""
    text = query_value(request, name, snake)
    if text is None:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise invalid(
        f'type mismatch, parameter: {snake}, error: strconv.ParseBool: parsing "{text}": invalid syntax'
    )


def query_enum(request: web.Request, name: str, snake: str, values: tuple[str, ...]) -> str:
    """An enum query parameter given by name or number; the first value when absent."""
    text = query_value(request, name, snake)
    if text is None:
        return values[0]
    if text in values:
        return text
    if text.isdigit() and int(text) < len(values):
        return values[int(text)]
    raise invalid(f"{text!r} is not a valid value for parameter {snake}")
