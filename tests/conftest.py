"""Shared fixtures: captured JSON logs, and settings built in code against a tmp directory."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import settings

from bridge.log import configure_logging
from bridge.log_fields import clear_log_fields
from tests.local_modules import import_project_modules

# Every property test, unless its own @settings say otherwise:
# - no deadline: a per-example time limit is a timed assertion, and this shared machine is noisy;
# - a fixed, reproducible sample: a clean clone has no example database, so a random draw could turn CI red
#   on a find nobody can replay (FUZZ_EXPLORE=1 draws fresh examples for hunting);
# - a failing example's blob printed, to replay it with @reproduce_failure.
settings.register_profile(
    "bridge", deadline=None, derandomize=os.environ.get("FUZZ_EXPLORE") != "1", print_blob=True
)
settings.load_profile("bridge")


# What pytest-aiohttp's aiohttp_client answers for an Application: a client of that app on a real socket.
AppClient = TestClient[web.Request, web.Application]


class LogReader:
    """What the logging pipeline wrote so far: called, the parsed events; ``raw()``, the text itself (where a
    secret could hide outside any field)."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    def __call__(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._buffer.getvalue().splitlines() if line.strip()]

    def raw(self) -> str:
        return self._buffer.getvalue()


@pytest.fixture
def captured_logs() -> Iterator[LogReader]:
    """Configure the real logging pipeline (JSON renderer and redaction) into a buffer."""
    buffer = io.StringIO()
    configure_logging("json", "debug", stream=buffer)
    yield LogReader(buffer)
    structlog.reset_defaults()
    clear_log_fields()


@pytest.fixture(scope="session", autouse=True)
def _project_modules_loaded() -> None:
    """Before the first example: Hypothesis's draws then do not depend on what else the session imported."""
    import_project_modules()
