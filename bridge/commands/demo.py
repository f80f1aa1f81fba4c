"""``scim-bridge demo``: the bridge in front of an in-process master emulator, ready for curl."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import tempfile
from pathlib import Path

from bridge.commands.cannot_listen import cannot_listen
from bridge.commands.serve import with_listen
from bridge.config import Settings
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.listen import ListenFailed
from bridge.runner import Listener, Started, serve
from bridge.runner import start as start_listener
from bridge.web.app import create_app


def _banner(settings: Settings, bridge_url: str, emulator_url: str) -> str:
    base = f"{bridge_url}{settings.server.base_path}"
    lines = [
        "scim-bridge demo is running.",
        f"  SCIM base URL:   {base}",
        f"  Master emulator: {emulator_url}",
        f"  Database:        {settings.database.path} (removed on exit, like the emulator's state)",
    ]
    auth = settings.scim.auth
    if auth.basic:
        cred = auth.basic[0]
        user_pass = f"{cred.username}:{cred.password.reveal()}"
        lines += [
            f"  Credentials:     HTTP Basic {user_pass}",
            f"  Try:             curl -s -u '{user_pass}' '{base}/Users'",
        ]
    else:
        lines.append("  Credentials:     see scim.auth in the config (bearer tokens are stored hashed)")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


async def run_demo(settings: Settings, *, host: str | None, port: int | None) -> int:
    """Start the emulator on a free port, point the bridge at it, serve until a signal.

    The emulator keeps its users in memory, so the mapping database lives exactly as long: a database
    from an earlier demo would map SCIM ids to Determined ids this emulator hands out afresh.
    """
    with tempfile.TemporaryDirectory(prefix="scim-bridge-demo-") as workdir:
        database = dataclasses.replace(settings.database, path=str(Path(workdir) / "scim-bridge.db"))
        try:
            return await _run(dataclasses.replace(settings, database=database), host=host, port=port)
        except ListenFailed as exc:
            return cannot_listen(exc, sys.stderr)


async def _run(settings: Settings, *, host: str | None, port: int | None) -> int:
    settings = with_listen(settings, host, port)
    password = settings.master.password.reveal() if settings.master.password else ""
    emulator_runner, emulator = await start_listener(
        Listener(
            create_emulator_app(EmulatorConfig(initial_password=password)), "127.0.0.1", 0, name="emulator"
        ),
        shutdown_timeout=settings.server.shutdown_timeout,
    )
    try:
        settings = dataclasses.replace(
            settings, master=dataclasses.replace(settings.master, url=emulator.url)
        )

        def announce(started: list[Started]) -> None:
            print(_banner(settings, started[0].url, emulator.url), flush=True)

        await serve(
            [Listener(create_app(settings), settings.server.host, settings.server.port)],
            shutdown_timeout=settings.server.shutdown_timeout,
            on_started=announce,
        )
    finally:
        await asyncio.shield(emulator_runner.cleanup())
    return 0
