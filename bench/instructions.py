"""`python -m bench.instructions`: CPU instructions per request under callgrind, bridge + emulator vs emulator.

Throughput and latency ratios (`python -m bench`) move by 20-30% when anything else runs on a shared 2-core
machine, and so does CPU time per request: other processes evict the caches and share the cores' pipelines.
The number of instructions a request executes does not. Valgrind's callgrind counts them exactly, so a change
of 1% in the bridge's cost per request shows up run after run on a busy machine, where a timed benchmark needs
a quiet one and many rounds to see 5%.

Both servers run under callgrind with counting off; it is switched on (``callgrind_control -i on``) only
around each measured window of `requests` requests, then the counts are dumped and read. Per operation:
the bridge window (SCIM requests: the bridge's own instructions and the emulator's behind it), then the
native window (the same operation on the emulator's REST API). The ratio is (bridge + emulator) ÷ emulator
alone, the instruction-count form of the overhead rows of `python -m bench`. The load generator is not
counted (it is not under valgrind), nor is time in the kernel (system calls, scheduling).

Valgrind slows each server ~30-50x, so a run uses a few hundred requests per window and takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.clients import (
    HttpSide,
    members_add,
    native_side,
    new_session,
    patch_body,
    scim_side,
)
from bench.directory import (
    Directory,
    create_native_group,
    create_scim_group,
    create_users,
    grow_users,
    read_det_ids,
)
from bench.loadgen import Call, closed_loop
from bench.processes import BRIDGE_TOKEN, MASTER_PASSWORD, Proc, start_bridge, start_emulator
from bench.write_calls import native_write_calls, scim_write_calls

# The writes run before the two GET workloads that add users of their own (cold, stale): the emulator's
# create costs more with more users in it (~8% with theirs), which would move the create row's ratio.
OPERATIONS: Final = (
    "get_user",
    "create_user",
    "deactivate_user",
    "group_member_add",
    "get_user_cold",
    "get_user_stale",
)
# Under valgrind a server starts in tens of seconds (every import is instrumented code being translated).
STARTUP_SECONDS: Final = 300.0
WINDOW_SECONDS: Final = 1800.0
MEMBERS_PER_GROUP: Final = 8
DUMP_SECONDS: Final = 60.0


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"bench.instructions needs {name} (valgrind) on PATH")
    return found


def callgrind_totals(dump: str) -> int:
    """The instruction count of one callgrind dump (its ``totals:`` line, else its ``summary:`` line)."""
    summary: int | None = None
    for line in dump.splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
        if line.startswith("summary:"):
            summary = int(line.split()[1])
    if summary is None:
        raise ValueError("no totals or summary line in the callgrind dump")
    return summary


def new_dumps_total(out: Path, seen: set[Path]) -> int | None:
    """The instructions in the complete dumps of `out` not in `seen` (then added to it); None if none yet.

    callgrind writes the n-th dump to `out`.n; the file named `out` itself is written only at exit, so
    until then it has no totals line and is left for a later call.
    """
    complete: dict[Path, int] = {}
    for path in set(out.parent.glob(f"{out.name}*")) - seen:
        with contextlib.suppress(ValueError):
            complete[path] = callgrind_totals(path.read_text(encoding="utf-8", errors="replace"))
    if not complete:
        return None
    seen.update(complete)
    return sum(complete.values())


@dataclass(slots=True)
class Counted:
    """A server process under callgrind, counting only inside `window`s."""

    proc: Proc
    out: Path
    _seen: set[Path] = field(default_factory=set)

    @staticmethod
    def wrapper(out: Path) -> list[str]:
        """The argv prefix that starts a server under callgrind, counting off, dumps to `out`.<n>."""
        return [_tool("valgrind"), "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]

    def _control(self, *args: str) -> None:
        subprocess.run(  # noqa: S603 - valgrind's own tool, fixed arguments
            [_tool("callgrind_control"), *args, str(self.proc.pid)],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start_counting(self) -> None:
        """Count instructions from now on."""
        self._control("--instr=on")

    def stop_and_read(self) -> int:
        """Stop counting, dump, and return the instructions counted since counting started."""
        self._control("--instr=off")
        self._control("--dump")
        # callgrind_control returns once the dump is requested; the file is complete when its totals are in.
        deadline = time.monotonic() + DUMP_SECONDS
        while True:
            counted = new_dumps_total(self.out, self._seen)
            if counted is not None:
                return counted
            if time.monotonic() > deadline:
                raise RuntimeError(f"callgrind wrote no complete dump for {self.proc.name} ({self.out})")
            time.sleep(0.2)


@dataclass(frozen=True, slots=True)
class Window:
    """Instructions per request counted in one window, per server."""

    requests: int
    bridge: int
    emulator: int

    def per_request(self, instructions: int) -> float:
        """Thousands of instructions per request."""
        return round(instructions / self.requests / 1000, 1)


@contextlib.asynccontextmanager
async def counting(servers: Sequence[Counted]) -> AsyncIterator[list[int]]:
    """Count on every server for the body of the ``async with``; the list gets each server's count."""
    counts: list[int] = []
    for server in servers:
        await asyncio.to_thread(server.start_counting)
    yield counts
    # Let the last answers' follow-up work (log lines, a queued write) finish inside the window.
    await asyncio.sleep(0.5)
    for server in servers:
        counts.append(await asyncio.to_thread(server.stop_and_read))


