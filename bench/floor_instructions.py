"""The floor server's instructions per write under callgrind, with bench/instructions.py's machinery.

The emulator and the floor server (bench/floor_server.py) run under callgrind, counting only inside each
window: the floor window (the floor's instructions and the emulator's behind it), then the native window
(the same operation on the emulator's REST API). The rows have bench.instructions' shape, with the floor
in the ``bridge_kir`` column; compare them with that module's rows for the bridge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from bench.clients import native_side, native_user_doc, new_session, patch_body, scim_side, user_doc
from bench.instructions import STARTUP_SECONDS, WINDOW_SECONDS, Counted, line, measure, row
from bench.loadgen import closed_loop
from bench.processes import FLOOR_TOKEN, MASTER_PASSWORD, Proc, start_emulator, start_floor

REQUESTS: Final = 500
WARMUP: Final = 200
CONCURRENCY: Final = 32


async def count(
    workdir: Path, *, deactivate: bool, requests: int = REQUESTS, warmup: int = WARMUP
) -> list[dict[str, Any]]:
    """Count create (and deactivate) through the floor and natively; one bench.instructions row each."""
    emulator_out, floor_out = workdir / "emulator.callgrind", workdir / "floor.callgrind"
    emulator_proc = await start_emulator(
        workdir, wrapper=Counted.wrapper(emulator_out), startup=STARTUP_SECONDS
    )
    floor_proc: Proc | None = None
    try:
        floor_proc = await start_floor(
            workdir, emulator_proc.url, wrapper=Counted.wrapper(floor_out), startup=STARTUP_SECONDS
        )
        servers = (Counted(floor_proc, floor_out), Counted(emulator_proc, emulator_out))
        async with new_session() as session:
            floor = scim_side(session, floor_proc.url + "/scim/v2", FLOOR_TOKEN)
            native = await native_side(session, emulator_proc.url, "admin", MASTER_PASSWORD)
            made_floor: list[str] = []
            made_native: list[str] = []

            async def create_floor(seq: int) -> int:
                status, body = await floor.call("POST", "/Users", user_doc(f"ir-f{seq}@bench.example", seq))
                if status == 201:
                    made_floor.append(str(body["id"]))
                return status

            async def create_native(seq: int) -> int:
                doc = native_user_doc(f"ir-n{seq}@bench.example", seq)
                status, body = await native.call("POST", "/users", doc)
                if status == 200:
                    made_native.append(str(body["user"]["id"]))
                return status

            inactive = patch_body({"op": "replace", "path": "active", "value": False})

            async def deactivate_floor(seq: int) -> int:
                return await floor.status("PATCH", f"/Users/{made_floor[seq]}", inactive)

            async def deactivate_native(seq: int) -> int:
                return await native.status("PATCH", f"/users/{made_native[seq]}", {"active": False})

            ops = [("create_user", create_floor, create_native)]
            if deactivate:
                ops.append(("deactivate_user", deactivate_floor, deactivate_native))
            rows = []
            for op, through_floor, direct in ops:
                for call in (through_floor, direct):
                    await closed_loop(
                        call, requests=warmup, concurrency=CONCURRENCY, max_seconds=WINDOW_SECONDS
                    )
                counted_floor = await measure(
                    servers, through_floor, requests=requests, concurrency=CONCURRENCY, first=warmup
                )
                counted_native = await measure(
                    servers, direct, requests=requests, concurrency=CONCURRENCY, first=warmup
                )
                rows.append(row(f"{op} (floor)", CONCURRENCY, counted_floor, counted_native))
                print(line(rows[-1]), flush=True)
            return rows
    finally:
        if floor_proc is not None:
            floor_proc.stop()
        emulator_proc.stop()
