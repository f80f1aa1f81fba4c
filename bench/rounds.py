"""Rounds of one side-by-side cell: who runs first, how many requests, and what a row reports.

A cell runs both sides several times, alternating which goes first (bridge, native, native, bridge, ...):
on a shared machine the load drifts, and a side that always ran first or second would always meet the
same phase of it. Each round pairs one bridge run with the native run next to it in time; the row reports
per side the median over rounds, and per ratio the median of the per-round ratios with their min-max
(the spread, what the noise did to that ratio during this cell).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bench.loadgen import MAX_FAILURE_SAMPLES, Stats

Side = Literal["bridge", "native"]
# CPU microseconds per request of the servers and of the load generator (None: not measurable).
Cost = dict[str, float | None]


def abba(rounds: int) -> list[tuple[Side, Side]]:
    """The order of the two sides in each round: bridge first in even rounds, native first in odd ones."""
    return [("bridge", "native") if i % 2 == 0 else ("native", "bridge") for i in range(rounds)]


def cell_requests(
    rates: Sequence[float], *, min_seconds: float, floor: int, cap: int, room: int | None = None
) -> int:
    """Requests per side and round: enough for the faster side to run `min_seconds`, within bounds.

    `rates` are both sides' warm-up throughputs; the slower side then runs longer with the same count.
    `floor` and `cap` bound the count; `room` is how many requests the workload's data still allows in
    one round (a request may consume a fresh user or id). At least one request.
    """
    wanted = math.ceil(min_seconds * max(rates, default=0.0))
    count = min(max(floor, wanted), cap)
    if room is not None:
        count = min(count, room)
    return max(1, count)


def ratio(a: float, b: float) -> float | None:
    """a / b, or None when b is zero."""
    return round(a / b, 3) if b else None


def median(values: Sequence[float | None]) -> float | None:
    """The median of the known values (None when none is known)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def spread(values: Sequence[float | None]) -> list[float] | None:
    """[min, max] of the known values (None when none is known)."""
    known = [v for v in values if v is not None]
    return [min(known), max(known)] if known else None


@dataclass(frozen=True, slots=True)
class Round:
    """One round of a cell: both sides with the same request count and concurrency, one after the other."""

    first: Side
    bridge: Stats
    native: Stats
    bridge_cost: Cost
    native_cost: Cost

    @property
    def ratios(self) -> dict[str, float | None]:
        """bridge / native of this round's throughput, p50 and p99."""
        b, n = self.bridge, self.native
        return {
            "throughput_ratio": ratio(b.throughput, n.throughput),
            "p50_ratio": ratio(b.p50_ms, n.p50_ms),
            "p99_ratio": ratio(b.p99_ms, n.p99_ms),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON form, one entry of a row's `rounds`."""
        return {
            "first": self.first,
            "bridge": self.bridge.as_dict(),
            "native": self.native.as_dict(),
            "cpu_us_per_request": {"bridge": self.bridge_cost, "native": self.native_cost},
            **self.ratios,
        }


def side_summary(runs: Sequence[Stats]) -> dict[str, Any]:
    """One side over all rounds, in the keys of `Stats.as_dict`: medians of its per-round figures.

    Failures are added up (a failed request in any round marks the cell) and their samples kept.
    """
    samples = [s for run in runs for s in run.failure_samples][:MAX_FAILURE_SAMPLES]
    return {
        "requests": round(statistics.median(r.requests for r in runs)),
        "failures": sum(r.failures for r in runs),
        "seconds": round(statistics.median(r.seconds for r in runs), 4),
        "throughput_rps": round(statistics.median(r.throughput for r in runs), 2),
        "p50_ms": round(statistics.median(r.p50_ms for r in runs), 3),
        "p99_ms": round(statistics.median(r.p99_ms for r in runs), 3),
        "failure_samples": samples,
    }


def cost_summary(costs: Sequence[Cost]) -> Cost:
    """Median per key of per-round CPU costs."""
    keys = dict.fromkeys(k for cost in costs for k in cost)
    return {k: _rounded(median([cost.get(k) for cost in costs])) for k in keys}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def summary(op: str, kind: str, concurrency: int, rounds: Sequence[Round]) -> dict[str, Any]:
    """One row of the overhead table from its rounds (at least one).

    The row's ratios are medians of the per-round ratios (each pairs runs adjacent in time), so they can
    differ a little from the ratio of the two sides' medians; `spread` holds each ratio's min-max, and
    that of each side's server CPU per request.
    """
    per_round = [r.ratios for r in rounds]
    names = ("throughput_ratio", "p50_ratio", "p99_ratio")
    return {
        "op": op,
        "kind": kind,
        "concurrency": concurrency,
        "bridge": side_summary([r.bridge for r in rounds]),
        "native": side_summary([r.native for r in rounds]),
        **{name: median_ratio([x[name] for x in per_round]) for name in names},
        "spread": {
            **{name: spread([x[name] for x in per_round]) for name in names},
            "bridge_server_us": spread([r.bridge_cost.get("server") for r in rounds]),
            "native_server_us": spread([r.native_cost.get("server") for r in rounds]),
        },
        "cpu_us_per_request": {
            "bridge": cost_summary([r.bridge_cost for r in rounds]),
            "native": cost_summary([r.native_cost for r in rounds]),
        },
        "rounds": [r.as_dict() for r in rounds],
    }


def median_ratio(values: Sequence[float | None]) -> float | None:
    """The median of per-round ratios, rounded as a ratio is."""
    value = median(values)
    return None if value is None else round(value, 3)


def curve_point(op: str, kind: str, concurrency: int, rounds: Sequence[Round]) -> dict[str, Any]:
    """One point of a scale curve: a `summary` row whose spread also holds each side's p50 and p99 min-max.

    A curve's target compares the bridge with itself at two sizes, measured minutes apart: no round of
    one point pairs with a round of the other, so the target needs each side's own spread, not a ratio's.
    """
    row = summary(op, kind, concurrency, rounds)
    for side, runs in (("bridge", [r.bridge for r in rounds]), ("native", [r.native for r in rounds])):
        row["spread"][f"{side}_p50_ms"] = spread([round(s.p50_ms, 3) for s in runs])
        row["spread"][f"{side}_p99_ms"] = spread([round(s.p99_ms, 3) for s in runs])
    return row


def peer_row(op: str, rounds: Sequence[Round]) -> dict[str, Any]:
    """One row of the peer comparison from rounds whose `native` side was the peer (scim2-server).

    Per side the medians over rounds; the throughput ratio is the median of the per-round ratios, with
    their min-max as its spread. The JSON names the second side `peer`.
    """
    ratios = [r.ratios["throughput_ratio"] for r in rounds]
    return {
        "op": op,
        "bridge": side_summary([r.bridge for r in rounds]),
        "peer": side_summary([r.native for r in rounds]),
        "throughput_ratio": median_ratio(ratios),
        "spread": {"throughput_ratio": spread(ratios)},
        "cpu_us_per_request": {
            "bridge": cost_summary([r.bridge_cost for r in rounds]),
            "peer": cost_summary([r.native_cost for r in rounds]),
        },
        "rounds": [
            {
                "first": "bridge" if r.first == "bridge" else "peer",
                "bridge": r.bridge.as_dict(),
                "peer": r.native.as_dict(),
                "cpu_us_per_request": {"bridge": r.bridge_cost, "peer": r.native_cost},
                "throughput_ratio": x,
            }
            for r, x in zip(rounds, ratios, strict=True)
        ],
    }
