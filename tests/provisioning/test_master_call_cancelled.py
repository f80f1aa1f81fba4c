"""A master call whose caller stops waiting (its handler cancelled, the server shutting down) is counted as
cancelled, not as an outcome "None". The bridge on a socket (aiohttp's test server cancels a handler whose client
hangs up; `serve` leaves it running), the emulator slowed over HTTP behind a FaultProxy that shows when the call
is under way, /metrics scraped as Prometheus parses it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.emulator import EMULATOR_STATE
from bridge.web.keys import MASTER
from tests.conftest import LogReader
from tests.polling import until
from tests.provisioning.faults import start_world_behind_proxy
from tests.provisioning.scim import call, user_body
from tests.scraped import master_call_outcomes


async def test_a_master_call_the_idp_hangs_up_on_is_counted_cancelled(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    world, proxy = await start_world_behind_proxy(aiohttp_server, aiohttp_client, tmp_path)

    async def bound() -> bool:
        return await world.store.bound_master() is not None

    # The start-up announcement has opened and checked the session: the held call is the write's own.
    await until(bound, "the start-up announcement did not bind the database")
    faults = world.emulator.app[EMULATOR_STATE].faults
    faults.configure(latency_ms=60_000)
    proxy.seen.clear()
    writing = asyncio.create_task(call(world, "POST", "/Users", user_body("ada@example.com", "Ada")))
    await until(lambda: bool(proxy.seen), "the create sent nothing to the master")
    held = proxy.seen[0]
    writing.cancel()  # the IdP gives up and closes its connection while the master has not answered
    with contextlib.suppress(asyncio.CancelledError):
        await writing
    faults.configure(latency_ms=0)

    def cancelled_lines() -> list[dict[str, object]]:
        return [
            e for e in captured_logs() if e.get("event") == "master.call" and e.get("failure") == "cancelled"
        ]

    await until(lambda: bool(cancelled_lines()), "the cancelled call logged no master.call line")
    [line] = cancelled_lines()
    assert (line["method"], line["status"]) == (held.split()[0], None)
    outcomes = await master_call_outcomes(world.bridge)
    assert [
        (method, outcome, n) for (method, _, outcome), n in outcomes.items() if outcome == "cancelled"
    ] == [(held.split()[0], "cancelled", 1)]
    assert "None" not in {outcome for _, _, outcome in outcomes}
    # Not the master's failure: the client still has it reached and its circuit closed.
    assert world.app[MASTER].healthy
