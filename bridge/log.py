"""structlog configuration, done once by the entry point, and the redaction processor.

Every event is a JSON line (or a console line for humans); contextvars carry the request id.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Final, TextIO

import structlog

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


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return value
    if isinstance(value, str):
        return _SECRET_VALUE.sub(_mask, value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_scrub(v, depth + 1) for v in value]
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask any key that names a credential, and credential-looking text in values (a backstop)."""
    for key in list(event_dict):
        if _SECRET_KEY.search(key) and key != "event":
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def shared_processors() -> list[structlog.typing.Processor]:
    """The processor chain before rendering; tests reuse it with a capturing renderer."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]


def configure_logging(fmt: str = "json", level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog once for the process: JSON lines on stdout, or console rendering."""
    renderer: structlog.typing.Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            *shared_processors(),
            structlog.processors.dict_tracebacks,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
