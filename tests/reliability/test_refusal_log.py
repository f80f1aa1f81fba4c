"""The background loop's refusals are logged when they start, change and clear, and only as a reminder between.

A refused run changes nothing and the next one decides again, every intent period (up to 15 s) and every pass, so
logging each refusal buried the logs in identical errors for as long as the bridge stayed pointed at the wrong
master. The real reconcile context runs on a socket with short periods (intent_grace 0.2 s: a run every 0.1 s; a
pass every 0.3 s) and a one-second reminder; both emulators over HTTP and the SQLite store are real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from bridge.metrics import MetricsRecorder
from bridge.reconcile import background, build_intent_resolver
from tests.conftest import LogReader
from tests.polling import until
from tests.reliability.conftest import World, WrongMaster, bounded
from tests.reliability.test_intent_guard import _delete_pending

REPEAT = 1.0
# The background loop runs on the test's own event loop: polled (tests/polling.py), with this failure.
LATE = "the background loop did not get there in time"


def _lines(captured_logs: LogReader, event: str, path: str) -> list[dict[str, Any]]:
    return [e for e in captured_logs() if e.get("event") == event and e.get("path") == path]


def _refused(metrics: MetricsRecorder, path: str) -> float | None:
    return metrics.registry.get_sample_value("scim_bridge_reconcile_refused", {"path": path})


async def test_a_lasting_refusal_is_logged_at_start_on_change_as_a_reminder_and_when_it_clears(
    world: World,
    wrong: WrongMaster,
    aiohttp_server: AiohttpServer,
    captured_logs: LogReader,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Before the fix every one of the runs logged reconcile.retire_refused (about ten a second here), no line
    said how many runs it stood for, nothing said when the refusal ended, and no gauge showed it."""
    monkeypatch.setattr(background, "REFUSAL_REPEAT", REPEAT)
    world = bounded(world, intent_grace=0.2, max_retire=0, interval=0.3)
    for i in range(3):
        await _delete_pending(world, await world.user(f"user{i}"))
    before = await wrong.view.state()
    metrics = MetricsRecorder(str(tmp_path / "bridge.db"))

    server = await world.serve_reconciling(aiohttp_server, master=wrong.client, metrics=metrics)
    try:
        # Started: one line per path at once, then a reminder after REPEAT standing for the runs in between.
        await until(
            lambda: all(
                len(_lines(captured_logs, "reconcile.retire_refused", p)) >= 2 for p in ("background", "pass")
            ),
            LATE,
        )
        for path in ("background", "pass"):
            first, reminder, *_ = _lines(captured_logs, "reconcile.retire_refused", path)
            assert (first["level"], first["missing"], first["users_checked"], first["refused_runs"]) == (
                "error",
                3,
                3,
                1,
            )
            assert reminder["missing"] == 3
            assert reminder["refused_runs"] >= 2
            assert reminder["refused_for_s"] >= REPEAT
            assert _refused(metrics, path) == 3
        lines = _lines(captured_logs, "reconcile.retire_refused", "background")
        assert len(lines) < sum(line["refused_runs"] for line in lines)

        # Changed: a fourth user deprovisioned meanwhile is logged by the first run that sees it, not at the
        # next reminder.
        await _delete_pending(world, await world.user("user3"))
        await until(
            lambda: any(
                e["missing"] == 4 for e in _lines(captured_logs, "reconcile.retire_refused", "background")
            ),
            LATE,
        )
        changed = next(
            e for e in _lines(captured_logs, "reconcile.retire_refused", "background") if e["missing"] == 4
        )
        assert changed["refused_runs"] == 1
        assert changed["refused_for_s"] >= REPEAT  # the same refusal, still going since the start

        # Cleared: the operator settles the deletes with the override; both paths say the refusal ended.
        override = build_intent_resolver(
            world.settings, world.store, wrong.client, path="cli", allow_mass_retire=True
        )
        assert (await override.resolve_all()).refusal is None
        await until(
            lambda: all(
                _lines(captured_logs, "reconcile.retire_refusal_cleared", p) for p in ("background", "pass")
            ),
            LATE,
        )
        for path in ("background", "pass"):
            [cleared] = _lines(captured_logs, "reconcile.retire_refusal_cleared", path)
            assert cleared["level"] == "info"
            assert cleared["refused_for_s"] > 0
            assert _refused(metrics, path) == 0
        assert await wrong.view.state() == before
    finally:
        await server.close()