async def measure(
    servers: tuple[Counted, Counted], call: Call, *, requests: int, concurrency: int, first: int
) -> Window:
    """One counted window of `requests` calls (sequence numbers from `first`)."""
    async with counting(servers) as counts:
        stats = await closed_loop(
            call, requests=requests, concurrency=concurrency, max_seconds=WINDOW_SECONDS, first=first
        )
    if stats.failures:
        raise RuntimeError(f"{stats.failures} of {requests} requests failed: {stats.failure_samples}")
    return Window(requests, counts[0], counts[1])


@dataclass(slots=True)
class Workload:
    """The bridge's and the native call of one operation, plus what must exist before they run."""

    bridge: Call
    native: Call
    prepare: Callable[[int], Awaitable[None]] | None = None


def workloads(bridge: HttpSide, native: HttpSide, directory: Directory) -> dict[str, Workload]:
    """One workload per operation, in `OPERATIONS` order: deactivation uses the users the creates made."""
    scim_ids = directory.scim_ids
    det_ids = list(directory.det_ids.values())
    through_bridge, direct = scim_write_calls(bridge, "ir-b"), native_write_calls(native, "ir-n")

    async def get_bridge(seq: int) -> int:
        return await bridge.status("GET", f"/Users/{scim_ids[seq % len(scim_ids)]}")

    async def get_native(seq: int) -> int:
        return await native.status("GET", f"/users/{det_ids[seq % len(det_ids)]}")

    # Users no request has read: every GET of one misses the bridge's kept bodies, as an IdP's GET before
    # each PATCH mostly does (`get_user` reads 300 users over and over, so ~4 in 5 of its reads are kept).
    cold_scim: list[str] = []
    cold_det: list[int] = []

    async def cold_users(count: int) -> None:
        names = [f"cold{n:06d}@bench.example" for n in range(len(cold_scim), count)]
        cold_scim.extend(await create_users(bridge, names, len(cold_scim)))
        listed = Directory()
        await read_det_ids(native, listed)
        cold_det.extend(listed.det_ids[name] for name in names)

    async def get_cold_bridge(seq: int) -> int:
        return await bridge.status("GET", f"/Users/{cold_scim[seq]}")

    async def get_cold_native(seq: int) -> int:
        return await native.status("GET", f"/users/{cold_det[seq]}")

    # Users read once, then written: each GET finds the kept body of an older version, as an IdP's GET right
    # before or after its PATCH does (Okta reads a user around every write to it).
    stale_scim: list[str] = []
    stale_det: list[int] = []

    async def stale_users(count: int) -> None:
        first = len(stale_scim)
        names = [f"stale{n:06d}@bench.example" for n in range(first, count)]
        made = await create_users(bridge, names, first)

        async def read_then_write(seq: int) -> int:
            status = await bridge.status("GET", f"/Users/{made[seq]}")
            if status != 200:
                return status
            renamed = patch_body({"op": "replace", "path": "displayName", "value": f"Renamed {first + seq}"})
            return await bridge.status("PATCH", f"/Users/{made[seq]}", renamed)

        stats = await closed_loop(
            read_then_write, requests=len(made), concurrency=16, max_seconds=WINDOW_SECONDS
        )
        if stats.failures:
            raise RuntimeError(f"get_user_stale's read and write of {stats.failures} users failed")
        listed = Directory()
        await read_det_ids(native, listed)
        stale_scim.extend(made)
        stale_det.extend(listed.det_ids[name] for name in names)

    async def get_stale_bridge(seq: int) -> int:
        return await bridge.status("GET", f"/Users/{stale_scim[seq]}")

    async def get_stale_native(seq: int) -> int:
        return await native.status("GET", f"/users/{stale_det[seq]}")

    scim_groups: list[str] = []
    native_groups: list[int] = []

    async def groups_for(count: int) -> None:
        # Fresh empty groups, MEMBERS_PER_GROUP adds each at most: the native PUT answers with the whole
        # group, so fuller groups would make the native side dearer as a window goes on.
        needed = -(-count // MEMBERS_PER_GROUP)
        while len(scim_groups) < needed:
            n = len(scim_groups)
            scim_groups.append(await create_scim_group(bridge, f"ir-scim-{n}", []))
            native_groups.append(await create_native_group(native, f"ir-native-{n}", []))

    async def add_bridge(seq: int) -> int:
        body = patch_body(members_add([scim_ids[seq % len(scim_ids)]]))
        return await bridge.status("PATCH", f"/Groups/{scim_groups[seq // MEMBERS_PER_GROUP]}", body)

    async def add_native(seq: int) -> int:
        body = {"addUsers": [det_ids[seq % len(det_ids)]]}
        return await native.status("PUT", f"/groups/{native_groups[seq // MEMBERS_PER_GROUP]}", body)

    return {
        "get_user": Workload(get_bridge, get_native),
        "create_user": Workload(through_bridge.create, direct.create),
        "deactivate_user": Workload(through_bridge.deactivate, direct.deactivate),
        "group_member_add": Workload(add_bridge, add_native, prepare=groups_for),
        "get_user_cold": Workload(get_cold_bridge, get_cold_native, prepare=cold_users),
        "get_user_stale": Workload(get_stale_bridge, get_stale_native, prepare=stale_users),
    }


async def run(
    operations: Sequence[str],
    *,
    users: int,
    requests: int,
    warmup: int,
    concurrency: int,
    workdir: Path,
    tree: Path | None = None,
) -> list[dict[str, Any]]:
    """Count every operation's windows; one row per operation. `tree` (absolute): run the servers from that source tree."""
    if tree is not None:
        # The servers are child processes: PYTHONPATH puts that tree's `bridge` before the installed one.
        os.environ["PYTHONPATH"] = str(tree)
    emulator_out, bridge_out = workdir / "emulator.callgrind", workdir / "bridge.callgrind"
    emulator_proc = await start_emulator(
        workdir, wrapper=Counted.wrapper(emulator_out), startup=STARTUP_SECONDS
    )
    emulator = Counted(emulator_proc, emulator_out)
    bridge_proc: Proc | None = None
    try:
        bridge_proc = await start_bridge(
            workdir, emulator_proc.url, wrapper=Counted.wrapper(bridge_out), startup=STARTUP_SECONDS
        )
        servers = (Counted(bridge_proc, bridge_out), emulator)
        async with new_session() as session:
            bridge = scim_side(session, bridge_proc.url + "/scim/v2", BRIDGE_TOKEN)
            native = await native_side(session, emulator_proc.url, "admin", MASTER_PASSWORD)
            directory = Directory()
            await grow_users(bridge, directory, users)
            await read_det_ids(native, directory)
            calls = workloads(bridge, native, directory)
            rows = []
            # Deactivation uses the users the create warm-up and window made: as many as it needs.
            per_op = warmup + requests
            for op in operations:
                work = calls[op]
                if work.prepare is not None:
                    await work.prepare(per_op)
                rows.append(
                    await counted_row(
                        servers,
                        op,
                        work.bridge,
                        work.native,
                        warmup=warmup,
                        requests=requests,
                        concurrency=concurrency,
                    )
                )
            return rows
    finally:
        if bridge_proc is not None:
            bridge_proc.stop()
        emulator_proc.stop()


async def counted_row(
    servers: tuple[Counted, Counted],
    op: str,
    front: Call,
    native: Call,
    *,
    warmup: int,
    requests: int,
    concurrency: int,
) -> dict[str, Any]:
    """One operation's row, printed: `warmup` calls of each side uncounted, then the front's counted window
    (a SCIM front's instructions and the emulator's behind it), then the native one."""
    for call in (front, native):
        await closed_loop(call, requests=warmup, concurrency=concurrency, max_seconds=WINDOW_SECONDS)
    through = await measure(servers, front, requests=requests, concurrency=concurrency, first=warmup)
    direct = await measure(servers, native, requests=requests, concurrency=concurrency, first=warmup)
    result = row(op, concurrency, through, direct)
    print(line(result), flush=True)
    return result


def row(op: str, concurrency: int, scim: Window, native: Window) -> dict[str, Any]:
    """One operation's counts, thousands of instructions per request."""
    bridge_total = scim.bridge + scim.emulator
    return {
        "op": op,
        "concurrency": concurrency,
        "requests": scim.requests,
        "bridge_kir": scim.per_request(scim.bridge),
        "emulator_behind_bridge_kir": scim.per_request(scim.emulator),
        "native_kir": native.per_request(native.emulator),
        "ratio": round(bridge_total / native.emulator, 2) if native.emulator else None,
    }


def line(r: dict[str, Any]) -> str:
    """A row as printed."""
    return (
        f"  {r['op']:<18} c={r['concurrency']:<3} {r['bridge_kir']:>9.1f} {r['emulator_behind_bridge_kir']:>9.1f}"
        f" {r['native_kir']:>9.1f}   {r['ratio']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints one row per operation and writes them as JSON with -o."""
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=OPERATIONS, help="operation (repeatable)")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--requests", type=int, default=500, help="requests per counted window")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--tree", type=Path, help="run the bridge and emulator from this source tree (e.g. another worktree)"
    )
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("bench.instructions needs valgrind (callgrind and callgrind_control) on PATH", file=sys.stderr)
        return 2
    operations = [op for op in OPERATIONS if op in (args.only or OPERATIONS)]
    print(
        "thousands of instructions per request (callgrind): bridge, emulator behind it, emulator native; ratio"
    )
    with tempfile.TemporaryDirectory(prefix="scim-bench-ir-") as work:
        rows = asyncio.run(
            run(
                operations,
                users=args.users,
                requests=args.requests,
                warmup=args.warmup,
                concurrency=args.concurrency,
                workdir=Path(work),
                tree=None if args.tree is None else args.tree.resolve(),
            )
        )
    if args.output is not None:
        args.output.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
