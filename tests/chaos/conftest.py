"""Chaos suite options: CI size by default, the flagged size with ``--chaos-full`` or ``CHAOS_FULL=1``.

Run the flagged size as ``pytest tests/chaos --chaos-full`` (the option lives in this conftest, so it is
known when tests/chaos is on the command line) or ``CHAOS_FULL=1 pytest``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest


@dataclass(frozen=True, slots=True)
class ChaosSize:
    """How much chaos: SCIM operations, concurrent IdP clients, bridge SIGKILLs, master fault rate, outages."""

    operations: int
    clients: int
    kills: int
    fault_rate: float
    outages: int


CI_SIZE = ChaosSize(
    operations=int(os.environ.get("CHAOS_OPS", "2000")),
    clients=8,
    kills=int(os.environ.get("CHAOS_KILLS", "4")),
    fault_rate=0.15,
    outages=3,
)
FULL_SIZE = ChaosSize(operations=20_000, clients=16, kills=12, fault_rate=0.15, outages=12)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--chaos-full``: run the large chaos size."""
    parser.addoption(
        "--chaos-full", action="store_true", default=False, help="run the chaos suite at full size"
    )


@pytest.fixture
def chaos_size(request: pytest.FixtureRequest) -> ChaosSize:
    """The size chosen by flag or environment."""
    full = (
        bool(request.config.getoption("--chaos-full", default=False)) or os.environ.get("CHAOS_FULL") == "1"
    )
    return FULL_SIZE if full else CI_SIZE
