"""`python -m bench.floor`: the native API, the floor server and the bridge, side by side (issue 9).

The floor (bench/floor_server.py) is the cheapest process that keeps the design's constraints on a write: an
aiohttp server on uvloop, bearer auth, a durable intent before the master call over the bridge's transport,
one commit after it, an orjson answer and a log line. The bridge's cost above the floor is what its SCIM
logic adds; the floor's own ratio to native says whether a target is reachable by any bridge of this
design on this machine.

Three processes answer the same operation on one emulator: the emulator itself (native), the floor in
front of it, and the real bridge in front of it, in rounds (bench/floor_rounds.py). One run measures the
write targets issue 9 sets: create and deactivate at c=1 and c=32 (throughput, p50/p99 and their ratios),
and Okta's import sequence (per new user a `userName eq` lookup, then the create; natively the lookup by
name, then POST) at bench.plan's import concurrency (wall-time ratio). With ``--instructions`` it counts
the floor's create (and deactivate) under callgrind instead (bench/floor_instructions.py), as
bench/instructions.py counts the bridge's.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from bench.clients import HttpSide, native_side, native_user_doc, new_session, scim_side, user_doc
from bench.floor_instructions import count
from bench.floor_rounds import SIDES, Servers, Side, cell, measure, run_rounds
from bench.loadgen import Call
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
from bench.write_calls import native_write_calls, scim_write_calls

CONCURRENCIES: Final = (1, 32)
IMPORT_USERS: Final = 1_000  # users per side and round of a real run (the full plan's count)


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

    def __init__(self, clients: Clients, tag: str) -> None:
        # `tag` is in every user name: each cell creates users no other cell has.
        self._calls = {
            side: native_write_calls(clients.native, f"fl-{side}-{tag}-")
            if side == "native"
            else scim_write_calls(clients.side(side), f"fl-{side}-{tag}-")
            for side in SIDES
        }

    def create(self, side: Side) -> Call:
        """POST one fresh user through `side`."""
        return self._calls[side].create

    def deactivate(self, side: Side) -> Call:
        """PATCH active=false on the `seq`-th user `side` created."""
        return self._calls[side].deactivate

    @property
    def room(self) -> int:
        """Users every side has created (deactivations available per side)."""
        return min(len(calls.made) for calls in self._calls.values())


def import_call(clients: Clients, side: Side) -> Call:
    """One new user of Okta's import through `side`: the lookup by userName (finding nothing), then the create.

    A lookup that answers anything but "not there" fails the sequence: it is the answer, not only the
    request, that must be measured (a floor answering 400 to the filter would look fast).
    """
    client = clients.side(side)

    async def call(seq: int) -> int:
        name = f"fl-import-{side}-{seq}@bench.example"
        if side == "native":
            found = await client.status("GET", f"/users/{quote(name)}/by-username")
            if found != 404:
                return found if found >= 400 else 409
            return await client.status("POST", "/users", native_user_doc(name, seq))
        status, found = await client.call("GET", "/Users?filter=" + quote(f'userName eq "{name}"'))
        if status != 200 or found["totalResults"] != 0:
            return status if status >= 400 else 409
        return await client.status("POST", "/Users", user_doc(name, seq))

    return call


async def okta_import(plan: Plan, servers: Servers, clients: Clients) -> dict[str, Any]:
    """`plan.rounds` rounds of `plan.import_users` new users per side at `plan.import_concurrency`.

    No warm-up: an initial import meets a warm process only because the write cells ran before it, on
    every side alike.
    """
    calls = {side: import_call(clients, side) for side in SIDES}
    rounds = await run_rounds(
        servers,
        calls,
        rounds=plan.rounds,
        count=plan.import_users,
        concurrency=plan.import_concurrency,
        first=0,
        max_seconds=plan.cell_seconds * 10,
    )
    return cell("okta_import", plan.import_concurrency, rounds, 0)


async def run(
    plan: Plan,
    workdir: Path,
    *,
    deactivate: bool,
    concurrencies: Sequence[int] = CONCURRENCIES,
    okta: bool = True,
) -> list[dict[str, Any]]:
    """Start the emulator, the floor and the bridge; measure the writes at each concurrency, then the import."""
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
            rows: list[dict[str, Any]] = []
            for c in concurrencies:
                writes = Writes(clients, f"c{c}")
                calls = {s: writes.create(s) for s in SIDES}
                rows.append(await measure(plan, "create_user", servers, calls, concurrency=c))
                print(table(rows[-1]), flush=True)
                if deactivate:
                    calls = {s: writes.deactivate(s) for s in SIDES}
                    row = await measure(
                        plan, "deactivate_user", servers, calls, concurrency=c, room=writes.room
                    )
                    rows.append(row)
                    print(table(rows[-1]), flush=True)
            if okta:
                rows.append(await okta_import(plan, servers, clients))
                print(table(rows[-1]), flush=True)
            return rows
    finally:
        for proc in reversed(started):
            proc.stop()


def _fmt(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.1f}"


def _ratios(row: dict[str, Any], figure: str) -> str:
    return "   ".join(
        f"{name} {r['median']} [{r['spread'][0]}-{r['spread'][1]}]"
        + (f" (CPU-bound {r['cpu_bound']})" if "cpu_bound" in r else "")
        for name, r in row[figure].items()
        if r["spread"] is not None
    )


def table(row: dict[str, Any]) -> str:
    """A row as printed: one line per side, then the ratios with their per-round min-max."""
    first = row["sides"]["native"]
    lines = [
        f"{row['op']} c={row['concurrency']}: medians of {row['rounds']} rounds of {first['requests']} requests",
        "  side       req/s   wall s   p50 ms   p99 ms   CPU us/request: front emulator loadgen  fails",
    ]
    for side in SIDES:
        s = row["sides"][side]
        cpu = s["cpu_us_per_request"]
        lines.append(
            f"  {side:<7}{s['throughput_rps']:>9.1f}{s['seconds']:>9.2f}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}"
            f"{'':>17}{_fmt(cpu['front'], 6)}{_fmt(cpu['emulator'], 9)}{_fmt(cpu['loadgen'], 8)}"
            f"{s['failures']:>7}"
        )
    figures = ("wall_time_ratio",) if row["op"] == "okta_import" else ("throughput_ratio", "p99_ratio")
    for figure in (*figures, "p50_ratio"):
        lines.append(f"  {figure.removesuffix('_ratio'):<10} " + _ratios(row, figure))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints each operation's table (or instruction counts); -o writes the rows as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds per operation (6: every order once)")
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="the fastest side's least time per run (sets the count)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        help=f"measure the writes at this concurrency only (repeatable; default {CONCURRENCIES})",
    )
    parser.add_argument("--no-deactivate", action="store_true", help="measure create only")
    parser.add_argument("--no-import", action="store_true", help="leave out Okta's import sequence")
    parser.add_argument(
        "--import-users", type=int, default=IMPORT_USERS, help="new users per side and round of the import"
    )
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
                plan,
                min_cell_seconds=args.seconds,
                max_writes=20_000,
                cell_seconds=60.0,
                import_users=args.import_users,
            )
        with tempfile.TemporaryDirectory(prefix="scim-bench-floor-") as work:
            rows = run(
                plan,
                Path(work),
                deactivate=deactivate,
                concurrencies=args.concurrency or CONCURRENCIES,
                okta=not args.no_import,
            )
            results = {"plan": plan.as_dict(), "rows": asyncio.run(rows)}
    if args.output is not None:
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
