"""`python -m bench.floor`: the native API, the floor server and the bridge, side by side at c=32 (issue 9).

The floor (bench/floor_server.py) is the cheapest process that keeps the design's constraints on a write: an
aiohttp server on uvloop, bearer auth, a durable intent before the master call over the bridge's transport,
one commit after it, an orjson answer and a log line. The bridge's cost above the floor is what its SCIM
logic adds; the floor's own ratio to native says whether the 0.6 target is reachable by any bridge of
this design on this machine.

Three processes answer the same operation on one emulator: the emulator itself (native), the floor in
front of it, and the real bridge in front of it. Each round runs every side once with the same request
count and concurrency; the order of the sides runs through all six permutations, so no side always meets
the same phase of the machine's other load. Per run: throughput, p50/p99, and CPU microseconds per request
of the process in front (floor or bridge), of the emulator and of this load generator (/proc, as
bench/overhead.py measures them). With ``--instructions`` it counts the floor's create (and
deactivate) under callgrind instead (bench/floor_instructions.py), as bench/instructions.py counts the bridge's.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from bench.clients import HttpSide, native_side, native_user_doc, new_session, patch_body, scim_side, user_doc
from bench.floor_instructions import count
from bench.loadgen import Call, Stats, closed_loop
from bench.overhead import settle
from bench.plan import QUICK, Plan, tiny
from bench.processes import (
    BRIDGE_TOKEN,
    FLOOR_TOKEN,
    MASTER_PASSWORD,
    Proc,
    start_bridge,
    start_emulator,
    start_floor,
)
from bench.rounds import cell_requests, cost_summary, median_ratio, ratio, spread

Side = Literal["native", "floor", "bridge"]
SIDES: Final[tuple[Side, ...]] = ("native", "floor", "bridge")
ORDERS: Final = tuple(itertools.permutations(SIDES))
RATIOS: Final[tuple[tuple[Side, Side], ...]] = (
    ("floor", "native"),
    ("bridge", "native"),
    ("bridge", "floor"),
)
CONCURRENCY: Final = 32


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
    servers: Servers, side: Side, call: Call, *, count: int, first: int, max_seconds: float
) -> Run:
    """One closed-loop run at CONCURRENCY, then wait for the servers to go idle (charged to this run)."""
    front = servers.front(side)
    front_before = None if front is None else front.cpu_seconds()
    emulator_before, loadgen_before = servers.emulator.cpu_seconds(), time.process_time()
    stats = await closed_loop(
        call, requests=count, concurrency=CONCURRENCY, max_seconds=max_seconds, first=first
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


def cell(op: str, rounds: Sequence[dict[Side, Run]], warm: int) -> dict[str, Any]:
    """One operation's row: per side the medians over rounds, per ratio the median of per-round ratios."""
    sides: dict[str, Any] = {}
    for side in SIDES:
        runs = [r[side] for r in rounds]
        sides[side] = {
            "requests": runs[0].stats.requests,
            "failures": sum(r.stats.failures for r in runs),
            "failure_samples": [s for r in runs for s in r.stats.failure_samples][:5],
            "throughput_rps": round(statistics.median(r.stats.throughput for r in runs), 1),
            "p50_ms": round(statistics.median(r.stats.p50_ms for r in runs), 3),
            "p99_ms": round(statistics.median(r.stats.p99_ms for r in runs), 3),
            "cpu_us_per_request": cost_summary([r.cpu for r in runs]),
            "server_cpu_us_spread": spread([_server_us(r.cpu) for r in runs]),
        }
    totals = {side: _total_us(sides[side]["cpu_us_per_request"]) for side in SIDES}
    ratios: dict[str, Any] = {}
    for top, bottom in RATIOS:
        per_round = [ratio(r[top].stats.throughput, r[bottom].stats.throughput) for r in rounds]
        low, high = totals[bottom], totals[top]
        ratios[f"{top}/{bottom}"] = {
            "median": median_ratio(per_round),
            "spread": spread(per_round),
            "rounds": per_round,
            # The ratio with both cores busy with these processes alone: the inverse ratio of their CPU costs.
            "cpu_bound": None if low is None or high is None else ratio(low, high),
        }
    return {
        "op": op,
        "concurrency": CONCURRENCY,
        "warmup": warm,
        "rounds": len(rounds),
        "orders": [list(ORDERS[i % len(ORDERS)]) for i in range(len(rounds))],
        "sides": sides,
        "throughput_ratio": ratios,
    }


