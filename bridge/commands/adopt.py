"""``scim-bridge adopt``: link existing, unmanaged Determined users and groups to SCIM identities by name."""

from __future__ import annotations

import sys
from typing import TextIO

from bridge.config import Settings
from bridge.determined import MasterError, create_master_client
from bridge.provisioning.adoption import Adopter
from bridge.store import StoreError, open_store
from bridge.wiring import master_client_settings

EXIT_OK = 0
EXIT_FAILED = 3


async def run_adopt(settings: Settings, *, dry_run: bool = False, out: TextIO | None = None) -> int:
    """Adopt, print the report; exit 3 if the store or master could not be used."""
    out = out or sys.stdout
    protected = (
        *settings.users.protected_usernames,
        *([settings.master.username] if settings.master.username else []),
    )
    store = await open_store(settings.database.path)
    client = create_master_client(master_client_settings(settings.master))
    try:
        report = await Adopter(store, client, protected).adopt(dry_run=dry_run)
    except (MasterError, StoreError) as exc:
        print(f"adoption failed: {type(exc).__name__}: {exc}", file=out)
        return EXIT_FAILED
    finally:
        await client.close()
        await store.close()
    for line in report.lines():
        print(("(dry run) " if dry_run else "") + line, file=out)
    return EXIT_OK
