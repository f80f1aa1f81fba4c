"""``scim-bridge check``: the config is valid, the master answers and is the database's own, and the bridge's
credential is an admin."""

from __future__ import annotations

import sys
from typing import TextIO

from bridge.commands.db import database_file
from bridge.commands.failure import unusable
from bridge.config import Settings
from bridge.determined import MasterError, create_master_client
from bridge.provisioning.binding import REBIND_HINT
from bridge.store import BoundMaster, StoreError, open_store
from bridge.wiring import busy_timeout_ms, master_client_settings


async def _bound_master(settings: Settings) -> BoundMaster | None:
    """The database's bound master; None when there is no database yet (check creates none) or no binding."""
    if database_file(settings) is None:
        return None
    store = await open_store(settings.database.path, busy_timeout_ms=busy_timeout_ms(settings.database))
    try:
        return await store.bound_master()
    finally:
        await store.close()


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
            bound = await _bound_master(settings)
        except StoreError as exc:
            # Not the master's failure: which cluster the database belongs to is unknown, not refused.
            report(False, f"master is the database's own: {unusable(exc, settings)}")
            return 1
        if bound is not None and info.cluster_id and bound.cluster_id != info.cluster_id:
            report(
                False,
                f"master is the database's own: it is cluster {info.cluster_id!r} ({info.cluster_name}), "
                f"the database belongs to cluster {bound.cluster_id!r} ({bound.cluster_name}); {REBIND_HINT}",
            )
            return 1
        if bound is not None:
            report(True, f"master is the database's own (cluster {bound.cluster_id!r})")
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
