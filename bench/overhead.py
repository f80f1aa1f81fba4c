"""Bridge ÷ native on the same emulator in the same run: GET user, create, deactivate, group member add."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bench.clients import HttpSide, members_add, native_user_doc, patch_body, user_doc
from bench.directory import Directory, create_native_group, create_scim_group, user_name
from bench.loadgen import Call, Stats, closed_loop
from bench.plan import Plan

CONCURRENCIES: Final = (1, 32)
SAMPLE_USERS: Final = 200
GROUPS_PER_SIDE: Final = 32
WARMUP_REQUESTS: Final = 50


# CPU seconds used so far by the server processes one side's requests run in (None: not measurable).
CpuProbe = Callable[[], float | None]


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


def ratio(a: float, b: float) -> float | None:
    """a / b, or None when b is zero."""
    return round(a / b, 3) if b else None


def compared(op: str, kind: str, concurrency: int, bridge: Stats, native: Stats) -> dict[str, Any]:
    """One row of the overhead table."""
    return {
        "op": op,
        "kind": kind,
        "concurrency": concurrency,
        "bridge": bridge.as_dict(),
        "native": native.as_dict(),
        "throughput_ratio": ratio(bridge.throughput, native.throughput),
        "p50_ratio": ratio(bridge.p50_ms, native.p50_ms),
        "p99_ratio": ratio(bridge.p99_ms, native.p99_ms),
    }


def _per_request_us(before: float | None, after: float | None, requests: int) -> float | None:
    if before is None or after is None or not requests:
        return None
    return round((after - before) / requests * 1e6, 1)


async def _costed(
    plan: Plan, call: Call, requests: int, concurrency: int, server: CpuProbe
) -> tuple[Stats, dict[str, float | None]]:
    """One closed-loop cell, plus CPU microseconds per request of the servers and of this load generator.

    The load generator shares the machine's cores with the servers: its own cost per request shows how
    much of a cell's throughput it may have capped (most for the cheapest side, the native API).
    """
    server_before, loadgen_before = server(), time.process_time()
    stats = await closed_loop(call, requests=requests, concurrency=concurrency, max_seconds=plan.cell_seconds)
    cpu = {
        "server": _per_request_us(server_before, server(), stats.requests),
        "loadgen": _per_request_us(loadgen_before, time.process_time(), stats.requests),
    }
    return stats, cpu


async def measure_pair(
    plan: Plan, op: str, kind: str, concurrency: int, requests: int, bridge: Call, native: Call, sides: Sides
) -> dict[str, Any]:
    """Bridge first, then native, each with the same request count and concurrency."""
    b, b_cpu = await _costed(plan, bridge, requests, concurrency, sides.bridge_cpu)
    n, n_cpu = await _costed(plan, native, requests, concurrency, sides.native_cpu)
    return {**compared(op, kind, concurrency, b, n), "cpu_us_per_request": {"bridge": b_cpu, "native": n_cpu}}


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

    await closed_loop(bridge, requests=WARMUP_REQUESTS, concurrency=4, max_seconds=plan.cell_seconds)
    await closed_loop(native, requests=WARMUP_REQUESTS, concurrency=4, max_seconds=plan.cell_seconds)
    return [
        await measure_pair(plan, "get_user", "read", c, plan.at(c, plan.reads), bridge, native, sides)
        for c in CONCURRENCIES
    ]


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

    created = await measure_pair(
        plan, "create_user", "write", c, plan.at(c, plan.writes), scim_create, native_create, sides
    )
    deactivate = patch_body({"op": "replace", "path": "active", "value": False})

    async def scim_deactivate(seq: int) -> int:
        return await sides.bridge.status("PATCH", f"/Users/{scim_ids[seq]}", deactivate)

    async def native_deactivate(seq: int) -> int:
        return await sides.native.status("PATCH", f"/users/{det_ids[seq]}", {"active": False})

    pairs = min(len(scim_ids), len(det_ids))
    return [
        created,
        await measure_pair(
            plan, "deactivate_user", "write", c, pairs, scim_deactivate, native_deactivate, sides
        ),
    ]


async def group_add_rows(plan: Plan, sides: Sides, directory: Directory) -> list[dict[str, Any]]:
    """SCIM PATCH add one member vs native PUT addUsers, round-robin over 32 empty groups per side.

    Each request adds a different directory user, so neither side short-cuts an existing membership.
    """
    rows: list[dict[str, Any]] = []
    used = 0
    for c in CONCURRENCIES:
        count = min(plan.at(c, plan.writes), directory.size - used)
        pool = range(used, used + count)
        used += count
        groups = min(GROUPS_PER_SIDE, count)
        scim_groups = [await create_scim_group(sides.bridge, f"ov-scim-c{c}-{g}", []) for g in range(groups)]
        native_groups = [
            await create_native_group(sides.native, f"ov-native-c{c}-{g}", []) for g in range(groups)
        ]
        scim_members = [directory.scim_ids[i] for i in pool]
        det_members = [directory.det_ids[user_name(i)] for i in pool]

        async def bridge(seq: int, g: Sequence[str] = scim_groups, m: Sequence[str] = scim_members) -> int:
            body = patch_body(members_add([m[seq]]))
            return await sides.bridge.status("PATCH", f"/Groups/{g[seq % len(g)]}", body)

        async def native(seq: int, g: Sequence[int] = native_groups, m: Sequence[int] = det_members) -> int:
            return await sides.native.status("PUT", f"/groups/{g[seq % len(g)]}", {"addUsers": [m[seq]]})

        rows.append(await measure_pair(plan, "group_member_add", "write", c, count, bridge, native, sides))
    return rows
