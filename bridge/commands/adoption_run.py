"""One Adopter pass against the configured store and master, with its report printed (adopt, import-builtin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TextIO

from bridge.config import Settings
from bridge.determined import MasterError, create_master_client
from bridge.provisioning.adoption import Adopter, AdoptionReport
from bridge.store import StoreError, open_store
from bridge.wiring import master_client_settings, protected_usernames

EXIT_OK = 0
EXIT_FAILED = 3


async def run_adoption(
    settings: Settings,
    adoption: Callable[[Adopter], Awaitable[AdoptionReport]],
    *,
    what: str,
    dry_run: bool,
    out: TextIO,
) -> int:
    """Run `adoption`, print its report (marked when a dry run); exit 3 if the store or master failed."""
    store = await open_store(settings.database.path)
    client = create_master_client(master_client_settings(settings.master))
    try:
        report = await adoption(Adopter(store, client, protected_usernames(settings)))
    except (MasterError, StoreError) as exc:
        print(f"{what} failed: {type(exc).__name__}: {exc}", file=out)
        return EXIT_FAILED
    finally:
        await client.close()
        await store.close()
    for line in report.lines():
        print(("(dry run) " if dry_run else "") + line, file=out)
    return EXIT_OK
