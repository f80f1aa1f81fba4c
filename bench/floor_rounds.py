"""Rounds of `python -m bench.floor`: native, floor and bridge, each round in another order; what a row reports.

Each round runs every side once with the same request count and concurrency; the order of the sides runs
through all six permutations, so no side always meets the same phase of the machine's other load. Per run:
throughput, wall time, p50/p99, and CPU microseconds per request of the process in front (floor or bridge),
of the emulator and of this load generator (/proc, as bench/overhead.py measures them). A row reports per
side the medians over rounds, and per ratio the median of the per-round ratios with their min-max.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from bench.loadgen import Call, Stats, closed_loop
from bench.overhead import settle
from bench.plan import Plan
from bench.processes import Proc
from bench.rounds import cell_requests, cost_summary, median_ratio, ratio, spread

Side = Literal["native", "floor", "bridge"]
SIDES: Final[tuple[Side, ...]] = ("native", "floor", "bridge")
ORDERS: Final = tuple(itertools.permutations(SIDES))
RATIOS: Final[tuple[tuple[Side, Side], ...]] = (
    ("floor", "native"),
    ("bridge", "native"),
    ("bridge", "floor"),
)
# Per-round ratios of a row besides throughput: the name, and the figure of one run they divide.
FIGURES: Final[tuple[tuple[str, Callable[[Stats], float]], ...]] = (
    ("p50_ratio", lambda s: s.p50_ms),
    ("p99_ratio", lambda s: s.p99_ms),
    ("wall_time_ratio", lambda s: s.seconds),
)


@dataclass(frozen=True, slots=True)
class Servers:
    """The three processes: the emulator, and the floor and the bridge in front of it."""

    emulator: Proc
    floor: Proc
    bridge: Proc

    def front(self, side: Side) -> Proc | None:
        """The process a side's requests enter first, when that is not the emulator."""
        return {"native": None, "floor": self.floor, "bridge": self.bridge}[side]

    def total_cpu(self) -> float | None:
        """CPU seconds of all three (what must go idle between runs)."""
        times = [p.cpu_seconds() for p in (self.emulator, self.floor, self.bridge)]
        return None if None in times else sum(t for t in times if t is not None)


@dataclass(frozen=True, slots=True)
class Run:
    """One side's run: its stats and CPU microseconds per request (front process, emulator, load generator)."""

    stats: Stats
    cpu: dict[str, float | None]


def _us(before: float | None, after: float | None, requests: int) -> float | None:
    if before is None or after is None or not requests:
        return None
    return round((after - before) / requests * 1e6, 1)


async def costed_run(
    servers: Servers, side: Side, call: Call, *, count: int, concurrency: int, first: int, max_seconds: float
) -> Run:
    """One closed-loop run, then wait for the servers to go idle (charged to this run)."""
    front = servers.front(side)
    front_before = None if front is None else front.cpu_seconds()
    emulator_before, loadgen_before = servers.emulator.cpu_seconds(), time.process_time()
    stats = await closed_loop(
        call, requests=count, concurrency=concurrency, max_seconds=max_seconds, first=first
    )
    loadgen_after = time.process_time()
    await settle(servers.total_cpu)
    cpu = {
        "front": None if front is None else _us(front_before, front.cpu_seconds(), stats.requests),
        "emulator": _us(emulator_before, servers.emulator.cpu_seconds(), stats.requests),
        "loadgen": _us(loadgen_before, loadgen_after, stats.requests),
    }
    return Run(stats, cpu)


def _server_us(cpu: dict[str, float | None]) -> float | None:
    """CPU microseconds per request of the servers: the front process (if any) and the emulator."""
    if cpu["emulator"] is None:
        return None
    return round(cpu["emulator"] + (cpu["front"] or 0.0), 1)


def _total_us(cpu: dict[str, float | None]) -> float | None:
    """CPU microseconds per request of every process that serves it: the servers and the load generator."""
    servers = _server_us(cpu)
    return None if servers is None or cpu["loadgen"] is None else servers + cpu["loadgen"]


def _ratio_of(per_round: list[float | None]) -> dict[str, Any]:
    return {"median": median_ratio(per_round), "spread": spread(per_round), "rounds": per_round}


