"""The ``scim-bridge`` command line: parse arguments, load settings, configure logging, dispatch."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Final

from bridge import __version__
from bridge.commands import bootstrap, status
from bridge.config import ConfigError, Settings, load_settings
from bridge.log import configure_logging

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scim-bridge", description=__doc__)
    parser.add_argument("--log-format", choices=("json", "console"), help="override logging.format")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "-c", "--config", help="config file (default: $SCIM_BRIDGE_CONFIG or scim-bridge.yaml)"
        )
        return p

    def with_listen(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--host", help="listen address")
        p.add_argument("--port", type=int, help="listen port")
        return p

    with_listen(with_config(sub.add_parser("serve", help="run the bridge")))
    with_listen(with_config(sub.add_parser("demo", help="run the bridge on an in-process master emulator")))
    emulator = with_listen(sub.add_parser("emulator", help="run only the Determined master emulator"))
    emulator.add_argument("--rbac", action="store_true", help="report RBAC enabled, as EE masters do")
    emulator.add_argument("--initial-password", default="", help="password of admin and determined")
    emulator.add_argument("--admin-endpoint", action="store_true", help="enable the fault-injection API")
    emulator.add_argument("--cluster-id", default="emulator-cluster", help="the clusterId it reports")
    with_config(sub.add_parser("check", help="validate config, reach the master, verify the credential"))
    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    with_config(db.add_parser("backup", help="online backup of the store to FILE")).add_argument("file")
    with_config(db.add_parser("check", help="integrity and mapping consistency; exit 1 on problems"))
    prune = with_config(
        db.add_parser("prune", help="delete finished intents and audit lines past their retention, once")
    )
    prune.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    with_config(
        db.add_parser("rebind-master", help="bind the store to the master cluster master.url reaches now")
    )
    reconcile = with_config(
        sub.add_parser("reconcile", help="compare the store with the master; repair drift")
    )
    reconcile.add_argument("--dry-run", action="store_true", help="list the repairs without making them")
    reconcile.add_argument("--repair", action="store_true", help="repair drift per reconcile.policy")
    reconcile.add_argument(
        "--allow-mass-retire",
        action="store_true",
        help=(
            "with --repair: retire user.missing mappings even beyond reconcile.max_retire and "
            "reconcile.max_retire_fraction (this pass only)"
        ),
    )
    adopt = with_config(sub.add_parser("adopt", help="link existing master users and groups by name"))
    adopt.add_argument("--dry-run", action="store_true", help="report what would be linked")
    builtin = with_config(
        sub.add_parser("import-builtin", help="import the built-in SCIM plugin's scim.users export")
    )
    builtin.add_argument("file", help="JSON array or CSV with header (id, user_id, external_id, ...)")
    builtin.add_argument("--dry-run", action="store_true", help="report what would be imported")
    sub.add_parser("version", help="print the version")
    status.add_arguments(sub.add_parser("status", help="summarise a running instance (GET /status)"))
    bootstrap.add_arguments(
        sub.add_parser("bootstrap", help="create the service account and write its access token to a file")
    )
    return parser


def _load(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "config", None))
    log = settings.logging
    fmt = args.log_format or log.format
    level = args.log_level or log.level
    configure_logging(fmt, level, cache_loggers=args.command == "serve")
    return settings


def _version(_args: argparse.Namespace) -> int:
    print(f"scim-bridge {__version__}")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    from bridge.commands.emulator import run_emulator_command

    configure_logging(args.log_format or "json", args.log_level or "info")
    return asyncio.run(run_emulator_command(args))


def _configure_stderr_logging(args: argparse.Namespace) -> None:
    configure_logging(args.log_format or "console", args.log_level or "warning", stream=sys.stderr)


def _status(args: argparse.Namespace) -> int:
    _configure_stderr_logging(args)
    return asyncio.run(status.run_status(args))


def _bootstrap(args: argparse.Namespace) -> int:
    _configure_stderr_logging(args)
    return asyncio.run(bootstrap.run_bootstrap(args))


# Neither status nor bootstrap needs a valid bridge config: bootstrap runs before one can exist (it makes
# the token).
_WITHOUT_CONFIG: Final[Mapping[str, Callable[[argparse.Namespace], int]]] = {
    "version": _version,
    "emulator": _emulator,
    "status": _status,
    "bootstrap": _bootstrap,
}

# Each returns the coroutine to run; the command's module is imported only when it is the one chosen.
ConfiguredCommand = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def _serve(settings: Settings, args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    from bridge.commands.serve import run_serve

    return run_serve(settings, host=args.host, port=args.port)


def _demo(settings: Settings, args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    from bridge.commands.demo import run_demo

    return run_demo(settings, host=args.host, port=args.port)


def _check(settings: Settings, _args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    from bridge.commands.check import run_check

    return run_check(settings)


def _db(settings: Settings, args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    from bridge.commands.db import run_db_backup, run_db_check, run_db_prune, run_db_rebind_master

    if args.db_command == "backup":
        return run_db_backup(settings, args.file)
    if args.db_command == "prune":
        return run_db_prune(settings, dry_run=args.dry_run)
    if args.db_command == "rebind-master":
        return run_db_rebind_master(settings)
    return run_db_check(settings)


def _reconcile(settings: Settings, args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    from bridge.commands.reconcile import run_reconcile

    return run_reconcile(
        settings, dry_run=args.dry_run, repair=args.repair, allow_mass_retire=args.allow_mass_retire
    )


def _adopt(settings: Settings, args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    from bridge.commands.adopt import run_adopt

    return run_adopt(settings, dry_run=args.dry_run)


def _import_builtin(settings: Settings, args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    from bridge.commands.import_builtin import run_import_builtin

    return run_import_builtin(settings, args.file, dry_run=args.dry_run)


_WITH_CONFIG: Final[Mapping[str, ConfiguredCommand]] = {
    "serve": _serve,
    "demo": _demo,
    "check": _check,
    "db": _db,
    "reconcile": _reconcile,
    "adopt": _adopt,
    "import-builtin": _import_builtin,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and ``python -m bridge``."""
    args = _parser().parse_args(argv)
    standalone = _WITHOUT_CONFIG.get(args.command)
    if standalone is not None:
        return standalone(args)
    try:
        settings = _load(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    command = _WITH_CONFIG.get(args.command)
    if command is None:
        raise AssertionError(f"unhandled command {args.command}")
    if args.command == "serve":
        return _run_server(command(settings, args))
    return asyncio.run(command(settings, args))


def _run_server(server: Coroutine[Any, Any, int]) -> int:
    """Run the long-lived server on uvloop where it exists (not on Windows): its event loop and transports
    are C, and take less CPU per request than asyncio's own (issue 9: ~5-8 us of ~120 per GET)."""
    try:
        import uvloop  # only the server needs it, and it may be absent
    except ImportError:
        return asyncio.run(server)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(server)


if __name__ == "__main__":
    sys.exit(main())
