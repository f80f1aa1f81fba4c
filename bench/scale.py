"""Scale curves: per-request cost of a userName filter, a deep page and a one-member group add as data grows."""

from __future__ import annotations

import random
from typing import Any, Final
from urllib.parse import quote

from bench.clients import members_add, patch_body
from bench.directory import (
    Directory,
    create_native_group,
    create_scim_group,
    create_users,
    read_det_ids,
    user_name,
)
from bench.loadgen import closed_loop
from bench.overhead import Sides, compared
from bench.plan import Plan

PAGE: Final = 100


async def user_point(
    plan: Plan, sides: Sides, directory: Directory, rng: random.Random
) -> list[dict[str, Any]]:
    """At the current directory size: `userName eq` lookups and the last full page, both at concurrency 1."""
    n = directory.size
    names = [user_name(rng.randrange(n)) for _ in range(plan.scale_requests)]

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
        b = await closed_loop(
            bridge, requests=plan.scale_requests, concurrency=1, max_seconds=plan.cell_seconds
        )
        nat = await closed_loop(
            native, requests=plan.scale_requests, concurrency=1, max_seconds=plan.cell_seconds
        )
        rows.append({"n": n, **compared(op, "read", 1, b, nat)})
    return rows


async def group_curve(plan: Plan, sides: Sides, directory: Directory) -> list[dict[str, Any]]:
    """Add one member (a fresh probe user each time) to groups of each size; native PUT on equal native groups."""
    probes = plan.scale_requests
    probe_names = [f"probe{i:05d}@bench.example" for i in range(probes)]
    probe_scim = await create_users(sides.bridge, probe_names, 900_000)
    await read_det_ids(sides.native, directory)
    probe_det = [directory.det_ids[name] for name in probe_names]
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

        async def bridge(seq: int, group: str = scim_group) -> int:
            return await sides.bridge.status(
                "PATCH", f"/Groups/{group}", patch_body(members_add([probe_scim[seq]]))
            )

        async def native(seq: int, group: int = native_group) -> int:
            return await sides.native.status("PUT", f"/groups/{group}", {"addUsers": [probe_det[seq]]})

        b = await closed_loop(bridge, requests=probes, concurrency=1, max_seconds=plan.cell_seconds)
        nat = await closed_loop(native, requests=probes, concurrency=1, max_seconds=plan.cell_seconds)
        rows.append({"group_size": size, **compared("group_member_add", "write", 1, b, nat)})
    return rows
