"""The log pipeline's redaction: masked secrets, untouched plain values, one rendered JSON line per event."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from bridge import jsonenc
from bridge.log import LevelAndTimestamp, configure_logging, log_request, render_json
from bridge.log_fields import bind_log_fields, clear_log_fields
from tests.conftest import LogReader


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Bearer abcdef123456", "Bearer [redacted]"),
        ("failed: basic dXNlcjpwYXNz", "failed: basic [redacted]"),
        ('{"password": "hunter2"}', '{"password=[redacted]"}'),
        ("TOKEN=abc, next", "TOKEN=[redacted], next"),
        # Non-ASCII text takes the regex path: re.IGNORECASE folds U+017F (long s) to "s".
        ("\u017fecret=abc", "\u017fecret=[redacted]"),
        ("GET /scim/v2/Users/0b7c5f8e", "GET /scim/v2/Users/0b7c5f8e"),
        ("tokens are words too", "tokens are words too"),
        ("naïve café", "naïve café"),
    ],
)
def test_values_are_masked_only_where_they_hold_a_credential(
    captured_logs: LogReader, value: str, expected: str
) -> None:
    structlog.get_logger("test").info("event", detail=value, nested={"inner": [value]})
    (line,) = captured_logs()
    assert line["detail"] == expected
    assert line["nested"] == {"inner": [expected]}


def test_credential_keys_numbers_level_and_timestamp(captured_logs: LogReader) -> None:
    structlog.get_logger("test").info("event", api_key="k", status=200, took=1.5, missing=None)
    (line,) = captured_logs()
    expected: dict[str, Any] = {"event": "event", "api_key": "[redacted]", "status": 200, "took": 1.5}
    assert {k: line[k] for k in expected} == expected
    assert line["missing"] is None
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")


def test_levels_and_timestamps_read_as_structlog_writes_them(captured_logs: LogReader) -> None:
    log = structlog.get_logger("test")
    before = datetime.now(UTC)
    log.warning("w")
    log.error("e")
    log.debug("d")
    after = datetime.now(UTC)
    lines = captured_logs()
    assert [line["level"] for line in lines] == ["warning", "error", "debug"]
    for line in lines:
        # ISO 8601 in UTC with a Z, as TimeStamper(fmt="iso", utc=True) writes it.
        stamp = line["timestamp"]
        assert stamp.endswith("Z")
        assert before.replace(microsecond=0) <= datetime.fromisoformat(stamp) <= after


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (1_767_225_600_123_456_789, "2026-01-01T00:00:00.123456Z"),
        (1_767_225_600_000_001_000, "2026-01-01T00:00:00.000001Z"),
        # isoformat() leaves out a zero fraction, and so does the processor.
        (1_767_225_601_000_000_999, "2026-01-01T00:00:01Z"),
    ],
)
def test_the_timestamp_is_utc_isoformat_to_the_microsecond(
    monkeypatch: pytest.MonkeyPatch, ns: int, text: str
) -> None:
    monkeypatch.setattr(time, "time_ns", lambda: ns)
    event = LevelAndTimestamp()(None, "warn", {})
    assert event == {"level": "warning", "timestamp": text}
    expected = datetime.fromtimestamp(ns // 1000 // 10**6, UTC).replace(microsecond=ns // 1000 % 10**6)
    assert text == expected.isoformat().replace("+00:00", "Z")


def test_a_traceback_is_scrubbed_and_big_integers_still_render(captured_logs: LogReader) -> None:
    try:
        raise RuntimeError("login failed with password=hunter2")
    except RuntimeError:
        structlog.get_logger("test").exception("boom", huge=10**30)
    (line,) = captured_logs()
    assert "hunter2" not in captured_logs.raw()
    assert line["huge"] == 10**30


def _fail_holding(value: str) -> None:
    kept = value  # an ordinary name: nothing about it says "secret"
    raise RuntimeError(f"failed after {len(kept)} characters")


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_carry_no_local_variables(fmt: str) -> None:
    stream = io.StringIO()
    configure_logging(fmt, "info", stream)
    # Built at run time: a text traceback quotes source lines, and the value must only exist as a local.
    value = "-".join(["Zq8", "not", "a", "keyword", "but", "a", "master", "password"])
    try:
        _fail_holding(value)
    except RuntimeError:
        structlog.get_logger("test").exception("boom")
    finally:
        structlog.reset_defaults()
    written = stream.getvalue()
    assert "failed after 39 characters" in written
    assert "_fail_holding" in written
    assert value not in written


def test_console_tracebacks_are_scrubbed_like_json_ones() -> None:
    stream = io.StringIO()
    configure_logging("console", "info", stream)
    try:
        raise RuntimeError("login failed with password=hunter2")
    except RuntimeError:
        structlog.get_logger("test").exception("boom")
    finally:
        structlog.reset_defaults()
    assert "login failed with password=[redacted]" in stream.getvalue()
    assert "hunter2" not in stream.getvalue()


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("level", ["debug", "info", "warning"])
def test_the_request_line_is_the_line_info_writes(fmt: str, level: str) -> None:
    stream = io.StringIO()
    configure_logging(fmt, level, stream)
    bind_log_fields(request_id="r-1", note="Bearer abcdef123456")
    fields = {"method": "GET", "path": "/x/password=hunter2", "status": 200, "client": None, "token": "t"}
    logger = structlog.get_logger("test")
    try:
        logger.info("request", **fields)
        log_request(logger, dict(fields))
    finally:
        clear_log_fields()
        structlog.reset_defaults()
    lines = stream.getvalue().splitlines()
    if level == "warning":
        assert lines == []
        return
    generic, fast = lines
    # Only the timestamp may differ: same fields, same order, same redaction.
    drop_time = (lambda line: line.partition(" ")[2]) if fmt == "console" else _without_timestamp
    assert drop_time(fast) == drop_time(generic)
    assert "hunter2" not in fast
    assert "abcdef123456" not in fast


def _without_timestamp(line: str) -> list[tuple[str, Any]]:
    fields = json.loads(line)
    del fields["timestamp"]
    return list(fields.items())


def test_the_request_line_takes_the_generic_path_under_another_configuration() -> None:
    stream = io.StringIO()
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(stream))
    try:
        log_request(structlog.get_logger("test"), {"status": 200})
    finally:
        structlog.reset_defaults()
    assert "request" in stream.getvalue()
    assert "status=200" in stream.getvalue()


class _Named:
    def __structlog__(self) -> str:
        return "named"


class _Plain:
    def __repr__(self) -> str:
        return "<plain>"


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(
        st.text(),
        _JSON_VALUES | st.builds(_Named) | st.builds(_Plain) | st.integers(min_value=2**64),
        max_size=6,
    )
)
def test_the_json_renderer_writes_what_structlogs_wrote(event: dict[str, Any]) -> None:
    # The renderer before: structlog's JSONRenderer around the same encoder.
    def serializer(value: Any, *, default: Any, **_: Any) -> str:
        return jsonenc.dumps(value, default=default).decode()

    expected = structlog.processors.JSONRenderer(serializer=serializer)(None, "info", dict(event))
    assert render_json(None, "info", dict(event)) == expected


# Text that redaction masks, or whose key it masks, in many cases and spellings; and text near it.
_SECRET_SAMPLES = [
    "Bearer abcdefgh",
    "bAsIc dXNlcjpwYXNz",
    "password=hunter2",
    "PASSWD: x",
    "Secret: 'x'",
    'token"=t0k',
    "\u017fecret=abc",
    "api_key",
    "ApiKey",
    "api-key",
    "Authorization",
    "cookie",
    "credential",
    "tokens",
    "base",
]
_SECRETISH = st.builds(
    lambda before, hint, after: before + hint + after,
    st.text(max_size=4),
    st.sampled_from(_SECRET_SAMPLES),
    st.text(max_size=4),
)
_KEYS = (
    st.text(max_size=8) | _SECRETISH | st.sampled_from(["level", "timestamp", "status", "exc_info"])
).filter(lambda key: key != "event")
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**64)
    | st.floats()
    | st.text()
    | _SECRETISH
    | st.builds(_Named)
    | st.builds(_Plain)
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_KEYS, inner, max_size=3)
        | st.dictionaries(_KEYS, inner, max_size=3).map(MappingProxyType)
    ),
    max_leaves=8,
)


def _generic_and_fast_lines(fields: dict[str, Any], bound: dict[str, Any]) -> tuple[str, str]:
    """The line ``info("request", **fields)`` writes and the one ``log_request`` writes, at the same instant,
    with `bound` bound."""
    stream = io.StringIO()
    configure_logging("json", "info", stream)
    logger = structlog.get_logger("test")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(time, "time_ns", lambda: 1_767_225_600_123_456_789)
            bind_log_fields(**bound)
            logger.info("request", **fields)
            log_request(logger, dict(fields))
    finally:
        clear_log_fields()
        structlog.reset_defaults()
    # By newlines alone: splitlines() also splits at characters JSON writes as they are (U+0085, U+2028).
    generic, fast, end = stream.getvalue().split("\n")
    assert end == ""
    return generic, fast


@pytest.mark.parametrize("text", _SECRET_SAMPLES)
def test_each_word_redaction_looks_for_takes_the_request_line_through_redaction(text: str) -> None:
    """Each sample alone on a line, as a key and as a value, at the top and nested: the fast path's screen
    must send every one of them through redaction."""
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({text: "v", "status": 200}, {}),
        ({"detail": text}, {}),
        ({"nested": [{"x": {text: "v"}}]}, {}),
        ({"nested": {"x": [text]}}, {}),
        ({"status": 200}, {text: "v", "idp": text}),
    ]
    for fields, bound in cases:
        generic, fast = _generic_and_fast_lines(fields, bound)
        assert fast == generic, (fields, bound)


def test_values_orjson_does_not_know_take_the_request_line_through_redaction() -> None:
    """A mapping that is no dict (redaction copies it into one), objects, a tuple."""
    fields = {"m": MappingProxyType({"a": [1]}), "n": _Named(), "p": _Plain(), "t": (1, "x")}
    generic, fast = _generic_and_fast_lines(fields, {"bound": MappingProxyType({})})
    assert fast == generic
    assert json.loads(fast)["m"] == {"a": [1]}


@given(st.dictionaries(_KEYS, _VALUES, max_size=8), st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_the_request_lines_fast_path_writes_what_info_writes(
    fields: dict[str, Any], bound: dict[str, Any]
) -> None:
    """The JSON request line screens the rendered line and redacts only when it may hold a secret: for any
    fields and bound fields, secret-looking or not, it writes byte for byte the line ``info`` writes."""
    generic, fast = _generic_and_fast_lines(fields, bound)
    assert fast == generic


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9))
def test_every_timestamp_is_utc_isoformat(ns: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time_ns", lambda: ns)
        event = LevelAndTimestamp()(None, "info", {})
    expected = datetime.fromtimestamp(ns // 1000 // 10**6, UTC).replace(microsecond=ns // 1000 % 10**6)
    assert event["timestamp"] == expected.isoformat().replace("+00:00", "Z")
