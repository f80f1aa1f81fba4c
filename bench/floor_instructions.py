"""The floor server's instructions per write under callgrind, with bench/instructions.py's machinery.

The emulator and the floor server (bench/floor_server.py) run under callgrind, counting only inside each
window: the floor window (the floor's instructions and the emulator's behind it), then the native window
(the same operation on the emulator's REST API). The rows have bench.instructions' shape, with the floor
in the ``bridge_kir`` column; compare them with that module's rows for the bridge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from bench.clients import native_side, new_session, scim_side
from bench.instructions import STARTUP_SECONDS, Counted, counted_row
from bench.processes import FLOOR_TOKEN, MASTER_PASSWORD, Proc, start_emulator, start_floor
from bench.write_calls import native_write_calls, scim_write_calls

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
            through_floor, direct = scim_write_calls(floor, "ir-f"), native_write_calls(native, "ir-n")
            ops = [("create_user", through_floor.create, direct.create)]
            if deactivate:
                ops.append(("deactivate_user", through_floor.deactivate, direct.deactivate))
            rows = []
            for op, floor_call, native_call in ops:
                rows.append(
                    await counted_row(
                        servers,
                        f"{op} (floor)",
                        floor_call,
                        native_call,
                        warmup=warmup,
                        requests=requests,
                        concurrency=CONCURRENCY,
                    )
                )
            return rows
    finally:
        if floor_proc is not None:
            floor_proc.stop()
        emulator_proc.stop()
