"""The round logic of a cell (overhead, scale point, peer row): ABBA order, request counts, medians per side
and ratio spreads, and how targets and the table report them."""

from __future__ import annotations

from typing import Any

from bench.loadgen import Stats
from bench.report import table, targets
from bench.rounds import (
    Round,
    abba,
    cell_requests,
    cost_summary,
    curve_point,
    median,
    peer_row,
    side_summary,
    spread,
    summary,
)


def _stats(requests: int, seconds: float, p50: float, p99: float, failures: tuple[str, ...] = ()) -> Stats:
    return Stats(requests, len(failures), seconds, p50, p99, failures)


def test_abba_alternates_who_goes_first_and_balances_an_even_count() -> None:
    order = abba(4)
    assert order == [
        ("bridge", "native"),
        ("native", "bridge"),
        ("bridge", "native"),
        ("native", "bridge"),
    ]
    # Each side runs first in half the rounds and is in every round exactly once.
    assert sum(first == "bridge" for first, _ in order) == 2
    assert all(set(pair) == {"bridge", "native"} for pair in abba(7))
    assert abba(0) == []


def test_cell_requests_lets_the_faster_side_run_min_seconds() -> None:
    # 10,000 req/s native, 2,000 bridge: half a second of the faster side.
    assert cell_requests([2_000.0, 10_000.0], min_seconds=0.5, floor=100, cap=50_000) == 5_000
    # Bounded below by the floor, above by the cap and by the room the workload's data leaves.
    assert cell_requests([2_000.0, 10.0], min_seconds=0.5, floor=2_000, cap=50_000) == 2_000
    assert cell_requests([1e6, 1e6], min_seconds=0.5, floor=100, cap=6_000) == 6_000
    assert cell_requests([1e6], min_seconds=0.5, floor=100, cap=6_000, room=2_350) == 2_350
    # A request at least, whatever the bounds or the rates.
    assert cell_requests([], min_seconds=0.5, floor=0, cap=10) == 1
    assert cell_requests([5.0], min_seconds=0.5, floor=10, cap=10, room=0) == 1


def test_median_and_spread_skip_unknown_values() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5  # an even count: the mean of the middle two
    assert median([None, 5.0]) == 5.0
    assert median([None]) is None
    assert spread([0.6, None, 0.5, 0.7]) == [0.5, 0.7]
    assert spread([]) is None


def test_side_summary_takes_medians_and_adds_up_failures() -> None:
    runs = [
        _stats(100, 1.0, 1.0, 9.0),
        _stats(100, 4.0, 3.0, 30.0, ("#7: HTTP 503",)),
        _stats(100, 2.0, 2.0, 10.0),
    ]
    summed = side_summary(runs)
    assert summed == {
        "requests": 100,
        "failures": 1,
        "seconds": 2.0,
        "throughput_rps": 50.0,  # the median of 100, 25 and 50 req/s
        "p50_ms": 2.0,
        "p99_ms": 10.0,
        "failure_samples": ["#7: HTTP 503"],
    }
    # The keys of a single run's JSON, so readers of results.json see one shape.
    assert set(summed) == set(runs[0].as_dict())


def test_cost_summary_is_a_median_per_key() -> None:
    costs: list[dict[str, float | None]] = [
        {"server": 100.0, "loadgen": 50.0},
        {"server": 300.0, "loadgen": None},
        {"server": 200.0, "loadgen": 70.0},
    ]
    assert cost_summary(costs) == {"server": 200.0, "loadgen": 60.0}
    assert cost_summary([{"server": None}]) == {"server": None}


def _round(first: str, bridge_rps: float, native_rps: float, bridge_p99: float = 2.0) -> Round:
    # 1,000 requests: seconds = 1000 / rps; p50 1 ms on both sides.
    return Round(
        "bridge" if first == "bridge" else "native",
        _stats(1_000, 1_000 / bridge_rps, 1.0, bridge_p99),
        _stats(1_000, 1_000 / native_rps, 1.0, 1.0),
        {"server": 100.0, "loadgen": 50.0},
        {"server": 60.0, "loadgen": 40.0},
    )


