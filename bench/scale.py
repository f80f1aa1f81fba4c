"""Scale curves: per-request cost of a userName filter, a deep page, and a one-member group add or swap as data grows.

Every point runs `plan.rounds` rounds of bridge and native in ABBA order (bench.overhead.run_rounds), each of
`plan.scale_round_requests` requests per side at concurrency 1; a row reports medians over rounds and spreads
(bench.rounds.curve_point).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from bench.clients import members_add, members_remove_one, patch_body
from bench.directory import (
    Directory,
    create_native_group,
    create_scim_group,
    create_users,
    read_det_ids,
    user_name,
)
from bench.loadgen import Call
from bench.overhead import Sides, run_rounds
from bench.plan import Plan
from bench.rounds import curve_point

PAGE: Final = 100


async def user_point(
    plan: Plan, sides: Sides, directory: Directory, rng: random.Random
) -> list[dict[str, Any]]:
    """At the current directory size: `userName eq` lookups and the last full page, both at concurrency 1."""
    n = directory.size
    names = [user_name(rng.randrange(n)) for _ in range(_total(plan))]

    async def bridge_filter(seq: int) -> int:
        return await sides.bridge.status("GET", "/Users?filter=" + quote(f'userName eq "{names[seq]}"'))

    async def native_lookup(seq: int) -> int:
        return await sides.native.status("GET", f"/users/{quote(names[seq])}/by-username")

    start = max(1, n - PAGE + 1)

    async def bridge_page(seq: int) -> int:
        return await sides.bridge.status("GET", f"/Users?startIndex={start}&count={PAGE}")

    async def native_page(seq: int) -> int:
        return await sides.native.status("GET", f"/users?offset={start - 1}&limit={PAGE}")

    rows = []
    for op, bridge, native in (
        ("filter_username_eq", bridge_filter, native_lookup),
        ("page_deep", bridge_page, native_page),
    ):
        rows.append({"n": n, **await _point(plan, sides, op, "read", bridge, native)})
    return rows


async def group_curve(plan: Plan, sides: Sides, directory: Directory) -> list[dict[str, Any]]:
    """Per group size: add one member (a fresh probe user each time), then swap one (remove a probe added by
    the first cell, add one from a second pool: Okta's group push sends both in one PATCH). Native: one PUT
    with addUsers (and removeUsers) on an equal native group."""
    probes = _total(plan)  # a fresh probe per add request, over all rounds of both cells
    adds = await _probe_pool(sides, directory, "probe", probes, first_seq=900_000)
    swaps = await _probe_pool(sides, directory, "swap", probes, first_seq=950_000)
    rows = []
    for size in plan.group_sizes:
        size = min(size, directory.size)
        members = range(size)
        scim_group = await create_scim_group(
            sides.bridge, f"size-{size}", [directory.scim_ids[i] for i in members]
        )
        native_group = await create_native_group(
            sides.native, f"native-size-{size}", [directory.det_ids[user_name(i)] for i in members]
        )

        async def bridge_add(seq: int, group: str = scim_group) -> int:
            return await sides.bridge.status(
                "PATCH", f"/Groups/{group}", patch_body(members_add([adds.scim[seq]]))
            )

        async def native_add(seq: int, group: int = native_group) -> int:
            return await sides.native.status("PUT", f"/groups/{group}", {"addUsers": [adds.det[seq]]})

        async def bridge_swap(seq: int, group: str = scim_group) -> int:
            body = patch_body(members_remove_one(adds.scim[seq]), members_add([swaps.scim[seq]]))
            return await sides.bridge.status("PATCH", f"/Groups/{group}", body)

        async def native_swap(seq: int, group: int = native_group) -> int:
            body = {"addUsers": [swaps.det[seq]], "removeUsers": [adds.det[seq]]}
            return await sides.native.status("PUT", f"/groups/{group}", body)

        for op, bridge, native in (
            ("group_member_add", bridge_add, native_add),
            ("group_member_swap", bridge_swap, native_swap),
        ):
            rows.append({"group_size": size, **await _point(plan, sides, op, "write", bridge, native)})
    return rows


def _total(plan: Plan) -> int:
    """Requests per side at one point over all its rounds (sequence numbers 0 to this, exclusive)."""
    return plan.rounds * plan.scale_round_requests


async def _point(plan: Plan, sides: Sides, op: str, kind: str, bridge: Call, native: Call) -> dict[str, Any]:
    """One point of a curve: `plan.rounds` ABBA rounds at concurrency 1, sequence numbers from 0 on.

    The group swap removes, at each sequence number, the probe the add cell added at the same number, so
    both cells of a group size must number their requests alike (they do: both start at 0).
    """
    rounds = await run_rounds(
        plan,
        bridge,
        native,
        sides,
        count=plan.scale_round_requests,
        concurrency=1,
        first=0,
        max_seconds=plan.cell_seconds,
    )
    return curve_point(op, kind, 1, rounds)


@dataclass(frozen=True, slots=True)
class _Probes:
    scim: list[str]
    det: list[int]


async def _probe_pool(
    sides: Sides, directory: Directory, prefix: str, count: int, *, first_seq: int
) -> _Probes:
    """`count` users outside every group, created through SCIM, with their master ids."""
    names = [f"{prefix}{i:05d}@bench.example" for i in range(count)]
    scim_ids = await create_users(sides.bridge, names, first_seq)
    await read_det_ids(sides.native, directory)
    return _Probes(scim_ids, [directory.det_ids[name] for name in names])
