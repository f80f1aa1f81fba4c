"""``scim-bridge import-builtin FILE``: take over the built-in plugin's `scim.users` mapping with the same SCIM ids."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bridge.config import Settings
from bridge.determined import MasterError, create_master_client
from bridge.provisioning.adoption import Adopter, parse_builtin_export
from bridge.store import StoreError, open_store
from bridge.wiring import master_client_settings

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_FAILED = 3


async def run_import_builtin(
    settings: Settings, path: str, *, dry_run: bool = False, out: TextIO | None = None
) -> int:
    """Import the export at `path` (JSON array or CSV with header), print the report."""
    out = out or sys.stdout
    try:
        text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        rows = parse_builtin_export(text)
    except (OSError, ValueError) as exc:
        print(f"cannot read {path}: {exc}", file=out)
        return EXIT_BAD_INPUT
    protected = (
        *settings.users.protected_usernames,
        *([settings.master.username] if settings.master.username else []),
    )
    store = await open_store(settings.database.path)
    client = create_master_client(master_client_settings(settings.master))
    try:
        report = await Adopter(store, client, protected).import_builtin(rows, dry_run=dry_run)
    except (MasterError, StoreError) as exc:
        print(f"import failed: {type(exc).__name__}: {exc}", file=out)
        return EXIT_FAILED
    finally:
        await client.close()
        await store.close()
    for line in report.lines():
        print(("(dry run) " if dry_run else "") + line, file=out)
    return EXIT_OK