def test_summary_reports_median_ratios_of_paired_rounds_and_their_spread() -> None:
    # The machine slows down in the middle rounds; each round's ratio stays near 0.5.
    rounds = [
        _round("bridge", 5_000, 10_000),
        _round("native", 2_000, 4_400, bridge_p99=3.0),
        _round("bridge", 2_100, 4_000),
        _round("native", 4_800, 10_000, bridge_p99=2.5),
    ]
    row = summary("get_user", "read", 32, rounds)
    assert row["op"] == "get_user"
    assert row["kind"] == "read"
    assert row["concurrency"] == 32
    # The median of the per-round ratios 0.5, 0.455, 0.525, 0.48.
    assert row["throughput_ratio"] == 0.49
    assert row["spread"]["throughput_ratio"] == [0.455, 0.525]
    assert row["p50_ratio"] == 1.0
    assert row["p99_ratio"] == 2.25
    assert row["spread"]["p99_ratio"] == [2.0, 3.0]
    assert row["spread"]["bridge_server_us"] == [100.0, 100.0]
    assert row["spread"]["native_server_us"] == [60.0, 60.0]
    assert row["bridge"]["throughput_rps"] == 3_450.0
    assert row["native"]["throughput_rps"] == 7_200.0
    assert row["cpu_us_per_request"] == {
        "bridge": {"server": 100.0, "loadgen": 50.0},
        "native": {"server": 60.0, "loadgen": 40.0},
    }
    assert [r["first"] for r in row["rounds"]] == ["bridge", "native", "bridge", "native"]
    assert row["rounds"][1]["throughput_ratio"] == 0.455


def test_table_prints_the_spread_next_to_each_ratio() -> None:
    row = summary("get_user", "read", 32, [_round("bridge", 5_000, 10_000), _round("native", 4_000, 10_000)])
    text = table({"plan": {"name": "unit"}, "meta": {"started": "now"}, "overhead": [row]})
    assert "medians of 2 rounds" in text
    line = next(x for x in text.splitlines() if x.strip().startswith("get_user"))
    assert "0.40-0.50" in line
    assert "2.00-2.00" in line


def test_table_reads_a_row_without_rounds() -> None:
    # results.json written before rounds existed: no spread, nothing else missing.
    one = _stats(1_000, 0.1, 1.0, 2.0).as_dict()
    row = {
        "op": "get_user",
        "kind": "read",
        "concurrency": 1,
        "bridge": one,
        "native": one,
        "throughput_ratio": 1.0,
        "p50_ratio": 1.0,
        "p99_ratio": 1.0,
        "cpu_us_per_request": {"bridge": {"server": 1.0, "loadgen": 1.0}, "native": {}},
    }
    text = table({"plan": {"name": "old"}, "meta": {"started": "then"}, "overhead": [row]})
    assert "medians of" not in text
    assert "get_user" in text


def _latency_round(first: str, bridge: tuple[float, float], native: tuple[float, float]) -> Round:
    """A concurrency-1 round of 100 requests per side; (p50, p99) in ms per side, seconds = 100 x p50."""
    return Round(
        "bridge" if first == "bridge" else "native",
        _stats(100, bridge[0] / 10, *bridge),
        _stats(100, native[0] / 10, *native),
        {"server": 500.0, "loadgen": 100.0},
        {"server": 300.0, "loadgen": 90.0},
    )


def _curve(op: str, key: str, point: int, bridge_p50s: list[float]) -> dict[str, Any]:
    """A scale-curve row at `point` whose bridge p50 is one of `bridge_p50s` per round (native 1 ms)."""
    rounds = [
        _latency_round(first, (p50, p50 * 2), (1.0, 2.0))
        for (first, _), p50 in zip(abba(len(bridge_p50s)), bridge_p50s, strict=True)
    ]
    return {key: point, **curve_point(op, "read", 1, rounds)}


def test_curve_point_reports_medians_over_rounds_and_each_sides_latency_spread() -> None:
    rounds = [
        _latency_round("bridge", (1.0, 3.0), (0.5, 1.0)),
        _latency_round("native", (4.0, 9.0), (0.6, 1.5)),  # a slow phase of the machine
        _latency_round("bridge", (1.2, 2.5), (0.4, 0.9)),
    ]
    row = curve_point("filter_username_eq", "read", 1, rounds)
    # Per side the median over rounds, not the mean (the slow round does not drag it up).
    assert row["bridge"]["p50_ms"] == 1.2
    assert row["bridge"]["p99_ms"] == 3.0
    assert row["native"]["p50_ms"] == 0.5
    assert row["native"]["p99_ms"] == 1.0
    assert row["bridge"]["throughput_rps"] == round(100 / 0.12, 2)
    # Spreads: each side's own p50 and p99 min-max, and the per-round ratios' (bridge / native p50: 2, 6.667, 3).
    assert row["spread"]["bridge_p50_ms"] == [1.0, 4.0]
    assert row["spread"]["bridge_p99_ms"] == [2.5, 9.0]
    assert row["spread"]["native_p50_ms"] == [0.4, 0.6]
    assert row["spread"]["native_p99_ms"] == [0.9, 1.5]
    assert row["p50_ratio"] == 3.0
    assert row["spread"]["p50_ratio"] == [2.0, 6.667]
    assert [r["first"] for r in row["rounds"]] == ["bridge", "native", "bridge"]
    assert row["concurrency"] == 1


