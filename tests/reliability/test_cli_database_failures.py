"""The CLI commands when the mapping database, not the master, is what fails: each says the database could not
be used (not that the master is unavailable), exits as docs/operations.md says, and changes nothing on the
master. Real SQLite files (another process's lock is a second connection to the file; an unreadable one is
not a database, or damaged inside), the emulator on a socket, the commands in-process."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpServer

from bridge.commands.adopt import run_adopt
from bridge.commands.check import run_check
from bridge.commands.db import run_db_check, run_db_rebind_master
from bridge.commands.import_builtin import run_import_builtin
from bridge.commands.reconcile import run_reconcile
from bridge.config import Settings, parse_settings
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.store import open_store
from tests.damaged import damaged_database
from tests.idp.master_view import MasterView

ADMIN_PASSWORD = "emulator-admin-pw"
Command = Callable[[Settings, io.StringIO], Awaitable[int]]


async def _reconcile(settings: Settings, said: io.StringIO) -> int:
    return await run_reconcile(settings, dry_run=False, repair=True, out=io.StringIO(), err=said)


async def _adopt(settings: Settings, said: io.StringIO) -> int:
    return await run_adopt(settings, out=said)


async def _import(settings: Settings, said: io.StringIO) -> int:
    export = Path(settings.database.path).parent / "scim_users.json"
    export.write_text(json.dumps([]), encoding="utf-8")
    return await run_import_builtin(settings, str(export), out=said)


# The commands whose master client checks each session against the database's binding, and the prefix each
# puts before the reason.
CHECKED: dict[str, tuple[Command, str]] = {
    "reconcile": (_reconcile, ""),
    "adopt": (_adopt, "adoption failed: "),
    "import": (_import, "import failed: "),
}


@dataclass(frozen=True, slots=True)
class Emulator:
    url: str
    view: MasterView

    async def state(self) -> object:
        return await self.view.state()


@pytest.fixture
async def emulator(aiohttp_server: AiohttpServer) -> Emulator:
    server = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password=ADMIN_PASSWORD)))
    url = str(server.make_url("")).rstrip("/")
    return Emulator(url, MasterView(url, "admin", ADMIN_PASSWORD))


def _settings(tmp_path: Path, master_url: str) -> Settings:
    # busy_timeout 0.2 s: each refused statement waits that long for the other process's lock (5 s by default).
    return parse_settings(
        {
            "scim": {"auth": {"type": "basic", "username": "idp", "password": "idp-password"}},
            "master": {"url": master_url, "username": "admin", "password": ADMIN_PASSWORD},
            "database": {"path": str(tmp_path / "bridge.db"), "busy_timeout": 0.2},
        },
        {},
    )


@pytest.mark.parametrize("name", sorted(CHECKED))
async def test_a_binding_the_database_cannot_record_is_the_database_s_failure(
    name: str, emulator: Emulator, tmp_path: Path
) -> None:
    command, prefix = CHECKED[name]
    settings = _settings(tmp_path, emulator.url)
    # A database that has met no master yet, so the first session's check must record the binding, while
    # another process (a backup, a serving bridge's long write) holds the write lock.
    store = await open_store(tmp_path / "bridge.db")
    await store.close()
    before = await emulator.state()
    said = io.StringIO()
    other = sqlite3.connect(tmp_path / "bridge.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert await command(settings, said) == 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert said.getvalue() == (
        f"{prefix}the database {settings.database.path} could not be used: cannot read or record the master "
        "binding: StoreUnavailable: database unavailable: database is locked\n"
    )
    assert await emulator.state() == before
    store = await open_store(tmp_path / "bridge.db")
    try:
        assert await store.bound_master() is None
    finally:
        await store.close()


def _not_a_database(tmp_path: Path) -> Path:
    db = tmp_path / "bridge.db"
    db.write_bytes(b"not an SQLite file\n" * 512)
    return db


@pytest.mark.parametrize("name", sorted(CHECKED))
async def test_a_database_file_sqlite_cannot_read_is_reported_as_such(
    name: str, emulator: Emulator, tmp_path: Path
) -> None:
    command, prefix = CHECKED[name]
    settings = _settings(tmp_path, emulator.url)
    db = _not_a_database(tmp_path)
    before = await emulator.state()
    said = io.StringIO()
    assert await command(settings, said) == 3
    assert said.getvalue() == (
        f"{prefix}the database {db} could not be used: StoreCorrupt: cannot open: file is not a database\n"
    )
    assert await emulator.state() == before
    assert db.read_bytes() == b"not an SQLite file\n" * 512


# import-builtin with an empty export reads no mapping, so it meets no damaged page.
@pytest.mark.parametrize("name", ["adopt", "reconcile"])
async def test_a_database_file_damaged_inside_is_reported_as_such(
    name: str, emulator: Emulator, tmp_path: Path
) -> None:
    command, prefix = CHECKED[name]
    settings = _settings(tmp_path, emulator.url)
    await damaged_database(tmp_path / "bridge.db", "users")
    before = await emulator.state()
    said = io.StringIO()
    assert await command(settings, said) == 3
    assert said.getvalue() == (
        f"{prefix}the database {settings.database.path} could not be used: StoreCorrupt: database failed: "
        "database disk image is malformed\n"
    )
    assert await emulator.state() == before


async def test_check_says_the_database_is_unreadable_not_the_master(
    emulator: Emulator, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, emulator.url)
    db = _not_a_database(tmp_path)
    out = io.StringIO()
    assert await run_check(settings, out) == 1
    lines = out.getvalue().splitlines()
    assert lines[1].startswith(f"ok   master reachable at {emulator.url}")
    assert lines[2:] == [
        f"FAIL master is the database's own: the database {db} could not be used: StoreCorrupt: cannot open: "
        "file is not a database"
    ]


async def test_check_says_the_database_is_locked_not_the_master(emulator: Emulator, tmp_path: Path) -> None:
    settings = _settings(tmp_path, emulator.url)
    store = await open_store(tmp_path / "bridge.db")
    await store.bind_master("emulator-cluster", "emulator")
    await store.close()
    # An exclusive lock in WAL mode keeps even readers out (a process that opened the file with
    # locking_mode EXCLUSIVE); an ordinary write lock would not stop check's read.
    other = sqlite3.connect(tmp_path / "bridge.db", isolation_level=None)
    try:
        other.execute("PRAGMA locking_mode = EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        out = io.StringIO()
        assert await run_check(settings, out) == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert out.getvalue().splitlines()[2:] == [
        f"FAIL master is the database's own: the database {settings.database.path} could not be used: "
        "StoreUnavailable: database unavailable: database is locked"
    ]


async def test_db_commands_say_a_database_file_sqlite_cannot_read_cannot_be_opened(
    emulator: Emulator, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, emulator.url)
    db = _not_a_database(tmp_path)
    for run in (run_db_check, run_db_rebind_master):
        out = io.StringIO()
        assert await run(settings, out=out) == 3
        assert out.getvalue() == f"cannot open {db}: cannot open: file is not a database\n"


async def test_rebind_says_the_database_is_locked_not_the_master(emulator: Emulator, tmp_path: Path) -> None:
    settings = _settings(tmp_path, emulator.url)
    store = await open_store(tmp_path / "bridge.db")
    await store.bind_master("old-cluster", "old")
    await store.close()
    other = sqlite3.connect(tmp_path / "bridge.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        out = io.StringIO()
        assert await run_db_rebind_master(settings, out=out) == 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert out.getvalue() == (
        f"rebind failed: the database {settings.database.path} could not be used: StoreUnavailable: database "
        "unavailable: database is locked\n"
    )
