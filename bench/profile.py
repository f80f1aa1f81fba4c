"""`python -m bench.profile`: py-spy samples the bridge process under one workload at a time; prints top frames.

Needs ptrace rights over the bridge (root, or CAP_SYS_PTRACE / kernel.yama.ptrace_scope=0).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Final

from bench.clients import HttpSide, members_add, native_side, new_session, patch_body, scim_side, user_doc
from bench.directory import Directory, create_scim_group, grow_users
from bench.loadgen import Call, closed_loop
from bench.processes import BRIDGE_TOKEN, MASTER_PASSWORD, start_bridge, start_emulator

TOP: Final = 25
CONCURRENCY: Final = 32


def workloads(bridge: HttpSide, directory: Directory, group: str) -> dict[str, Call]:
    """The profiled request kinds."""
    rng = random.Random(3)

    async def get_user(seq: int) -> int:
        return await bridge.status("GET", f"/Users/{directory.scim_ids[rng.randrange(directory.size)]}")

    async def create_user(seq: int) -> int:
        return await bridge.status("POST", "/Users", user_doc(f"profile-{seq}@bench.example", seq))

    async def group_add(seq: int) -> int:
        body = patch_body(members_add([directory.scim_ids[seq % directory.size]]))
        return await bridge.status("PATCH", f"/Groups/{group}", body)

    return {"get_user": get_user, "create_user": create_user, "group_member_add": group_add}


def top_frames(raw: Path) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
    """(self, inclusive) sample counts per frame from py-spy's collapsed-stack output, and the total."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for function in {_function(frame) for frame in frames}:
            inclusive[function] += count
    return own.most_common(TOP), inclusive.most_common(TOP * 2), total


def _function(frame: str) -> str:
    """`name (file:line)` -> `name (file)`: inclusive time per function, not per line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else frame


def print_profile(name: str, raw: Path) -> None:
    """Top self frames (lines) and inclusive functions of one workload, in % of GIL-holding samples."""
    own, inclusive, total = top_frames(raw)
    print(f"\n=== {name}: {total} samples")
    print("  self%  frame")
    for frame, count in own:
        print(f"  {100 * count / max(total, 1):5.1f}  {frame}")
    print("  incl%  function (bridge, aiosqlite, structlog, aiohttp, json)")
    for frame, count in inclusive:
        if any(k in frame for k in ("bridge/", "aiosqlite", "structlog", "aiohttp/", "json/")):
            print(f"  {100 * count / max(total, 1):5.1f}  {frame}")


async def profile(users: int, requests: int, workdir: Path, only: list[str]) -> None:
    """Start the processes, load `users`, then sample each workload."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    emulator = await start_emulator(workdir)
    bridge_proc = await start_bridge(workdir, emulator.url)
    try:
        async with new_session() as session:
            bridge = scim_side(session, bridge_proc.url + "/scim/v2", BRIDGE_TOKEN)
            await native_side(session, emulator.url, "admin", MASTER_PASSWORD)
            directory = Directory()
            await grow_users(bridge, directory, users)
            group = await create_scim_group(bridge, "profile-group", [])
            for name, call in workloads(bridge, directory, group).items():
                if only and name not in only:
                    continue
                raw = workdir / f"{name}.txt"
                spy = await asyncio.create_subprocess_exec(
                    py_spy,
                    *("record", "-p", str(bridge_proc.pid), "-r", "500", "-f", "raw", "-o", str(raw)),
                    *("--nonblocking", "--gil"),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                await asyncio.sleep(1.0)  # py-spy has no readiness signal; give it time to attach
                stats = await closed_loop(call, requests=requests, concurrency=CONCURRENCY, max_seconds=60)
                spy.send_signal(signal.SIGINT)
                await asyncio.wait_for(spy.wait(), timeout=30)
                print(
                    f"\n{name}: {stats.throughput:.0f} req/s, p50 {stats.p50_ms:.1f} ms, failures {stats.failures}"
                )
                print_profile(name, raw)
    finally:
        bridge_proc.stop()
        emulator.stop()


def main() -> int:
    """Parse arguments and profile."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--only", action="append", default=[], help="workload name (repeatable)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep raw stacks and logs in DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scim-profile-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        asyncio.run(profile(args.users, args.requests, workdir, args.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
