"""The /readyz database probe on a damaged file logs store.corrupt once when readiness turns bad, not once per
probe (Kubernetes asks every few seconds), and store.recovered once when it turns good; its answer is as before.
The bridge on a socket, the emulator over HTTP, a real SQLite file damaged before the bridge starts
(tests/damaged.py) and repaired under it."""

from __future__ import annotations

from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.conftest import LogReader
from tests.damaged import damaged_database, repaired
from tests.idp.harness import start_world


def _store_lines(captured_logs: LogReader) -> list[tuple[str, str, str]]:
    return [
        (e["event"], e["level"], e["error"])
        for e in captured_logs()
        if e["event"] in ("store.corrupt", "store.failed", "store.recovered")
    ]


async def test_readiness_logs_a_damaged_database_when_it_turns_bad_and_when_it_turns_good(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    db = tmp_path / "bridge.db"
    pages = await damaged_database(db, "users")
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    before = len(_store_lines(captured_logs))
    for _ in range(3):
        ready = await world.bridge.get("/readyz")
        assert ready.status == 503
        assert await ready.json() == {"status": "unavailable", "reasons": {"database": "StoreCorrupt"}}
    assert _store_lines(captured_logs)[before:] == [
        ("store.corrupt", "error", "database disk image is malformed")
    ]

    repaired(db, pages)
    for _ in range(3):
        ready = await world.bridge.get("/readyz")
        assert ready.status == 200, await ready.text()
    assert _store_lines(captured_logs)[before:] == [
        ("store.corrupt", "error", "database disk image is malformed"),
        ("store.recovered", "info", "StoreCorrupt"),
    ]