def test_peer_row_names_the_second_side_peer_and_takes_the_median_per_round_ratio() -> None:
    # Throughput ratios per round: 5, 4, 6, 4.5.
    rounds = [
        _round("bridge", 5_000, 1_000),
        _round("native", 2_000, 500),
        _round("bridge", 6_000, 1_000),
        _round("native", 4_500, 1_000),
    ]
    row = peer_row("get_user", rounds)
    assert set(row) == {"op", "bridge", "peer", "throughput_ratio", "spread", "cpu_us_per_request", "rounds"}
    assert row["op"] == "get_user"
    assert row["throughput_ratio"] == 4.75
    assert row["spread"] == {"throughput_ratio": [4.0, 6.0]}
    assert row["bridge"]["throughput_rps"] == 4_750.0
    assert row["peer"]["throughput_rps"] == 1_000.0
    assert row["cpu_us_per_request"]["peer"] == {"server": 60.0, "loadgen": 40.0}
    assert [r["first"] for r in row["rounds"]] == ["bridge", "peer", "bridge", "peer"]
    assert all(set(r) >= {"bridge", "peer", "throughput_ratio"} for r in row["rounds"])
    assert [r["throughput_ratio"] for r in row["rounds"]] == [5.0, 4.0, 6.0, 4.5]


def test_scale_target_is_the_ratio_of_median_p50s_with_the_range_of_cross_round_ratios() -> None:
    users = [
        _curve("page_deep", "n", 1_000, [2.0, 2.5, 1.6]),  # median 2.0
        _curve("page_deep", "n", 10_000, [2.1, 2.2, 2.0]),
        _curve("page_deep", "n", 100_000, [3.0, 2.4, 6.0]),  # median 3.0
    ]
    found = {t.name: t for t in targets({"meta": {"sections": ["scale"]}, "scale": {"users": users}})}
    target = found["scale page_deep largest/smallest N"]
    assert target.value == 1.5
    assert target.passed  # at the bound
    # Fastest largest-N round over slowest smallest-N round, and the other way round.
    assert target.spread == [round(2.4 / 2.5, 3), round(6.0 / 1.6, 3)]
    assert "medians of 3 rounds" in target.note
    assert target.as_dict()["spread"] == target.spread
    # No figure without a curve of two points.
    assert found["scale filter_username_eq largest/smallest N"].value is None
    assert found["scale filter_username_eq largest/smallest N"].spread is None


def test_targets_carry_the_spread_of_overhead_import_and_peer_ratios() -> None:
    overhead = summary(
        "get_user", "read", 32, [_round("bridge", 5_000, 10_000), _round("native", 4_000, 10_000)]
    )
    peer = peer_row("page_deep", [_round("bridge", 500, 10), _round("native", 400, 10)])
    results = {
        "meta": {"sections": ["overhead", "import", "peer"]},
        "overhead": [overhead],
        "import": {"wall_time_ratio": 5.0, "spread": {"wall_time_ratio": [4.5, 5.5]}},
        "peer": {"n": 10, "concurrency": 4, "rows": [peer]},
    }
    spreads = {t.name: t.spread for t in targets(results)}
    assert spreads == {
        "overhead get_user throughput c=32": [0.4, 0.5],
        "overhead get_user p99 c=32": [2.0, 2.0],
        "okta import wall time": [4.5, 5.5],
        "peer page_deep throughput": [40.0, 50.0],
    }


def test_table_prints_scale_and_peer_medians_with_their_spreads() -> None:
    users = [
        _curve("filter_username_eq", "n", 1_000, [0.5, 0.7]),
        _curve("filter_username_eq", "n", 10_000, [0.6, 0.9]),
    ]
    peer = peer_row("get_user", [_round("bridge", 4_000, 1_000), _round("native", 5_000, 1_000)])
    text = table(
        {
            "plan": {"name": "unit"},
            "meta": {"started": "now"},
            "scale": {"users": users, "groups": []},
            "peer": {"n": 10, "concurrency": 4, "rows": [peer]},
        }
    )
    assert "3. Scale (concurrency 1, ms bridge / native; medians of 2 rounds" in text
    scale_line = next(x for x in text.splitlines() if "N=  10000" in x)
    assert "0.75/1.00" in scale_line  # the medians: (0.6 + 0.9) / 2 and the native 1 ms
    assert "0.60-0.90" in scale_line  # the bridge p50 over rounds
    assert "medians of 2 rounds, spread = min-max of the per-round ratio" in text
    peer_line = next(x for x in text.splitlines() if x.strip().startswith("get_user"))
    assert "4500.0 / 1000.0" in peer_line
    assert "4.50" in peer_line
    assert "4.00-5.00" in peer_line
    target_line = next(x for x in text.splitlines() if "scale filter_username_eq" in x)
    assert f"{0.6 / 0.7:.2f}-{0.9 / 0.5:.2f}" in target_line
