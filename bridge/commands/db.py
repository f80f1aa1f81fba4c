"""``scim-bridge db backup FILE``, ``db check``, ``db prune`` and ``db rebind-master``: online backup and
consistency check of the store (issue 7), one retention pass (bridge/retention.py), and binding it to the
master it now serves (bridge/provisioning/binding.py).

All refuse to create a database that does not exist: a typo in ``database.path`` must not look like an
empty, healthy store.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TextIO

import structlog

from bridge.commands.failure import unusable
from bridge.config import Settings
from bridge.determined import MasterError, create_master_client
from bridge.retention import cutoffs, prune_once
from bridge.store import PRUNE_BATCH, AuditLine, SchemaTooNew, Store, StoreCorrupt, StoreError, open_store
from bridge.wiring import busy_timeout_ms, master_client_settings

EXIT_OK: Final = 0
EXIT_PROBLEMS: Final = 1
EXIT_UNUSABLE: Final = 3
_log = structlog.get_logger("bridge.db")


def database_file(settings: Settings) -> Path | None:
    """The file at ``database.path``, or None while there is none (one stat: no thread for it)."""
    path = Path(settings.database.path)
    return path if path.is_file() else None


def existing_database(settings: Settings, out: TextIO) -> Path | None:
    """The database file, or None (after saying so on `out`) if it does not exist."""
    path = database_file(settings)
    if path is None:
        print(f"database {Path(settings.database.path)} does not exist", file=out)
    return path


async def _open_existing(settings: Settings, out: TextIO) -> Store | None:
    """The store at ``database.path``, or None after saying on `out` why it cannot be opened."""
    source = existing_database(settings, out)
    if source is None:
        return None
    try:
        return await open_store(source, busy_timeout_ms=busy_timeout_ms(settings.database))
    except (SchemaTooNew, StoreError) as exc:
        print(f"cannot open {source}: {exc}", file=out)
        return None


async def _problems(store: Store) -> list[str]:
    """``store.check()``; a file too damaged for SQLite's own integrity check to finish is one problem."""
    try:
        return await store.check()
    except StoreCorrupt as exc:
        return [f"integrity: {exc}"]


