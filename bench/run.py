"""One benchmark run: start the processes, load the directory step by step, measure, collect results."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import overhead, scale, workloads
from bench.clients import native_side, new_session, scim_side
from bench.directory import Directory, create_users, grow_users, read_det_ids, user_name
from bench.overhead import Sides
from bench.plan import SECTIONS, Plan
from bench.processes import (
    BRIDGE_TOKEN,
    MASTER_PASSWORD,
    PEER_TOKEN,
    Proc,
    start_bridge,
    start_emulator,
    start_peer,
)
from bench.report import targets

Progress = Callable[[str], None]


def failed_cells(node: object, path: str = "") -> Iterator[str]:
    """Paths of every measured cell in `node` that saw failed requests."""
    if isinstance(node, dict):
        if isinstance(node.get("failures"), int) and node["failures"]:
            yield path or "?"
        for key, value in node.items():
            yield from failed_cells(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            label = value.get("op", i) if isinstance(value, dict) else i
            yield from failed_cells(value, f"{path}[{label}]")


@contextlib.asynccontextmanager
async def stack_of_processes(workdir: Path, profile_to: Path | None) -> AsyncIterator[tuple[Proc, Proc]]:
    """Emulator then bridge; both stopped (SIGTERM) on the way out."""
    emulator = await start_emulator(workdir)
    try:
        bridge = await start_bridge(workdir, emulator.url, profile_to=profile_to)
        try:
            yield emulator, bridge
        finally:
            bridge.stop()
    finally:
        emulator.stop()


async def run(
    plan: Plan,
    *,
    progress: Progress,
    sections: Collection[str] = SECTIONS,
    profile_to: Path | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Run the measurements of `sections` (all by default) at the sizes of `plan`; returns the results
    document (see docs/performance.md)."""
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        work = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scim-bench-")))
        results: dict[str, Any] = {
            "meta": {
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "python": sys.version.split()[0],
                "machine": platform.machine(),
                "cpus": _cpus(),
                "sections": [s for s in SECTIONS if s in sections],
            },
            "plan": plan.as_dict(),
        }
        async with stack_of_processes(work, profile_to) as (emulator, bridge_proc), new_session() as session:
            bridge = scim_side(session, bridge_proc.url + "/scim/v2", BRIDGE_TOKEN)
            native = await native_side(session, emulator.url, "admin", MASTER_PASSWORD)
            sides = Sides(
                bridge,
                native,
                bridge_cpu=lambda: _sum(bridge_proc.cpu_seconds(), emulator.cpu_seconds()),
                native_cpu=emulator.cpu_seconds,
            )
            directory = Directory()
            rng = random.Random(42)
            user_rows: list[dict[str, Any]] = []
            # Every section but the import works on the directory; the scale curve measures at each size.
            for size in plan.sizes if set(sections) - {"import"} else ():
                at_peer = size == plan.peer_size and "peer" in sections
                if size != plan.sizes[-1] and not at_peer and "scale" not in sections:
                    continue
                t0 = time.perf_counter()
                await grow_users(bridge, directory, size)
                progress(f"loaded {size} users through SCIM in {time.perf_counter() - t0:.1f} s")
                await read_det_ids(native, directory)
                if "scale" in sections:
                    user_rows += await scale.user_point(plan, sides, directory, rng)
                if at_peer:
                    results["peer"] = await _peer(plan, work, session, sides, directory, progress)
            if "scale" in sections:
                results["scale"] = {"users": user_rows}
            if "overhead" in sections:
                t0 = time.perf_counter()
                rows = await overhead.get_user_rows(plan, sides, directory, rng)
                rows += await overhead.write_rows(plan, sides)
                rows += await overhead.group_add_rows(plan, sides, directory)
                results["overhead"] = sorted(
                    rows, key=lambda r: (r["kind"] != "read", r["op"], r["concurrency"])
                )
                progress(f"overhead cells in {time.perf_counter() - t0:.1f} s")
            if "import" in sections:
                progress("okta import")
                results["import"] = await workloads.okta_import(plan, sides)
            if "scale" in sections:
                progress("group size curve")
                results["scale"]["groups"] = await scale.group_curve(plan, sides, directory)
            if "mixed" in sections:
                progress("mixed workload")
                results["mixed"] = await workloads.mixed(plan, bridge, directory)
            if "memory" in sections:
                results["memory"] = {
                    "n": directory.size,
                    "bridge_peak_rss_mb": bridge_proc.peak_rss_mb(),
                    "emulator_peak_rss_mb": emulator.peak_rss_mb(),
                }
        results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
        results["failures"] = sorted(set(failed_cells({k: v for k, v in results.items() if k != "plan"})))
        return results


async def _peer(
    plan: Plan,
    work: Path,
    session: aiohttp.ClientSession,
    sides: Sides,
    directory: Directory,
    progress: Progress,
) -> dict[str, Any]:
    """Load scim2-server with the same first `peer_size` users and run the read workload on both."""
    peer_proc = await start_peer(work)
    try:
        peer = scim_side(session, peer_proc.url + "/v2", PEER_TOKEN)
        t0 = time.perf_counter()
        peer_ids = await create_users(peer, [user_name(s) for s in range(plan.peer_size)], 0)
        progress(f"loaded {plan.peer_size} users into scim2-server in {time.perf_counter() - t0:.1f} s")
        # The peer takes the native side's place; the bridge side keeps its probe (bridge + emulator).
        with_peer = Sides(sides.bridge, peer, bridge_cpu=sides.bridge_cpu, native_cpu=peer_proc.cpu_seconds)

        def every_server() -> float | None:
            return _sum(sides.bridge_cpu(), peer_proc.cpu_seconds())

        return await workloads.peer_reads(plan, with_peer, directory, peer_ids, every_server)
    finally:
        peer_proc.stop()


def _sum(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def write_results(results: dict[str, Any], path: Path) -> None:
    """results.json, with the target verdicts included."""
    document = {**results, "targets": [t.as_dict() for t in targets(results)]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
