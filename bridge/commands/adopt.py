"""``scim-bridge adopt``: link existing, unmanaged Determined users and groups to SCIM identities by name."""

from __future__ import annotations

import sys
from typing import TextIO

from bridge.commands.adoption_run import run_adoption
from bridge.config import Settings


async def run_adopt(settings: Settings, *, dry_run: bool = False, out: TextIO | None = None) -> int:
    """Settle pending write intents, adopt, print the report; exit 1 while intents stay pending, 3 if the store
    or master could not be used."""
    return await run_adoption(
        settings,
        lambda adopter: adopter.adopt(dry_run=dry_run),
        what="adoption",
        dry_run=dry_run,
        out=out or sys.stdout,
        intents_first=True,
    )