def _same_path(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


async def run_db_backup(settings: Settings, dest: str, *, err: TextIO | None = None) -> int:
    """Copy the live database to ``dest`` with SQLite's online backup API, then check the copy."""
    err = err or sys.stderr
    source = existing_database(settings, err)
    if source is None:
        return EXIT_UNUSABLE
    target = Path(dest)
    if _same_path(target, source):
        print("backup target is the database itself", file=err)
        return EXIT_UNUSABLE
    try:
        store = await open_store(source, busy_timeout_ms=busy_timeout_ms(settings.database))
    except (SchemaTooNew, StoreError) as exc:
        print(f"cannot open {source}: {exc}", file=err)
        return EXIT_UNUSABLE
    try:
        written = await store.backup(target)
    except OSError as exc:
        print(f"cannot write {target}: {exc.strerror or exc}", file=err)
        return EXIT_UNUSABLE
    except StoreError as exc:
        print(f"cannot back up {source}: {type(exc).__name__}: {exc}", file=err)
        return EXIT_UNUSABLE
    finally:
        await store.close()
    # Verify the copy on its own: a backup nobody can open is worse than none.
    try:
        copy = await open_store(written)
    except (SchemaTooNew, StoreError) as exc:
        print(f"backup copy {written}: cannot open: {type(exc).__name__}: {exc}", file=err)
        return EXIT_PROBLEMS
    try:
        problems = await _problems(copy)
    except StoreError as exc:
        print(f"backup copy {written}: cannot check: {type(exc).__name__}: {exc}", file=err)
        return EXIT_PROBLEMS
    finally:
        await copy.close()
    _log.info("db.backup", source=str(source), dest=str(written), problems=len(problems))
    for problem in problems:
        print(f"backup copy: {problem}", file=err)
    return EXIT_PROBLEMS if problems else EXIT_OK


async def run_db_check(settings: Settings, *, out: TextIO | None = None) -> int:
    """Print every integrity or mapping problem; exit 1 if there is any."""
    out = out or sys.stdout
    store = await _open_existing(settings, out)
    if store is None:
        return EXIT_UNUSABLE
    try:
        problems = await _problems(store)
    except StoreError as exc:
        print(f"cannot check {settings.database.path}: {type(exc).__name__}: {exc}", file=out)
        return EXIT_UNUSABLE
    finally:
        await store.close()
    for problem in problems:
        print(problem, file=out)
    print(f"{len(problems)} problem(s) in {settings.database.path}", file=out)
    _log.info("db.check", database=str(settings.database.path), problems=len(problems))
    return EXIT_PROBLEMS if problems else EXIT_OK


def _pruned_line(verb: str, count: int, what: str, before: datetime | None, key: str) -> str:
    if before is None:
        return f"{what}: kept forever ({key}: 0)"
    return f"{verb} {count} {what} older than {before.isoformat(timespec='seconds')}"


async def run_db_prune(settings: Settings, *, dry_run: bool, out: TextIO | None = None) -> int:
    """One retention pass, as ``serve`` makes hourly (safe beside it: bounded batches through the usual
    locking); with `dry_run`, only how many rows it would delete."""
    out = out or sys.stdout
    store = await _open_existing(settings, out)
    if store is None:
        return EXIT_UNUSABLE
    now = datetime.now(UTC)
    cut = cutoffs(settings.database, now)
    try:
        if dry_run:
            intents, audit = await store.count_prunable(cut.intents, cut.audit)
        else:
            pruned = await prune_once(store, settings.database, now, PRUNE_BATCH)
            intents, audit = pruned.intents, pruned.audit
    except StoreError as exc:
        print(f"cannot prune {settings.database.path}: {type(exc).__name__}: {exc}", file=out)
        return EXIT_UNUSABLE
    finally:
        await store.close()
    verb = "would delete" if dry_run else "deleted"
    print(
        _pruned_line(verb, intents, "finished intents", cut.intents, "database.intent_retention_days"),
        file=out,
    )
    print(_pruned_line(verb, audit, "audit lines", cut.audit, "database.audit_retention_days"), file=out)
    return EXIT_OK


async def run_db_rebind_master(settings: Settings, *, out: TextIO | None = None) -> int:
    """Bind the database to the cluster ``master.url`` reaches now, whatever it was bound to.

    For an operator who has moved the bridge to another installation on purpose (with the users and groups
    the mapping names, e.g. a migrated master with a new cluster id). A running bridge accepts that master
    from its next call on, without a restart.
    """
    out = out or sys.stdout
    store = await _open_existing(settings, out)
    if store is None:
        return EXIT_UNUSABLE
    client = create_master_client(master_client_settings(settings.master))
    try:
        info = await client.master_info()
        if not info.cluster_id:
            print(f"the master at {settings.master.url} reports no clusterId: nothing to bind to", file=out)
            return EXIT_UNUSABLE
        before = await store.bound_master()
        after = await store.rebind_master(info.cluster_id, info.cluster_name)
        await store.append_audit(
            AuditLine(
                request_id="-",
                client="cli",
                operation="rebind_master",
                resource_type="Master",
                resource_id=after.cluster_id,
                master_calls=1,
                outcome="ok",
            )
        )
    except (MasterError, StoreError) as exc:
        print(f"rebind failed: {unusable(exc, settings)}", file=out)
        return EXIT_UNUSABLE
    finally:
        await client.close()
        await store.close()
    was = "unbound" if before is None else f"cluster {before.cluster_id!r} ({before.cluster_name})"
    _log.warning(
        "master.rebound",
        cluster_id=after.cluster_id,
        cluster_name=after.cluster_name,
        previous_cluster_id=None if before is None else before.cluster_id,
    )
    print(
        f"{settings.database.path} now belongs to cluster {after.cluster_id!r} ({after.cluster_name}); it was {was}",
        file=out,
    )
    return EXIT_OK