async def measure(
    plan: Plan, op: str, servers: Servers, calls: dict[Side, Call], *, room: int | None = None
) -> dict[str, Any]:
    """A warm-up of each side, then `plan.rounds` rounds of all three (bench.overhead's cell, three ways)."""
    warm = plan.warmup if room is None else min(plan.warmup, room // (plan.rounds + 1))
    rates = []
    for side in SIDES:
        stats = await closed_loop(
            calls[side], requests=warm, concurrency=CONCURRENCY, max_seconds=plan.cell_seconds
        )
        rates.append(stats.throughput)
        await settle(servers.total_cpu)
    count = cell_requests(
        rates,
        min_seconds=plan.min_cell_seconds,
        floor=plan.writes,
        cap=plan.max_writes,
        room=None if room is None else (room - warm) // plan.rounds,
    )
    rounds: list[dict[Side, Run]] = []
    for i in range(plan.rounds):
        runs: dict[Side, Run] = {}
        for side in ORDERS[i % len(ORDERS)]:
            runs[side] = await costed_run(
                servers, side, calls[side], count=count, first=warm + i * count, max_seconds=plan.cell_seconds
            )
        rounds.append(runs)
    return cell(op, rounds, warm)


@dataclass(frozen=True, slots=True)
class Clients:
    """One HTTP side per way in: the emulator's REST API, the floor's and the bridge's SCIM."""

    native: HttpSide
    floor: HttpSide
    bridge: HttpSide

    def side(self, side: Side) -> HttpSide:
        """The client of `side`."""
        return {"native": self.native, "floor": self.floor, "bridge": self.bridge}[side]


class Writes:
    """The create and deactivate calls of each side; deactivation uses the users that side created."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients
        self.created: dict[Side, list[str]] = {side: [] for side in SIDES}

    def create(self, side: Side) -> Call:
        """POST one fresh user through `side`."""
        client, made = self._clients.side(side), self.created[side]

        async def call(seq: int) -> int:
            name = f"fl-{side}-{seq}@bench.example"
            if side == "native":
                status, body = await client.call("POST", "/users", native_user_doc(name, seq))
                if status == 200:
                    made.append(str(body["user"]["id"]))
                return status
            status, body = await client.call("POST", "/Users", user_doc(name, seq))
            if status == 201:
                made.append(str(body["id"]))
            return status

        return call

    def deactivate(self, side: Side) -> Call:
        """PATCH active=false on the `seq`-th user `side` created."""
        client, made = self._clients.side(side), self.created[side]
        scim = patch_body({"op": "replace", "path": "active", "value": False})

        async def call(seq: int) -> int:
            if side == "native":
                return await client.status("PATCH", f"/users/{made[seq]}", {"active": False})
            return await client.status("PATCH", f"/Users/{made[seq]}", scim)

        return call

    @property
    def room(self) -> int:
        """Users every side has created (deactivations available per side)."""
        return min(len(made) for made in self.created.values())


async def run(plan: Plan, workdir: Path, *, deactivate: bool) -> list[dict[str, Any]]:
    """Start the emulator, the floor and the bridge; measure create (and deactivate) three ways."""
    emulator = await start_emulator(workdir)
    started: list[Proc] = [emulator]
    try:
        floor = await start_floor(workdir, emulator.url)
        started.append(floor)
        bridge = await start_bridge(workdir, emulator.url)
        started.append(bridge)
        servers = Servers(emulator, floor, bridge)
        async with new_session() as session:
            clients = Clients(
                native=await native_side(session, emulator.url, "admin", MASTER_PASSWORD),
                floor=scim_side(session, floor.url + "/scim/v2", FLOOR_TOKEN),
                bridge=scim_side(session, bridge.url + "/scim/v2", BRIDGE_TOKEN),
            )
            writes = Writes(clients)
            rows = [await measure(plan, "create_user", servers, {s: writes.create(s) for s in SIDES})]
            print(table(rows[-1]), flush=True)
            if deactivate:
                calls = {s: writes.deactivate(s) for s in SIDES}
                rows.append(await measure(plan, "deactivate_user", servers, calls, room=writes.room))
                print(table(rows[-1]), flush=True)
            return rows
    finally:
        for proc in reversed(started):
            proc.stop()


def _fmt(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.1f}"


def table(row: dict[str, Any]) -> str:
    """A row as printed: one line per side, then the ratios with their per-round min-max."""
    first = row["sides"]["native"]
    lines = [
        f"{row['op']} c={row['concurrency']}: medians of {row['rounds']} rounds of {first['requests']} requests",
        "  side       req/s   p50 ms   p99 ms   CPU us/request: front emulator loadgen  fails",
    ]
    for side in SIDES:
        s = row["sides"][side]
        cpu = s["cpu_us_per_request"]
        lines.append(
            f"  {side:<7}{s['throughput_rps']:>9.1f}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}"
            f"{'':>17}{_fmt(cpu['front'], 6)}{_fmt(cpu['emulator'], 9)}{_fmt(cpu['loadgen'], 8)}"
            f"{s['failures']:>7}"
        )
    ratios = [
        f"{name} {r['median']} [{r['spread'][0]}-{r['spread'][1]}] (CPU-bound {r['cpu_bound']})"
        for name, r in row["throughput_ratio"].items()
        if r["spread"] is not None
    ]
    lines.append("  throughput " + "   ".join(ratios))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints each operation's table (or instruction counts); -o writes the rows as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds per operation (6: every order once)")
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="the fastest side's least time per run (sets the count)"
    )
    parser.add_argument("--no-deactivate", action="store_true", help="measure create only")
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run proving the harness")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="instead: count the floor's and the native instructions under callgrind (a few minutes)",
    )
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    deactivate = not args.no_deactivate
    results: dict[str, Any]
    if args.instructions:
        print(
            "thousands of instructions per request (callgrind): floor, emulator behind it, emulator native; ratio"
        )
        with tempfile.TemporaryDirectory(prefix="scim-bench-floor-ir-") as work:
            results = {"instructions": asyncio.run(count(Path(work), deactivate=deactivate))}
    else:
        plan = dataclasses.replace(tiny() if args.tiny else QUICK, rounds=args.rounds)
        if not args.tiny:
            plan = dataclasses.replace(
                plan, min_cell_seconds=args.seconds, max_writes=20_000, cell_seconds=60.0
            )
        with tempfile.TemporaryDirectory(prefix="scim-bench-floor-") as work:
            results = {
                "plan": plan.as_dict(),
                "rows": asyncio.run(run(plan, Path(work), deactivate=deactivate)),
            }
    if args.output is not None:
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
