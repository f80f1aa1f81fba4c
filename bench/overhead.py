"""Bridge ÷ native on the same emulator in the same run: GET user, create, deactivate, group member add."""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from bench.clients import HttpSide, members_add, native_user_doc, patch_body, user_doc
from bench.directory import (
    LOAD_CONCURRENCY,
    LOAD_SECONDS,
    Directory,
    create_native_group,
    create_scim_group,
    user_name,
)
from bench.loadgen import Call, Stats, closed_loop
from bench.plan import Plan
from bench.rounds import Cost, Round, Side, abba, cell_requests, summary

CONCURRENCIES: Final = (1, 32)
SAMPLE_USERS: Final = 200
MEMBERS_PER_GROUP: Final = 8
SETTLE_WINDOW: Final = 0.05
SETTLE_SECONDS: Final = 2.0

T = TypeVar("T")


# CPU seconds used so far by the server processes one side's requests run in (None: not measurable).
CpuProbe = Callable[[], float | None]
# Set-up before the runs of a cell (first sequence number, requests per run, runs); not timed.
Prepare = Callable[[int, int, int], Awaitable[None]]


def _no_probe() -> float | None:
    return None


@dataclass(frozen=True, slots=True)
class Sides:
    """The two ways to the same master: SCIM through the bridge, and the master's REST API.

    `bridge_cpu` sums the bridge's and the emulator's CPU time (a bridge request may call the master);
    `native_cpu` is the emulator's alone.
    """

    bridge: HttpSide
    native: HttpSide
    bridge_cpu: CpuProbe = _no_probe
    native_cpu: CpuProbe = _no_probe


def _per_request_us(before: float | None, after: float | None, requests: int) -> float | None:
    if before is None or after is None or not requests:
        return None
    return round((after - before) / requests * 1e6, 1)


async def settle(servers: CpuProbe) -> None:
    """Wait until the servers' CPU time stops rising (at most SETTLE_SECONDS).

    What a cell leaves behind (log lines still being written, a WAL checkpoint) is then charged to that
    cell, and does not run during the other side's next cell, slowing it down. /proc has no idle signal
    to wait on, hence the polling.
    """
    tick = 1 / os.sysconf("SC_CLK_TCK")
    deadline = time.perf_counter() + SETTLE_SECONDS
    last = servers()
    while last is not None and time.perf_counter() < deadline:
        await asyncio.sleep(SETTLE_WINDOW)
        now = servers()
        if now is None or now - last < 1.5 * tick:  # one stray tick per window counts as idle
            return
        last = now


async def _costed(
    call: Call,
    count: int,
    concurrency: int,
    first: int,
    max_seconds: float,
    server: CpuProbe,
    servers: CpuProbe,
) -> tuple[Stats, Cost]:
    """One closed-loop run, plus CPU microseconds per request of the servers and of this load generator.

    The load generator shares the machine's cores with the servers: its own cost per request shows how
    much of a cell's throughput it may have capped (most for the cheapest side, the native API).
    `server` is the CPU time of this side's servers, `servers` that of every server (what must go idle).
    """
    server_before, loadgen_before = server(), time.process_time()
    stats = await closed_loop(
        call, requests=count, concurrency=concurrency, max_seconds=max_seconds, first=first
    )
    loadgen_after = time.process_time()
    await settle(servers)
    cpu: Cost = {
        "server": _per_request_us(server_before, server(), stats.requests),
        "loadgen": _per_request_us(loadgen_before, loadgen_after, stats.requests),
    }
    return stats, cpu


async def run_rounds(
    plan: Plan,
    bridge: Call,
    native: Call,
    sides: Sides,
    *,
    count: int,
    concurrency: int,
    first: int,
    max_seconds: float,
    settle_on: CpuProbe | None = None,
) -> list[Round]:
    """`plan.rounds` rounds of `count` requests per side in ABBA order (bench.rounds.abba), sequence
    numbers running on from `first`, the same on both sides.

    After each run, the CPU time of `settle_on` must stop rising; by default `sides.bridge_cpu`, which
    holds every server when the native side is the emulator behind the bridge.
    """
    calls: dict[Side, Call] = {"bridge": bridge, "native": native}
    probes: dict[Side, CpuProbe] = {"bridge": sides.bridge_cpu, "native": sides.native_cpu}
    servers = sides.bridge_cpu if settle_on is None else settle_on
    rounds: list[Round] = []
    for i, order in enumerate(abba(plan.rounds)):
        runs: dict[Side, tuple[Stats, Cost]] = {}
        for side in order:
            runs[side] = await _costed(
                calls[side],
                count,
                concurrency,
                first + i * count,
                max_seconds,
                probes[side],
                servers,
            )
        rounds.append(
            Round(order[0], runs["bridge"][0], runs["native"][0], runs["bridge"][1], runs["native"][1])
        )
    return rounds


