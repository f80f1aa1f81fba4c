"""structlog configuration, done once by the entry point, and the redaction processor.

Every event is a JSON line (or a console line for humans); bridge.log_fields carries the request id.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TextIO

import orjson
import structlog
from structlog.tracebacks import ExceptionDictTransformer

from bridge import jsonenc
from bridge.log_fields import merge_log_fields

REDACTED: Final = "[redacted]"
_SECRET_KEY = re.compile(r"authorization|password|passwd|secret|token|cookie|credential|api[_-]?key", re.I)
# Values that look like credentials even under an innocent key (e.g. inside an error message).
_SECRET_VALUE = re.compile(
    r"\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{6,}|(password|secret|token)[\"']?\s*[:=]\s*[\"']?[^\s,\"'}]+",
    re.I,
)
_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _mask(match: re.Match[str]) -> str:
    if match.group(1):
        return f"{match.group(1)} {REDACTED}"
    return f"{match.group(2)}={REDACTED}"


@functools.lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    # Field names come from a small fixed vocabulary, so the verdict is computed once per name.
    return _SECRET_KEY.search(key) is not None


@functools.lru_cache(maxsize=1024)
def _secret_keys(keys: tuple[str, ...]) -> frozenset[str]:
    # The top-level names of one event, as a tuple: a line has ~11 and almost never one that names a
    # credential, and the events of a process come in a few shapes, so one verdict is kept per shape.
    return frozenset(key for key in keys if key != "event" and _secret_key(key))


def _may_hold_secret(text: str) -> bool:
    # Every match of _SECRET_VALUE contains one of these words; for ASCII text, lower() is exactly the
    # case folding re.IGNORECASE applies, so text without them needs no regex (most log values). Other
    # text always takes the regex (re.IGNORECASE folds e.g. U+017F to "s"), which is ~8x slower.
    if not text.isascii():
        return True
    lowered = text.lower()
    return (
        "basic" in lowered
        or "bearer" in lowered
        or "password" in lowered
        or "secret" in lowered
        or "token" in lowered
    )


def _scrub_text(text: str) -> str:
    return _SECRET_VALUE.sub(_mask, text) if _may_hold_secret(text) else text


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return value
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _secret_key(k) else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_scrub(v, depth + 1) for v in value]
    return value


_PLAIN: Final = (int, float, type(None))


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask any key that names a credential, and credential-looking text in values (a backstop)."""
    secret = _secret_keys(tuple(event_dict))
    texts: list[str] = []
    for key, value in event_dict.items():
        if key in secret:
            event_dict[key] = REDACTED
        elif type(value) is str:
            texts.append(value)
        elif not isinstance(value, _PLAIN):
            event_dict[key] = _scrub(value)
    # Top-level text is screened in one pass (a line's few short strings almost never hold a hint word);
    # only a line that does is scrubbed value by value.
    if texts and _may_hold_secret("\x00".join(texts)):
        for key, value in event_dict.items():
            if type(value) is str:
                event_dict[key] = _scrub_text(value)
    return event_dict


# structlog's dict_tracebacks writes every frame's local variables into the line; redaction only catches
# secret-sounding names and credential-shaped text, so a password in an ordinary local would get through.
_DICT_TRACEBACKS: Final = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))


