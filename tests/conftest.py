"""Shared fixtures: captured JSON logs, and settings built in code against a tmp directory."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from bridge.log import configure_logging

LogReader = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def captured_logs() -> Iterator[LogReader]:
    """Configure the real logging pipeline (JSON renderer and redaction) into a buffer."""
    buffer = io.StringIO()
    configure_logging("json", "debug", stream=buffer)

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    read.raw = buffer.getvalue  # type: ignore[attr-defined]
    yield read
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
