"""``scim-bridge import-builtin FILE``: take over the built-in plugin's `scim.users` mapping with the same SCIM ids."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bridge.commands.adoption_run import run_adoption
from bridge.config import Settings
from bridge.provisioning.adoption import parse_builtin_export

EXIT_BAD_INPUT = 2


async def run_import_builtin(
    settings: Settings, path: str, *, dry_run: bool = False, out: TextIO | None = None
) -> int:
    """Import the export at `path` (JSON array or CSV with header), print the report; like `adopt`, settle
    pending write intents first and refuse (exit 1) while any stays pending. Unlike `adopt`, it creates a
    database that does not exist yet."""
    out = out or sys.stdout
    try:
        text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        rows = parse_builtin_export(text)
    except (OSError, ValueError) as exc:
        print(f"cannot read {path}: {exc}", file=out)
        return EXIT_BAD_INPUT
    return await run_adoption(
        settings,
        lambda adopter: adopter.import_builtin(rows, dry_run=dry_run),
        what="import",
        dry_run=dry_run,
        out=out,
        intents_first=True,
        command="import-builtin",
        # On a fresh install the import is the first command to touch the database (docs/operations.md,
        # "Migrating from the built-in SCIM plugin"): it creates it.
        creates=True,
    )
