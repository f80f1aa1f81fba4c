"""``scim-bridge reconcile [--dry-run] [--repair [--allow-mass-retire]]``: one reconciliation pass (issue 7).

Without flags it reports drift; ``--dry-run`` also lists the repairs it would make; ``--repair`` makes them
(policy ``idp_wins``; under ``report_only`` or ``mode: shadow`` it refuses and reports), naming each
user.missing mapping it retires. More of those than ``reconcile.max_retire``, or than ``reconcile.max_retire_fraction`` of the mapped
users, and it changes nothing (pending intents included) and
tells the operator what to check, unless ``--allow-mass-retire``. Safe to run beside a serving bridge: only
intents older than ``reconcile.intent_grace`` are resolved, and every repair re-reads both sides first.
"""

from __future__ import annotations

import sys
from typing import Final, TextIO

from bridge.commands.db import existing_database
from bridge.commands.failure import unusable
from bridge.commands.refusal import print_refusal
from bridge.config import Settings
from bridge.determined import MasterError, create_master_client
from bridge.provisioning.binding import MasterBinding
from bridge.reconcile import (
    Drift,
    DriftKind,
    Mode,
    ReconcileReport,
    build_reconciler,
    intent_cutoff,
)
from bridge.store import StoreError, open_store
from bridge.wiring import busy_timeout_ms, master_client_settings

EXIT_CLEAN: Final = 0
EXIT_DRIFT: Final = 1
EXIT_UNUSABLE: Final = 3


def _mode(settings: Settings, *, dry_run: bool, repair: bool, err: TextIO) -> Mode:
    if dry_run:
        return Mode.DRY_RUN
    if repair and settings.mode == "shadow":
        # This process has no ShadowClient overlay: the repairs would reach the real master, and the shadow
        # database's synthetic Determined ids would read as groups to re-create there.
        print("mode is shadow: reporting, not repairing (a shadow bridge makes no master write)", file=err)
        return Mode.REPORT
    if repair and settings.reconcile.policy == "report_only":
        print("reconcile.policy is report_only: reporting, not repairing", file=err)
        return Mode.REPORT
    return Mode.REPAIR if repair else Mode.REPORT


def _print_summary(report: ReconcileReport, mode: Mode, out: TextIO) -> None:
    print(
        f"checked {report.users_checked} users, {report.groups_checked} groups; "
        f"{len(report.drifts)} drift(s), {len(report.repaired)} repaired, {len(report.failed)} failed, "
        f"{len(report.skipped_busy)} skipped ({mode.value})",
        file=out,
    )
    for drift in report.drifts:
        detail = " ".join(
            f"{k}={v}"
            for k, v in drift.log_fields().items()
            if k not in ("kind", "resource_type") and v is not None
        )
        print(f"  {drift.kind.value}: {detail}", file=out)
    # Retiring a mapping changes what the IdP sees (GET answers 404 until it re-creates the user), so each
    # one is named, and a dry run names what a repair would retire.
    missing = [d for d in report.drifts if d.kind is DriftKind.USER_MISSING]
    if mode is Mode.REPAIR and report.refused:
        for drift in missing:
            print(f"  refused to retire {_ghost(drift)}", file=out)
        if report.refusal is not None:
            print_refusal(report.refusal, "repaired nothing", out)
    elif mode is Mode.REPAIR:
        retired = [d for d in report.repaired if d.kind is DriftKind.USER_MISSING]
        for drift in retired:
            print(f"  retired {_ghost(drift)}: tombstoned; the IdP's re-create provisions it", file=out)
    elif mode is Mode.DRY_RUN:
        for drift in missing:
            print(f"  would retire {_ghost(drift)} (if the master still answers 'user not found')", file=out)
        if report.refusal is not None:
            print_refusal(report.refusal, "--repair would repair nothing", out)


def _ghost(drift: Drift) -> str:
    return f"user {drift.scim_id} (userName {drift.expected}; Determined user {drift.det_id} gone)"


def _exit_code(report: ReconcileReport, mode: Mode) -> int:
    if mode is Mode.REPAIR:
        unresolved = set(report.actionable) - set(report.repaired) - set(report.skipped_busy)
        return EXIT_DRIFT if unresolved or report.failed else EXIT_CLEAN
    return EXIT_DRIFT if report.actionable else EXIT_CLEAN


async def run_reconcile(
    settings: Settings,
    *,
    dry_run: bool,
    repair: bool,
    allow_mass_retire: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """One pass; exit 0 when the master matches the IdP's intent (or was made to), 1 on drift left over
    (a pass refused by ``reconcile.max_retire`` included), 3 when the database or the master could not be
    used (the line on `err` says which)."""
    out = out or sys.stdout
    err = err or sys.stderr
    if existing_database(settings, err) is None:
        return EXIT_UNUSABLE
    mode = _mode(settings, dry_run=dry_run, repair=repair, err=err)
    try:
        store = await open_store(settings.database.path, busy_timeout_ms=busy_timeout_ms(settings.database))
    except StoreError as exc:
        print(unusable(exc, settings), file=err)
        return EXIT_UNUSABLE
    client = create_master_client(master_client_settings(settings.master), session_check=MasterBinding(store))
    try:
        reconciler = await build_reconciler(settings, store, client, allow_mass_retire=allow_mass_retire)
        report = await reconciler.run(mode, intents_before=intent_cutoff(settings))
    except (MasterError, StoreError) as exc:
        print(unusable(exc, settings), file=err)
        return EXIT_UNUSABLE
    finally:
        await client.close()
        await store.close()
    _print_summary(report, mode, out)
    return _exit_code(report, mode)