def _dict_tracebacks(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """JSON lines: a structured traceback without local variables, only for an event with ``exc_info``."""
    if "exc_info" in event_dict:
        return _DICT_TRACEBACKS(logger, method_name, event_dict)
    return event_dict


def _text_tracebacks(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Console lines: the traceback as plain text in ``exception`` (the console renderer prints it as is;
    its own formatter, given the list a dict traceback makes, failed with a TypeError)."""
    if "exc_info" in event_dict:
        return structlog.processors.format_exc_info(logger, method_name, event_dict)
    return event_dict


class LevelAndTimestamp:
    """``add_log_level`` and ``TimeStamper(fmt="iso", utc=True)`` in one step, with the same output.

    Every request writes a line: the date and time to the second are formatted once per second, not per
    line (datetime.now().isoformat() was most of the ~1.6 us TimeStamper took).
    """

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        # structlog's level names: warn is the stdlib's alias, exception() logs at error.
        event_dict["level"] = _METHOD_LEVELS.get(method_name, method_name)
        event_dict["timestamp"] = self.timestamp()
        return event_dict

    def timestamp(self) -> str:
        """Now, as ``TimeStamper(fmt="iso", utc=True)`` writes it (the request line calls it directly)."""
        # Whole microseconds in integers: time.time()'s float took two float-to-int conversions more.
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).isoformat()[: -len("+00:00")]
            self._second = second
        # isoformat() leaves the fraction out when it is zero. zfill, not a 06d format spec: the spec's
        # machinery costs ~1.5k instructions more, on every line.
        return f"{self._prefix}.{str(micro).zfill(6)}Z" if micro else f"{self._prefix}Z"


_METHOD_LEVELS: Final = {"warn": "warning", "exception": "error"}


def shared_processors(fmt: str, stamp: LevelAndTimestamp) -> list[structlog.typing.Processor]:
    """The processor chain before rendering: redaction runs once, after tracebacks are rendered (so it sees
    them), and before the level and timestamp (`stamp`), which the bridge writes itself and need no
    scrubbing."""
    tracebacks = _text_tracebacks if fmt == "console" else _dict_tracebacks
    return [merge_log_fields, tracebacks, redact_secrets, stamp]


def _request_line(chain: Sequence[structlog.typing.Processor]) -> Callable[[Any, dict[str, Any]], None]:
    """``self.info("request", **fields)`` without structlog's generic path: the same `chain` of processors
    (the renderer last) on the same event, so the line is the one ``info`` writes (a test compares them).

    Every request writes this line. The generic path packed the fields as keywords, copied them into a new
    event and checked the renderer's result type; `fields` is the caller's own dict and becomes the event.
    """

    def request_line(self: Any, fields: dict[str, Any]) -> None:
        event: Any = {**self._context, **fields} if self._context else fields
        event["event"] = "request"
        try:
            for processor in chain:
                event = processor(self._logger, "info", event)
        except structlog.DropEvent:
            return
        self._logger.msg(event)

    return request_line


def _line_may_hold_secret(line: str) -> bool:
    """Whether redaction could change anything in the event `line` renders: True for a line holding any
    word that redaction looks for, under a key or in a value (the value pattern's five; the key pattern's,
    ``passwd`` and ``password`` by ``passw``, ``api[_-]?key`` by ``api``), or any text that is not ASCII
    (re.IGNORECASE folds e.g. U+017F to "s"; for ASCII, lower() is exactly its folding). The JSON line
    holds every key and string of the event, nested ones too, with letters as they are (JSON escapes only
    quotes, backslashes and control characters)."""
    if not line.isascii():
        return True
    lowered = line.lower()
    return (
        "token" in lowered
        or "secret" in lowered
        or "passw" in lowered
        or "bearer" in lowered
        or "basic" in lowered
        or "authorization" in lowered
        or "cookie" in lowered
        or "credential" in lowered
        or "api" in lowered
    )


def _json_request_line(
    chain: Sequence[structlog.typing.Processor], stamp: LevelAndTimestamp
) -> Callable[[Any, dict[str, Any]], None]:
    """The request line of the JSON chain (`chain`, whose level and timestamp processor is `stamp`): the line
    ``_request_line(chain)`` writes, for less. The event is rendered before it is redacted, and redacted
    and rendered again only when the line may hold a secret (`_line_may_hold_secret`), which a usual
    request line does not: a screen of the line costs about half of what redaction's walk over every
    field did (~11k instructions against ~17k). Redaction never changes the level and the timestamp
    (neither holds a word it looks for), so it may come after them. An event orjson cannot render alone
    (a value of a type it does not know, e.g. a mapping that is no dict, which redaction would copy into
    one) and an event with ``exc_info`` take the whole chain.
    """

    now = stamp.timestamp
    generic = _request_line(chain)

    def request_line(self: Any, fields: dict[str, Any]) -> None:
        event: Any = {**self._context, **fields} if self._context else fields
        event["event"] = "request"
        merge_log_fields(None, "info", event)
        if "exc_info" in event:
            generic(self, event)
            return
        # `stamp`'s work for ``info``, without its call through the instance (~1k).
        event["level"] = "info"
        event["timestamp"] = now()
        try:
            line = orjson.dumps(event).decode()
        except orjson.JSONEncodeError:
            line = None
        if line is None or _line_may_hold_secret(line):
            line = render_json(None, "info", redact_secrets(None, "info", event))
        self._logger.msg(line)

    return request_line


def _skip_request_line(self: Any, fields: dict[str, Any]) -> None:
    """The request line below the configured level: dropped, as ``info`` is."""


def _logger_class(level: int, write: Callable[[Any, dict[str, Any]], None]) -> type[Any]:
    """structlog's filtering bound logger for `level`, plus ``request_line(fields)`` by `write`."""
    filtering = structlog.make_filtering_bound_logger(level)
    request_line = write if level <= logging.INFO else _skip_request_line
    return type("BridgeBoundLogger", (filtering,), {"request_line": request_line})


def log_request(logger: Any, fields: dict[str, Any]) -> None:
    """Write the canonical ``request`` line with `fields` through `logger` (a ``structlog.get_logger()``).

    Under another configuration than ``configure_logging``'s (tests reset structlog's defaults), the
    bound logger has no ``request_line`` and the line takes the generic path.
    """
    bound = logger.bind()
    write = getattr(bound, "request_line", None)
    if write is None:
        bound.info("request", **fields)
    else:
        write(fields)


def _unknown_value(value: Any) -> Any:
    """A value JSON has no form for, as structlog's JSONRenderer writes it: its ``__structlog__()``, else its
    repr."""
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


def render_json(_: Any, __: str, event_dict: Mapping[str, Any]) -> str:
    """The JSON renderer: the event as one line, as structlog's JSONRenderer writes it, with the fast
    encoder. Every request writes a line, and the JSONRenderer's call of its serializer (keywords, and a
    layer that accepts any) cost ~3k instructions more per line."""
    try:
        # jsonenc.dumps' first try, without its call (~1k): it ends here for every usual line.
        return orjson.dumps(event_dict, default=_unknown_value).decode()
    except orjson.JSONEncodeError:
        return jsonenc.dumps_refused(event_dict, default=_unknown_value).decode()


def configure_logging(
    fmt: str = "json", level: str = "info", stream: TextIO | None = None, *, cache_loggers: bool = False
) -> None:
    """Configure structlog once for the process: JSON lines on stdout, or console rendering.

    `cache_loggers` is for a server whose configuration never changes afterwards: each logger then
    resolves its processors and output once, on first use, instead of on every event (the request line
    is written for every request). Tests reconfigure logging per test, so they keep the default.
    """
    stamp = LevelAndTimestamp()
    chain: list[structlog.typing.Processor]
    if fmt == "console":
        # plain_traceback: with rich installed the default formatter would print local variables too.
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
        chain = [*shared_processors(fmt, stamp), renderer]
        write = _request_line(chain)
    else:
        chain = [*shared_processors(fmt, stamp), render_json]
        write = _json_request_line(chain, stamp)
    structlog.configure(
        processors=chain,
        wrapper_class=_logger_class(_LEVELS.get(level, logging.INFO), write),
        # WriteLogger: one write and flush per line, without print()'s per-call argument handling.
        logger_factory=structlog.WriteLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=cache_loggers,
    )
