"""bench.instructions' bookkeeping: reading callgrind's dumps and turning counts into rows (the servers under
valgrind are too slow for the suite; `python -m bench.instructions` runs them)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from bench.clients import HttpSide
from bench.directory import Directory
from bench.instructions import OPERATIONS, Window, callgrind_totals, line, new_dumps_total, row, workloads

HEADER = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npid: 7\nevents: Ir\n"


def test_totals_come_from_the_totals_line_else_the_summary() -> None:
    assert callgrind_totals(HEADER + "fn=(1) main\n5 12\nsummary: 900\ntotals: 1234\n") == 1234
    assert callgrind_totals(HEADER + "summary: 900\n") == 900
    with pytest.raises(ValueError, match="no totals"):
        callgrind_totals(HEADER + "fn=(1) main\n")


def test_each_dump_is_counted_once_and_an_unfinished_file_waits(tmp_path: Path) -> None:
    out = tmp_path / "bridge.callgrind"
    out.write_text(HEADER, encoding="utf-8")  # the exit dump's file: no totals while the process runs
    seen: set[Path] = set()
    assert new_dumps_total(out, seen) is None
    (tmp_path / "bridge.callgrind.1").write_text(HEADER + "totals: 5000\n", encoding="utf-8")
    assert new_dumps_total(out, seen) == 5000
    assert new_dumps_total(out, seen) is None
    (tmp_path / "bridge.callgrind.2").write_text(HEADER + "totals: 700\n", encoding="utf-8")
    (tmp_path / "emulator.callgrind.1").write_text(HEADER + "totals: 99\n", encoding="utf-8")
    assert new_dumps_total(out, seen) == 700


def test_a_row_is_thousands_per_request_and_the_ratio_counts_the_emulator_behind_the_bridge() -> None:
    scim = Window(requests=500, bridge=240_000_000, emulator=10_000_000)
    native = Window(requests=500, bridge=1_000_000, emulator=200_000_000)
    r = row("get_user", 32, scim, native)
    assert r == {
        "op": "get_user",
        "concurrency": 32,
        "requests": 500,
        "bridge_kir": 480.0,
        "emulator_behind_bridge_kir": 20.0,
        "native_kir": 400.0,
        "ratio": 1.25,
    }
    assert line(r).split() == ["get_user", "c=32", "480.0", "20.0", "400.0", "1.25"]


def test_no_native_count_gives_no_ratio() -> None:
    empty = Window(requests=10, bridge=0, emulator=0)
    assert row("create_user", 1, Window(requests=10, bridge=5, emulator=5), empty)["ratio"] is None


def test_every_operation_has_a_workload_and_the_cold_and_stale_reads_make_their_own_users() -> None:
    """get_user_cold reads users no request has read, get_user_stale users read once and written since: their
    prepare steps make them, apart from the directory get_user reads (which they leave as it is)."""
    directory = Directory(scim_ids=["a", "b"], det_ids={"user000000@bench.example": 1})
    calls = workloads(cast(HttpSide, None), cast(HttpSide, None), directory)
    assert tuple(calls) == OPERATIONS
    assert calls["get_user_cold"].prepare is not None
    assert calls["get_user_stale"].prepare is not None
    assert calls["get_user"].prepare is None
    assert directory.scim_ids == ["a", "b"]