def cell(op: str, concurrency: int, rounds: Sequence[dict[Side, Run]], warm: int) -> dict[str, Any]:
    """One operation's row: per side the medians over rounds, per ratio the median of per-round ratios."""
    sides: dict[str, Any] = {}
    for side in SIDES:
        runs = [r[side] for r in rounds]
        sides[side] = {
            "requests": runs[0].stats.requests,
            "failures": sum(r.stats.failures for r in runs),
            "failure_samples": [s for r in runs for s in r.stats.failure_samples][:5],
            "seconds": round(statistics.median(r.stats.seconds for r in runs), 4),
            "throughput_rps": round(statistics.median(r.stats.throughput for r in runs), 1),
            "p50_ms": round(statistics.median(r.stats.p50_ms for r in runs), 3),
            "p99_ms": round(statistics.median(r.stats.p99_ms for r in runs), 3),
            "cpu_us_per_request": cost_summary([r.cpu for r in runs]),
            "server_cpu_us_spread": spread([_server_us(r.cpu) for r in runs]),
        }
    totals = {side: _total_us(sides[side]["cpu_us_per_request"]) for side in SIDES}
    row: dict[str, Any] = {
        "op": op,
        "concurrency": concurrency,
        "warmup": warm,
        "rounds": len(rounds),
        "orders": [list(ORDERS[i % len(ORDERS)]) for i in range(len(rounds))],
        "sides": sides,
        "throughput_ratio": {},
        **{name: {} for name, _ in FIGURES},
    }
    for top, bottom in RATIOS:
        name = f"{top}/{bottom}"
        low, high = totals[bottom], totals[top]
        row["throughput_ratio"][name] = {
            **_ratio_of([ratio(r[top].stats.throughput, r[bottom].stats.throughput) for r in rounds]),
            # The ratio with both cores busy with these processes alone: the inverse ratio of their CPU costs.
            "cpu_bound": None if low is None or high is None else ratio(low, high),
        }
        for figure, of in FIGURES:
            row[figure][name] = _ratio_of([ratio(of(r[top].stats), of(r[bottom].stats)) for r in rounds])
    return row


async def run_rounds(
    servers: Servers,
    calls: dict[Side, Call],
    *,
    rounds: int,
    count: int,
    concurrency: int,
    first: int,
    max_seconds: float,
) -> list[dict[Side, Run]]:
    """`rounds` rounds of all three sides, `count` requests each, sequence numbers running on from `first`."""
    done: list[dict[Side, Run]] = []
    for i in range(rounds):
        runs: dict[Side, Run] = {}
        for side in ORDERS[i % len(ORDERS)]:
            runs[side] = await costed_run(
                servers,
                side,
                calls[side],
                count=count,
                concurrency=concurrency,
                first=first + i * count,
                max_seconds=max_seconds,
            )
        done.append(runs)
    return done


async def measure(
    plan: Plan,
    op: str,
    servers: Servers,
    calls: dict[Side, Call],
    *,
    concurrency: int,
    room: int | None = None,
) -> dict[str, Any]:
    """A warm-up of each side, then `plan.rounds` rounds of all three (bench.overhead's cell, three ways).

    As there, concurrency 1 runs a quarter of the requests (Plan.at); the count follows from the fastest
    side's warm-up rate, `room` bounds the sequence numbers the workload's data allows in all.
    """
    warm = plan.at(concurrency, plan.warmup)
    if room is not None:
        warm = min(warm, room // (plan.rounds + 1))
    rates = []
    for side in SIDES:
        stats = await closed_loop(
            calls[side], requests=warm, concurrency=concurrency, max_seconds=plan.cell_seconds
        )
        rates.append(stats.throughput)
        await settle(servers.total_cpu)
    count = cell_requests(
        rates,
        min_seconds=plan.min_cell_seconds,
        floor=plan.at(concurrency, plan.writes),
        cap=plan.at(concurrency, plan.max_writes),
        room=None if room is None else (room - warm) // plan.rounds,
    )
    rounds = await run_rounds(
        servers,
        calls,
        rounds=plan.rounds,
        count=count,
        concurrency=concurrency,
        first=warm,
        max_seconds=plan.cell_seconds,
    )
    return cell(op, concurrency, rounds, warm)
