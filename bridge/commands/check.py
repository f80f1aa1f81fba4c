"""``scim-bridge check``: the config is valid, the master answers, and the bridge's credential is an admin."""

from __future__ import annotations

import sys
from typing import TextIO

from bridge.config import Settings
from bridge.determined import MasterError, create_master_client
from bridge.wiring import master_client_settings


async def run_check(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Print one line per check; exit status 1 if any fails."""
    failures = 0

    def report(ok: bool, what: str) -> None:
        nonlocal failures
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {what}", file=out)

    report(True, "configuration is valid")
    client = create_master_client(master_client_settings(settings.master))
    try:
        try:
            info = await client.master_info()
        except MasterError as exc:
            report(False, f"master reachable at {settings.master.url}: {exc.message}")
            return 1
        report(
            True,
            f"master reachable at {settings.master.url} (version {info.version}, rbac {info.rbac_enabled})",
        )
        try:
            me = await client.me()
        except MasterError as exc:
            report(False, f"bridge credential accepted by the master: {exc.message}")
            return 1
        report(True, f"bridge credential accepted (user {me.username!r}, id {me.id})")
        report(me.active, "bridge account is active")
        report(me.admin, "bridge account has admin rights")
    finally:
        await client.close()
    return 1 if failures else 0
