"""The round logic of an overhead cell: ABBA order, request counts, medians per side and ratio spreads."""

from __future__ import annotations

from bench.loadgen import Stats
from bench.report import table
from bench.rounds import Round, abba, cell_requests, cost_summary, median, side_summary, spread, summary


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
