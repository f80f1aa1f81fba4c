"""Chaos: concurrent IdP clients, a faulty master and a bridge SIGKILLed at random; the end state is exact.

The emulator and the bridge run as processes of our own CLI. Faults are set through the emulator's admin
endpoint; the bridge is killed when the operation counter crosses randomly drawn points and restarted
at once. Afterwards faults are cleared, one ``scim-bridge reconcile --repair`` runs, and the master and
the mapping are compared with the clients' intended state.
"""

from __future__ import annotations

import asyncio
import base64
import random
import sys
from pathlib import Path

import aiohttp

from bridge.determined import create_master_client
from tests.chaos.conftest import ChaosSize
from tests.chaos.faults import FaultControl, master_figures, outages
from tests.chaos.idp import Figures, IdpClient
from tests.chaos.processes import CliProcess, free_port
from tests.chaos.verify import mismatches
from tests.reliability.configs import write_config
from tests.reliability.conftest import ADMIN_PASSWORD, client_settings

IDP_USER = "chaos-idp"
IDP_PASSWORD = "chaos-idp-password"


def _bridge_config(
    directory: Path, database: Path, master_url: str, port: int, grace: float, log_level: str = "debug"
) -> Path:
    directory.mkdir(exist_ok=True)
    return write_config(
        directory,
        database,
        master_url,
        scim={
            "auth": {
                "type": "basic",
                "username": IDP_USER,
                "password": IDP_PASSWORD,
                "failed_attempts_per_minute": 1_000_000,
            }
        },
        master={
            "url": master_url,
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "request_timeout": 2.0,
            "connect_timeout": 1.0,
            "retries": 2,
        },
        server={"host": "127.0.0.1", "port": port, "shutdown_timeout": 1.0},
        reconcile={"intent_grace": grace},
        # debug: the master.call lines are how the suite counts the faults the bridge met.
        logging={"format": "json", "level": log_level},
    )


class Killer:
    """Kills the bridge when the operation count crosses each of its randomly drawn points."""

    def __init__(self, bridge: CliProcess, points: list[int]) -> None:
        self.bridge = bridge
        self.points = sorted(points)
        self.changed = asyncio.Condition()

    async def operation_done(self) -> None:
        """Called by clients after each operation."""
        async with self.changed:
            self.changed.notify_all()

    async def run(self, figures: Figures) -> None:
        """Kill and restart at each point; returns when all points are passed."""
        for point in self.points:

            def reached(point: int = point) -> bool:
                return figures.operations >= point

            async with self.changed:
                await self.changed.wait_for(reached)
            self.bridge.kill()
            await self.bridge.reap()
            await self.bridge.start()


async def test_chaos_end_state_is_exactly_the_intended_state(tmp_path: Path, chaos_size: ChaosSize) -> None:
    rng = random.Random(7)
    master_port, bridge_port = free_port(), free_port()
    master_url = f"http://127.0.0.1:{master_port}"
    emulator = CliProcess(
        ["emulator", "--port", str(master_port), "--admin-endpoint", "--initial-password", ADMIN_PASSWORD],
        tmp_path / "emulator.log",
        f"{master_url}/api/v1/master",
    )
    database = tmp_path / "bridge.db"
    serving = _bridge_config(tmp_path / "serve", database, master_url, bridge_port, grace=2.0)
    bridge = CliProcess(
        ["serve", "-c", str(serving)], tmp_path / "bridge.log", f"http://127.0.0.1:{bridge_port}/healthz"
    )
    await emulator.start()
    faults = FaultControl(master_url)
    figures = Figures()
    stop_outages = asyncio.Event()
    try:
        await bridge.start()
        await faults.weather(chaos_size.fault_rate, rng.randrange(1 << 30))
        killer = Killer(bridge, rng.sample(range(50, chaos_size.operations - 50), chaos_size.kills))
        authorization = "Basic " + base64.b64encode(f"{IDP_USER}:{IDP_PASSWORD}".encode()).decode()
        share = chaos_size.operations // chaos_size.clients
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            clients = [
                IdpClient(
                    index=i,
                    base_url=f"http://127.0.0.1:{bridge_port}/scim/v2",
                    authorization=authorization,
                    session=session,
                    rng=random.Random(rng.randrange(1 << 30)),
                    figures=figures,
                    on_operation=killer.operation_done,
                )
                for i in range(chaos_size.clients)
            ]
            killing = asyncio.create_task(killer.run(figures))
            weather = asyncio.create_task(
                outages(faults, random.Random(rng.randrange(1 << 30)), chaos_size.outages, stop_outages)
            )
            await asyncio.gather(*(c.run(share) for c in clients))
            stop_outages.set()
            outage_count = await weather
            await killing
        await faults.clear()
        await bridge.stop()
        # One reconcile after recovery; the bridge is stopped, so every pending intent may be resolved.
        final = _bridge_config(
            tmp_path / "final", database, master_url, bridge_port, grace=0.0, log_level="warning"
        )
        repair = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridge",
            "reconcile",
            "--repair",
            "-c",
            str(final),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        repair_output, _ = await repair.communicate()
        master = create_master_client(client_settings(master_url))
        try:
            found = await mismatches(master, clients, database)
        finally:
            await master.close()
    finally:
        stop_outages.set()
        await bridge.stop()
        await emulator.stop()
    injected = master_figures(tmp_path / "bridge.log")
    fraction = injected.faults / max(1, injected.requests)
    print(
        f"\nchaos figures: operations={figures.operations} requests={figures.requests} retries={figures.retries} "
        f"connection_errors={figures.connection_errors} kills={bridge.kills} "
        f"master_requests={injected.requests} master_faults={injected.faults} ({fraction:.1%}) "
        f"outages={outage_count} "
        f"mismatches={len(found)}\n  by operation: {dict(figures.by_operation)}\n"
        f"  bridge statuses: {dict(sorted(figures.by_status.items()))}\n"
        f"  final reconcile (exit {repair.returncode}):\n{repair_output.decode(errors='replace')}"
    )
    assert found == [], "\n".join(found[:50])
    assert figures.operations >= chaos_size.operations - chaos_size.clients
    assert bridge.kills == chaos_size.kills
    assert fraction >= 0.10
