"""Master weather for the chaos suite: the emulator's fault plan over its admin endpoint, and the tally of
faults the bridge actually met (from its ``master.call`` log lines)."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from pathlib import Path

import aiohttp


@dataclass(frozen=True, slots=True)
class MasterFigures:
    """Master calls the bridge made, and how many of them met an injected fault."""

    requests: int
    faults: int


class FaultControl:
    """PUT/DELETE ``/emulator/faults`` on the emulator process."""

    def __init__(self, master_url: str) -> None:
        self.url = f"{master_url}/emulator/faults"

    async def _send(self, method: str, body: dict[str, object] | None = None) -> None:
        async with aiohttp.ClientSession() as session, session.request(method, self.url, json=body) as resp:
            assert resp.status == 200, await resp.text()

    async def weather(self, rate: float, seed: int) -> None:
        """Errors (503), throttling (429 with Retry-After) and connection resets adding up to ``rate``, plus jitter."""
        await self._send(
            "PUT",
            {
                "seed": seed,
                "error_rate": rate * 0.5,
                "error_status": 503,
                "throttle_rate": rate * 0.2,
                "retry_after": 1,
                "reset_rate": rate * 0.3,
                "latency_jitter_ms": 30.0,
            },
        )

    async def outage(self, on: bool) -> None:
        """Switch a total outage (every master call 503) on or off."""
        await self._send("PUT", {"outage": on})

    async def clear(self) -> None:
        """No faults at all."""
        await self._send("DELETE")


async def outages(control: FaultControl, rng: random.Random, count: int, stop: asyncio.Event) -> int:
    """Short total outages at random moments until ``stop``; returns how many were injected."""
    done = 0
    while done < count and not stop.is_set():
        # Fault schedule, not synchronisation: outages come and go on the wall clock, as real ones do.
        try:
            await asyncio.wait_for(stop.wait(), rng.uniform(2.0, 6.0))
            break
        except TimeoutError:
            pass
        await control.outage(True)
        await asyncio.sleep(rng.uniform(0.2, 0.5))
        await control.outage(False)
        done += 1
    return done


def master_figures(bridge_log: Path) -> MasterFigures:
    """Count ``master.call`` lines in the bridge's JSON log: all of them, and those that met a fault."""
    requests = faults = 0
    for line in bridge_log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"master.call"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by SIGKILL
        if entry.get("event") != "master.call":
            continue
        requests += 1
        status = entry.get("status")
        if (
            entry.get("failure")
            or status is None
            or status == 429
            or (isinstance(status, int) and status >= 500)
        ):
            faults += 1
    return MasterFigures(requests=requests, faults=faults)
