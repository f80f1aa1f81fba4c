"""One Adopter pass against the configured store and master, with its report printed (adopt, import-builtin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bridge.commands.db import database_file
from bridge.commands.failure import unusable
from bridge.commands.refusal import print_refusal
from bridge.config import Settings
from bridge.determined import DeterminedClient, MasterError, create_master_client
from bridge.provisioning.adoption import Adopter, AdoptionReport
from bridge.provisioning.binding import MasterBinding
from bridge.reconcile import RetireRefusal, build_intent_resolver, intent_cutoff
from bridge.store import Store, StoreError, open_store
from bridge.wiring import busy_timeout_ms, master_client_settings, protected_usernames

EXIT_OK = 0
EXIT_INTENTS_PENDING = 1
EXIT_FAILED = 3


async def run_adoption(
    settings: Settings,
    adoption: Callable[[Adopter], Awaitable[AdoptionReport]],
    *,
    what: str,
    dry_run: bool,
    out: TextIO,
    intents_first: bool = False,
    command: str = "adopt",
    creates: bool = False,
) -> int:
    """Run `adoption`, print its report (marked when a dry run); exit 3 if the database or the master could not
    be used (the line says which).

    ``intents_first``: settle pending write intents before, as start-up adoption does, and refuse (exit 1)
    while any stays pending, also when the retirement guard refused to resolve them (``command`` names the
    path in its ``reconcile.retire_refused`` event).

    A database that does not exist is refused (exit 3), as ``reconcile`` and ``db`` refuse it: a typo in
    ``database.path`` must not adopt into a new, empty one. ``creates``: create it instead, saying so (the
    first command of a migration from the built-in plugin, before the bridge has ever served).
    """
    if database_file(settings) is None:
        missing = Path(settings.database.path)
        if not creates:
            print(
                f"{what} failed: database {missing} does not exist (`scim-bridge serve` creates it)", file=out
            )
            return EXIT_FAILED
        print(f"creating database {missing}", file=out)
    try:
        store = await open_store(settings.database.path, busy_timeout_ms=busy_timeout_ms(settings.database))
    except StoreError as exc:
        print(f"{what} failed: {unusable(exc, settings)}", file=out)
        return EXIT_FAILED
    client = create_master_client(master_client_settings(settings.master), session_check=MasterBinding(store))
    try:
        if intents_first:
            pending, refusal = await _settle_intents(
                settings, store, client, dry_run=dry_run, command=command
            )
            if refusal is not None:
                print_refusal(refusal, "resolved no pending write intent", out)
            if pending and not dry_run:
                print(_refusal(what, pending, settings), file=out)
                return EXIT_INTENTS_PENDING
            if pending:
                print(
                    f"(dry run) {pending} write intent(s) pending: {what} would refuse until they are resolved",
                    file=out,
                )
        report = await adoption(Adopter(store, client, protected_usernames(settings)))
    except (MasterError, StoreError) as exc:
        print(f"{what} failed: {unusable(exc, settings)}", file=out)
        return EXIT_FAILED
    finally:
        await client.close()
        await store.close()
    for line in report.lines():
        print(("(dry run) " if dry_run else "") + line, file=out)
    return EXIT_OK


async def _settle_intents(
    settings: Settings, store: Store, client: DeterminedClient, *, dry_run: bool, command: str
) -> tuple[int, RetireRefusal | None]:
    """Resolve the pending intents older than ``reconcile.intent_grace``; how many are still pending, and the
    retirement guard's refusal if it let none be resolved (the deletes among them would retire more mappings
    than a repair pass may: the master is probably the wrong one).

    A pending create's Determined user belongs to that create's SCIM id: adopted first, it would be mapped
    under a new one while the intent later completes or rolls back. Younger intents may be a serving
    bridge's requests in flight, so they are left to it, as `scim-bridge reconcile` leaves them. A dry run
    and a shadow bridge (whose resolution would write to the real master) only count.
    """
    refusal = None
    if not dry_run and settings.mode != "shadow":
        resolver = build_intent_resolver(settings, store, client, path=command)
        refusal = (await resolver.resolve_all(created_before=intent_cutoff(settings))).refusal
    return len(await store.pending_intents()), refusal


def _refusal(what: str, pending: int, settings: Settings) -> str:
    return (
        f"{what} refused: {pending} write intent(s) still pending, and a user or group a pending create made "
        "would be mapped under another SCIM id. They are a serving bridge's requests in flight (resolved within "
        f"reconcile.intent_grace, {settings.reconcile.intent_grace:g} s) or ones the master could not settle "
        "(see reconcile.intent_deferred); run this again then."
    )
