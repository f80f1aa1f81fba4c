"""A lasting refusal logs its drifts once: the background passes the guard refuses do not repeat every
``reconcile.drift`` warning (against a wrong master, one per mapping, at every pass).

The real reconcile context runs on a socket with a pass every 0.3 s; both emulators over HTTP and the SQLite store
are real. Lines are counted in the structlog capture.
"""

from __future__ import annotations

from typing import Any

from pytest_aiohttp import AiohttpServer

from bridge.reconcile import Mode, build_reconciler
from bridge.reconcile.drift import Drift, DriftKind
from bridge.reconcile.refusal_log import ThrottledRefusalLog
from tests.conftest import LogReader
from tests.polling import until
from tests.reliability.conftest import World, WrongMaster, bounded

GHOSTS = 3
# The background loop runs on the test's own event loop: polled (tests/polling.py), with this failure.
LATE = "the background loop did not get there in time"


def _events(captured_logs: LogReader, event: str) -> list[dict[str, Any]]:
    return [e for e in captured_logs() if e.get("event") == event]


def _passes(captured_logs: LogReader) -> list[dict[str, Any]]:
    return [e for e in _events(captured_logs, "reconcile.summary") if e["mode"] == "repair"]


async def test_refused_passes_log_each_drift_once_and_new_ones_as_they_come(
    world: World, wrong: WrongMaster, aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    """Before the fix each refused pass logged all its user.missing drifts again: 3 lines a pass here, 3 x passes
    in all. Now the first pass logs them, later ones count them in drift_lines_suppressed, and a mapping that
    goes missing meanwhile is the one new line."""
    world = bounded(world, max_retire=0, interval=0.3)
    for i in range(GHOSTS):
        await world.user(f"user{i}")

    server = await world.serve_reconciling(aiohttp_server, master=wrong.client)
    try:
        await until(lambda: len(_passes(captured_logs)) >= 4, LATE)
        passes = _passes(captured_logs)
        assert all(p["refused"] and p["drifts"] == GHOSTS for p in passes)
        assert len(_events(captured_logs, "reconcile.drift")) == GHOSTS
        assert [p["drift_lines_suppressed"] for p in passes[:4]] == [0, GHOSTS, GHOSTS, GHOSTS]

        late = await world.user("late")
        seen = len(_passes(captured_logs))
        await until(lambda: len(_passes(captured_logs)) >= seen + 3, LATE)
        drifts = _events(captured_logs, "reconcile.drift")
        assert len(drifts) == GHOSTS + 1
        assert (drifts[-1]["scim_id"], drifts[-1]["kind"]) == (late.scim_id, "user.missing")
        assert _passes(captured_logs)[-1]["drift_lines_suppressed"] == GHOSTS + 1
    finally:
        await server.close()


async def test_a_one_off_run_logs_every_drift_every_time(
    world: World, wrong: WrongMaster, captured_logs: LogReader
) -> None:
    """`scim-bridge reconcile` stands alone: each refused run prints all its drifts, as before."""
    world = bounded(world, max_retire=0)
    for i in range(GHOSTS):
        await world.user(f"user{i}")
    reconciler = await build_reconciler(world.settings, world.store, wrong.client)
    for _ in range(2):
        before = len(_events(captured_logs, "reconcile.drift"))
        assert (await reconciler.run(Mode.REPAIR)).refused
        assert len(_events(captured_logs, "reconcile.drift")) - before == GHOSTS


def test_the_throttled_log_forgets_what_a_cleared_refusal_told(captured_logs: LogReader) -> None:
    """The same drift, refused, refused, cleared by the guard (another path's outcome does not clear it), refused:
    logged the first and the last time."""
    drift = Drift(DriftKind.USER_MISSING, "User", "scim-1", 3)
    log = ThrottledRefusalLog(300.0)
    suppressed = [log.drifts("pass", [drift], refused=True) for _ in range(2)]
    log.outcome("background", None)
    suppressed.append(log.drifts("pass", [drift], refused=True))
    log.outcome("pass", None)
    suppressed.append(log.drifts("pass", [drift], refused=True))
    assert suppressed == [0, 1, 1, 0]
    assert len(_events(captured_logs, "reconcile.drift")) == 2
