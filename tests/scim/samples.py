"""Loads the RFC example payloads kept in tests/samples (named by RFC section)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def load_sample(name: str) -> Any:
    """The parsed JSON of tests/samples/<name>."""
    return json.loads((SAMPLES / name).read_text())
