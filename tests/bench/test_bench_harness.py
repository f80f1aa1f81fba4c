"""`python -m bench --tiny 50` as a real run: emulator, bridge and scim2-server processes, every section filled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.loadgen import percentile
from bench.report import Target, targets

ROOT = Path(__file__).resolve().parents[2]
STATS_KEYS = {"requests", "failures", "seconds", "throughput_rps", "p50_ms", "p99_ms", "failure_samples"}


def _run_bench(out: Path, *args: str) -> tuple[dict[str, Any], str]:
    """`python -m bench ARGS -o OUT` as its own process: its results.json and what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


def _stats_ok(stats: dict[str, Any]) -> None:
    assert set(stats) == STATS_KEYS
    assert stats["requests"] > 0
    assert stats["failures"] == 0, stats["failure_samples"]
    assert stats["throughput_rps"] > 0
    assert 0 < stats["p50_ms"] <= stats["p99_ms"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    return _run_bench(tmp_path_factory.mktemp("bench") / "results.json", "--tiny", "50")


def test_every_overhead_cell_has_both_sides_at_both_concurrencies(
    tiny_run: tuple[dict[str, Any], str],
) -> None:
    results, _ = tiny_run
    cells = {(r["op"], r["concurrency"]) for r in results["overhead"]}
    ops = ("get_user", "create_user", "deactivate_user", "group_member_add")
    assert cells == {(op, c) for op in ops for c in (1, 32)}
    for row in results["overhead"]:
        _stats_ok(row["bridge"])
        _stats_ok(row["native"])
        assert row["throughput_ratio"] > 0
        assert row["p99_ratio"] > 0
        # Every round ran both sides with the same count, alternating who went first.
        rounds = row["rounds"]
        assert len(rounds) == results["plan"]["rounds"]
        assert [r["first"] for r in rounds] == ["bridge", "native"] * (len(rounds) // 2)
        assert all(
            r["bridge"]["requests"] == r["native"]["requests"] == row["bridge"]["requests"] for r in rounds
        )
        low, high = row["spread"]["throughput_ratio"]
        assert low <= row["throughput_ratio"] <= high
        assert row["warmup"]["bridge"]["requests"] == row["warmup"]["native"]["requests"] > 0
        # CPU per request from /proc (clock ticks: a tiny cell may round to 0) and the load generator's own.
        for side in ("bridge", "native"):
            cost = row["cpu_us_per_request"][side]
            assert cost["server"] is not None
            assert cost["server"] >= 0
            assert cost["loadgen"] is not None
            assert cost["loadgen"] > 0


def test_import_scale_memory_peer_and_mixed_are_filled(tiny_run: tuple[dict[str, Any], str]) -> None:
    results, _ = tiny_run
    _stats_ok(results["import"]["bridge"])
    _stats_ok(results["import"]["native"])
    assert results["import"]["wall_time_ratio"] > 0
    assert {(r["op"], r["n"]) for r in results["scale"]["users"]} == {
        (op, n) for op in ("filter_username_eq", "page_deep") for n in (25, 50)
    }
    assert [(r["op"], r["group_size"]) for r in results["scale"]["groups"]] == [
        (op, size) for size in (2, 25) for op in ("group_member_add", "group_member_swap")
    ]
    plan = results["plan"]
    abba = ["bridge", "native"] * (plan["rounds"] // 2)
    for row in results["scale"]["users"] + results["scale"]["groups"]:
        _stats_ok(row["bridge"])
        _stats_ok(row["native"])
        # Rounds in ABBA order, the same count on both sides; medians inside each side's spread.
        assert [r["first"] for r in row["rounds"]] == abba
        for r in row["rounds"]:
            assert r["bridge"]["requests"] == r["native"]["requests"] == plan["scale_round_requests"]
        for side in ("bridge", "native"):
            for key in ("p50_ms", "p99_ms"):
                low, high = row["spread"][f"{side}_{key}"]
                assert low <= row[side][key] <= high
        low, high = row["spread"]["p50_ratio"]
        assert low <= row["p50_ratio"] <= high
    assert results["memory"]["n"] >= 50
    assert results["memory"]["bridge_peak_rss_mb"] > 0
    assert results["peer"]["n"] == 25
    assert {r["op"] for r in results["peer"]["rows"]} == {"get_user", "filter_username_eq", "page_deep"}
    for row in results["peer"]["rows"]:
        _stats_ok(row["bridge"])
        _stats_ok(row["peer"])
        assert [r["first"] for r in row["rounds"]] == ["bridge", "peer"] * (plan["rounds"] // 2)
        for r in row["rounds"]:
            assert r["bridge"]["requests"] == r["peer"]["requests"] == plan["peer_round_requests"]
        low, high = row["spread"]["throughput_ratio"]
        assert low <= row["throughput_ratio"] <= high
    _stats_ok(results["mixed"]["ceiling"])
    _stats_ok(results["mixed"]["paced"])
    assert results["failures"] == []


def test_targets_and_table(tiny_run: tuple[dict[str, Any], str]) -> None:
    results, stdout = tiny_run
    names = [t["name"] for t in results["targets"]]
    assert "okta import wall time" in names
    assert "memory bridge peak RSS MiB" in names
    assert "entra headroom (ceiling / 25 req/s)" in names
    assert all(isinstance(t["passed"], bool) for t in results["targets"])
    # Every figure measured in rounds carries its spread; the once-measured ones (memory, mixed) none.
    for t in results["targets"]:
        once = t["name"].startswith(("memory", "entra"))
        assert (t["spread"] is None) == once, t
    assert "Targets" in stdout
    assert "3. Scale (concurrency 1, ms bridge / native; medians of 2 rounds" in stdout
    assert "(rps bridge / peer; medians of 2 rounds" in stdout
    assert "1b. CPU per request" in stdout
    for name in names:
        assert name in stdout


def test_percentile_is_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 0.50) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([], 0.5) == 0.0


def test_target_verdicts() -> None:
    assert Target("x", 1.2, 1.5, higher_is_better=False).passed
    assert not Target("x", 1.6, 1.5, higher_is_better=False).passed
    assert Target("x", 3.0, 3.0, higher_is_better=True).passed
    assert not Target("x", None, 3.0, higher_is_better=True).passed
    assert any(t.name.startswith("scale page_deep") and t.value is None for t in targets({}))


def test_only_runs_the_named_sections(tmp_path: Path) -> None:
    results, stdout = _run_bench(
        tmp_path / "results.json", "--tiny", "20", "--only", "import", "--only", "memory"
    )
    assert results["meta"]["sections"] == ["import", "memory"]
    assert not {"overhead", "scale", "peer", "mixed"} & set(results)
    _stats_ok(results["import"]["bridge"])
    assert len(results["import"]["rounds"]) == results["plan"]["rounds"]
    assert results["memory"]["n"] == 20
    # Only the targets of the sections that ran: no scale target reported as a miss.
    assert [t["name"] for t in results["targets"]] == ["okta import wall time", "memory bridge peak RSS MiB"]
    assert "3. Scale" not in stdout
