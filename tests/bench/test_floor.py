"""The floor server (bench/floor_server.py) as real processes: the emulator and the floor on loopback, a real
SQLite file; and `bench.floor`'s three-way run at the tiny plan (writes at c=1 and c=32, Okta's import)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from bench.clients import HttpSide, native_side, new_session, patch_body, scim_side, user_doc
from bench.floor import run
from bench.floor_rounds import SIDES
from bench.floor_server import FIND_BY_NAME
from bench.plan import tiny
from bench.processes import FLOOR_TOKEN, MASTER_PASSWORD, Proc, start_emulator, start_floor


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Proc]:
    proc = await start_emulator(tmp_path)
    yield proc
    proc.stop()


@pytest.fixture
async def floor(tmp_path: Path, emulator: Proc) -> AsyncIterator[Proc]:
    proc = await start_floor(tmp_path, emulator.url)
    yield proc
    proc.stop()


async def _native_user(native: HttpSide, det_id: int) -> dict[str, object]:
    status, body = await native.call("GET", f"/users/{det_id}")
    assert status == 200
    user: dict[str, object] = body["user"]
    return user


async def test_a_create_lands_on_the_emulator_and_its_mapping_in_the_floors_sqlite_file(
    tmp_path: Path, emulator: Proc, floor: Proc
) -> None:
    async with new_session() as session:
        scim = scim_side(session, floor.url + "/scim/v2", FLOOR_TOKEN)
        native = await native_side(session, emulator.url, "admin", MASTER_PASSWORD)
        status, created = await scim.call("POST", "/Users", user_doc("floor-1@bench.example", 1))
        assert status == 201
        assert created["userName"] == "floor-1@bench.example"

        with sqlite3.connect(tmp_path / "floor.db") as db:
            mapped = db.execute(
                "SELECT det_id, user_name, active FROM users WHERE scim_id = ?", (created["id"],)
            ).fetchall()
            intents = db.execute("SELECT op, target, state FROM intents").fetchall()
        assert len(mapped) == 1
        det_id, user_name, active = mapped[0]
        assert (user_name, active) == ("floor-1@bench.example", 1)
        assert intents == [("create", created["id"], "done")]
        user = await _native_user(native, det_id)
        assert (user["username"], user["active"], user["remote"]) == ("floor-1@bench.example", True, True)

        inactive = patch_body({"op": "replace", "path": "active", "value": False})
        status, answer = await scim.call("PATCH", f"/Users/{created['id']}", inactive)
        assert (status, answer["active"]) == (200, False)
        assert (await _native_user(native, det_id))["active"] is False
        with sqlite3.connect(tmp_path / "floor.db") as db:
            assert db.execute("SELECT active FROM users").fetchall() == [(0,)]
            assert db.execute("SELECT state FROM intents ORDER BY id").fetchall() == [("done",), ("done",)]


async def test_the_username_filter_finds_a_created_user_by_its_index_and_nothing_for_an_unknown_name(
    tmp_path: Path, floor: Proc
) -> None:
    async with new_session() as session:
        scim = scim_side(session, floor.url + "/scim/v2", FLOOR_TOKEN)
        status, created = await scim.call("POST", "/Users", user_doc("Floor-3@bench.example", 3))
        assert status == 201

        async def lookup(expression: str) -> tuple[int, dict[str, object]]:
            status, body = await scim.call("GET", "/Users?filter=" + quote(expression))
            return status, body

        # userName is not caseExact: another case finds the same user, and the attribute name is any case.
        for expression in ('userName eq "Floor-3@bench.example"', 'USERNAME Eq "floor-3@BENCH.example"'):
            assert await lookup(expression) == (
                200,
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": 1,
                    "startIndex": 1,
                    "itemsPerPage": 1,
                    "Resources": [created],
                },
            )
        status, empty = await lookup('userName eq "nobody@bench.example"')
        assert (status, empty["totalResults"], empty["Resources"]) == (200, 0, [])
        status, refused = await lookup('displayName eq "Floor"')
        assert (status, refused["status"], refused["scimType"]) == (400, "400", "invalidFilter")

    with sqlite3.connect(tmp_path / "floor.db") as db:
        plan = " ".join(str(r[-1]) for r in db.execute("EXPLAIN QUERY PLAN " + FIND_BY_NAME, ("x",)))
    # One search of the unique userName index, no scan of the table.
    assert plan.startswith("SEARCH users USING INDEX sqlite_autoindex_users_"), plan


async def test_a_wrong_token_is_refused_with_a_scim_error_and_nothing_is_written(
    tmp_path: Path, floor: Proc
) -> None:
    async with new_session() as session:
        wrong = scim_side(session, floor.url + "/scim/v2", "not-" + FLOOR_TOKEN)
        status, body = await wrong.call("POST", "/Users", user_doc("floor-2@bench.example", 2))
    assert status == 401
    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "401",
        "detail": "authentication required",
    }
    with sqlite3.connect(tmp_path / "floor.db") as db:
        assert db.execute("SELECT count(*) FROM intents").fetchone() == (0,)
    # One JSON line per request, the token nowhere in it. The floor writes the line a loop turn after its answer,
    # so on a busy machine the answer may arrive first.
    seen: list[tuple[str, str, int]] = []
    for _ in range(100):
        log = (tmp_path / "floor.log").read_text(encoding="utf-8")
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        seen = [(r["method"], r["path"], r["status"]) for r in lines if r["path"] != "/healthz"]
        if seen:
            break
        await asyncio.sleep(0.05)
    assert FLOOR_TOKEN not in log
    assert seen == [("POST", "/scim/v2/Users", 401)]


async def test_the_three_way_run_measures_every_side_in_every_round(tmp_path: Path) -> None:
    plan = dataclasses.replace(tiny(), rounds=3)
    rows = await run(plan, tmp_path, deactivate=True)
    writes = [(op, c) for c in (1, 32) for op in ("create_user", "deactivate_user")]
    assert [(r["op"], r["concurrency"]) for r in rows] == [*writes, ("okta_import", plan.import_concurrency)]
    assert all(side["requests"] == plan.import_users for side in rows[-1]["sides"].values())
    for row in rows:
        assert row["rounds"] == 3
        # Each round ran the three sides in a different order.
        assert len({tuple(order) for order in row["orders"]}) == 3
        for side in SIDES:
            stats = row["sides"][side]
            assert stats["failures"] == 0, stats["failure_samples"]
            assert stats["throughput_rps"] > 0
            cpu = stats["cpu_us_per_request"]
            assert cpu["emulator"] is not None
            assert cpu["loadgen"] is not None
            assert cpu["loadgen"] > 0
            assert (cpu["front"] is None) == (side == "native")
        for name in ("floor/native", "bridge/native", "bridge/floor"):
            ratio = row["throughput_ratio"][name]
            low, high = ratio["spread"]
            assert 0 < low <= ratio["median"] <= high
            assert ratio["cpu_bound"] > 0
            for figure in ("p50_ratio", "p99_ratio", "wall_time_ratio"):
                low, high = row[figure][name]["spread"]
                assert 0 < low <= row[figure][name]["median"] <= high