async def measure_pair(
    plan: Plan,
    op: str,
    kind: str,
    concurrency: int,
    bridge: Call,
    native: Call,
    sides: Sides,
    *,
    room: int | None = None,
    prepare: Prepare | None = None,
) -> dict[str, Any]:
    """A warm-up of both sides, then `plan.rounds` rounds in ABBA order (bridge.rounds.abba).

    Both sides get the same request count and concurrency in the warm-up and in every round. The count
    comes from the faster side's warm-up rate (bench.rounds.cell_requests). Sequence numbers run on from
    the warm-up through the rounds, the same on both sides; `room` is how many the workload's data allows
    in all (None: unbounded). `prepare(first, count, runs)`, when given, is awaited (outside the timing)
    before the warm-up and before the rounds.
    """
    floor, cap = (plan.reads, plan.max_reads) if kind == "read" else (plan.writes, plan.max_writes)
    warm = plan.at(concurrency, plan.warmup)
    if room is not None:
        warm = min(warm, room // (plan.rounds + 1))
    calls: dict[Side, Call] = {"bridge": bridge, "native": native}
    warmups: dict[Side, Stats] = {}
    if prepare is not None:
        await prepare(0, warm, 1)
    for side in ("bridge", "native"):
        warmups[side] = await closed_loop(
            calls[side], requests=warm, concurrency=concurrency, max_seconds=plan.cell_seconds
        )
        await settle(sides.bridge_cpu)
    count = cell_requests(
        [w.throughput for w in warmups.values()],
        min_seconds=plan.min_cell_seconds,
        floor=plan.at(concurrency, floor),
        cap=plan.at(concurrency, cap),
        room=None if room is None else (room - warm) // plan.rounds,
    )
    if prepare is not None:
        await prepare(warm, count, plan.rounds)
        await settle(sides.bridge_cpu)
    rounds = await run_rounds(
        plan,
        bridge,
        native,
        sides,
        count=count,
        concurrency=concurrency,
        first=warm,
        max_seconds=plan.cell_seconds,
    )
    row = summary(op, kind, concurrency, rounds)
    row["warmup"] = {"requests": warm, **{side: w.as_dict() for side, w in warmups.items()}}
    return row


async def get_user_rows(
    plan: Plan, sides: Sides, directory: Directory, rng: random.Random
) -> list[dict[str, Any]]:
    """GET /scim/v2/Users/{id} vs GET /api/v1/users/{id} over a random sample of the directory."""
    picks = rng.sample(range(directory.size), min(SAMPLE_USERS, directory.size))
    scim_ids = [directory.scim_ids[i] for i in picks]
    det_ids = [directory.det_ids[user_name(i)] for i in picks]

    async def bridge(seq: int) -> int:
        return await sides.bridge.status("GET", f"/Users/{scim_ids[seq % len(scim_ids)]}")

    async def native(seq: int) -> int:
        return await sides.native.status("GET", f"/users/{det_ids[seq % len(det_ids)]}")

    return [await measure_pair(plan, "get_user", "read", c, bridge, native, sides) for c in CONCURRENCIES]


async def write_rows(plan: Plan, sides: Sides) -> list[dict[str, Any]]:
    """Create then deactivate fresh users: SCIM POST + PATCH active=false vs native POST + PATCH."""
    rows: list[dict[str, Any]] = []
    for c in CONCURRENCIES:
        rows += await _write_rows_at(plan, sides, c)
    return rows


async def _write_rows_at(plan: Plan, sides: Sides, c: int) -> list[dict[str, Any]]:
    scim_ids: list[str] = []
    det_ids: list[int] = []

    async def scim_create(seq: int) -> int:
        status, body = await sides.bridge.call(
            "POST", "/Users", user_doc(f"ov-scim-c{c}-{seq}@bench.example", seq)
        )
        if status == 201:
            scim_ids.append(str(body["id"]))
        return status

    async def native_create(seq: int) -> int:
        status, body = await sides.native.call(
            "POST", "/users", native_user_doc(f"ov-native-c{c}-{seq}@bench.example", seq)
        )
        if status == 200:
            det_ids.append(int(body["user"]["id"]))
        return status

    created = await measure_pair(plan, "create_user", "write", c, scim_create, native_create, sides)
    deactivate = patch_body({"op": "replace", "path": "active", "value": False})

    async def scim_deactivate(seq: int) -> int:
        return await sides.bridge.status("PATCH", f"/Users/{scim_ids[seq]}", deactivate)

    async def native_deactivate(seq: int) -> int:
        return await sides.native.status("PATCH", f"/users/{det_ids[seq]}", {"active": False})

    room = min(len(scim_ids), len(det_ids))
    return [
        created,
        await measure_pair(
            plan, "deactivate_user", "write", c, scim_deactivate, native_deactivate, sides, room=room
        ),
    ]


async def group_add_rows(plan: Plan, sides: Sides, directory: Directory) -> list[dict[str, Any]]:
    """SCIM PATCH add one member vs native PUT addUsers, round-robin over fresh empty groups on each side.

    Each request adds a different directory user, so neither side short-cuts an existing membership. The
    native PUT answers with the whole group, so groups that kept growing from round to round made the
    native side's later rounds dearer than its first (120 to 241 us of emulator CPU per add as groups
    filled to ~28 members over four rounds): every run (the warm-up, each round) gets groups of its own,
    each filled to MEMBERS_PER_GROUP at most.
    """
    rows: list[dict[str, Any]] = []
    for c in CONCURRENCIES:
        room = min(directory.size, plan.at(c, plan.warmup) + plan.rounds * plan.at(c, plan.max_writes))
        scim_members = directory.scim_ids[:room]
        det_members = [directory.det_ids[user_name(i)] for i in range(room)]

        async def scim_group(name: str) -> str:
            return await create_scim_group(sides.bridge, name, [])

        async def native_group(name: str) -> int:
            return await create_native_group(sides.native, name, [])

        scim_groups = _FreshGroups(scim_group, f"ov-scim-c{c}")
        native_groups = _FreshGroups(native_group, f"ov-native-c{c}")

        async def prepare(
            first: int,
            count: int,
            runs: int,
            s: _FreshGroups[str] = scim_groups,
            n: _FreshGroups[int] = native_groups,
        ) -> None:
            await s.prepare(first, count, runs)
            await n.prepare(first, count, runs)

        async def bridge(
            seq: int, g: _FreshGroups[str] = scim_groups, m: Sequence[str] = scim_members
        ) -> int:
            body = patch_body(members_add([m[seq]]))
            return await sides.bridge.status("PATCH", f"/Groups/{g.group(seq)}", body)

        async def native(
            seq: int, g: _FreshGroups[int] = native_groups, m: Sequence[int] = det_members
        ) -> int:
            return await sides.native.status("PUT", f"/groups/{g.group(seq)}", {"addUsers": [m[seq]]})

        rows.append(
            await measure_pair(
                plan, "group_member_add", "write", c, bridge, native, sides, room=room, prepare=prepare
            )
        )
    return rows


class _FreshGroups(Generic[T]):
    """Empty groups of one side, made per run of a cell; a request's group follows from its sequence number.

    Within a run, requests go round-robin over the run's groups, so concurrent requests hit different
    groups (as long as a run has at least as many groups as workers).
    """

    def __init__(self, make: Callable[[str], Awaitable[T]], prefix: str) -> None:
        self._make = make
        self._prefix = prefix
        self._made = 0
        # (first sequence number, requests per run, the groups of each run)
        self._spans: list[tuple[int, int, list[list[T]]]] = []

    async def prepare(self, first: int, count: int, runs: int) -> None:
        """Groups for `runs` runs of `count` requests from sequence number `first` on (set-up, not timed)."""
        per_run = max(1, math.ceil(count / MEMBERS_PER_GROUP))
        names = [f"{self._prefix}-{self._made + i}" for i in range(per_run * runs)]
        self._made += len(names)
        made: dict[int, T] = {}

        async def one(i: int) -> int:
            made[i] = await self._make(names[i])
            return 200

        await closed_loop(one, requests=len(names), concurrency=LOAD_CONCURRENCY, max_seconds=LOAD_SECONDS)
        groups = [made[i] for i in range(len(names))]
        self._spans.append((first, count, [groups[r * per_run : (r + 1) * per_run] for r in range(runs)]))

    def group(self, seq: int) -> T:
        """The group request `seq` adds its member to."""
        for first, count, runs in self._spans:
            offset = seq - first
            if 0 <= offset < count * len(runs):
                groups = runs[offset // count]
                return groups[offset % count % len(groups)]
        raise LookupError(f"no group prepared for request {seq}")
