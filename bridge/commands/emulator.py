"""``scim-bridge emulator``: only the Determined master emulator, e.g. for the real ``det`` CLI."""

from __future__ import annotations

import argparse
import sys

from bridge.commands.cannot_listen import cannot_listen
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.listen import ListenFailed
from bridge.runner import Listener, serve


async def run_emulator_command(args: argparse.Namespace) -> int:
    """Serve the emulator until SIGTERM/SIGINT; exit 4 if its port cannot be bound."""
    config = EmulatorConfig(
        rbac=args.rbac,
        initial_password=args.initial_password,
        admin_endpoint=args.admin_endpoint,
        cluster_id=args.cluster_id,
    )
    listener = Listener(
        create_emulator_app(config),
        args.host or "127.0.0.1",
        8081 if args.port is None else args.port,
        name="emulator",
    )
    try:
        await serve([listener], shutdown_timeout=5.0)
    except ListenFailed as exc:
        return cannot_listen(exc, sys.stderr)
    return 0
