"""``scim-bridge adopt`` / ``import-builtin`` when the master cannot be reached or the database does not exist
yet, and the names they protect. The emulator on a socket where a master is needed, SQLite files real."""

from __future__ import annotations

import io
import json
import os
import socket
import uuid
from pathlib import Path

from pytest_aiohttp import AiohttpServer

from bridge.commands.adopt import run_adopt
from bridge.commands.import_builtin import run_import_builtin
from bridge.config import Settings, parse_settings
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.store import open_store
from bridge.wiring import protected_usernames
from tests.idp.master_view import MasterView

SCIM = {"auth": {"type": "basic", "username": "determined", "password": "password"}}
ADMIN_PASSWORD = "emulator-admin-pw"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable(tmp_path: Path, master: dict[str, object]) -> Settings:
    return parse_settings(
        {
            "scim": SCIM,
            "database": {"path": str(tmp_path / "bridge.db")},
            "master": {"url": f"http://127.0.0.1:{closed_port()}", "retries": 0, **master},
            "users": {"protected_usernames": ["ops"]},
        },
        {},
    )


async def test_adopt_exits_3_when_the_master_is_unreachable(tmp_path: Path) -> None:
    await (await open_store(tmp_path / "bridge.db")).close()
    out = io.StringIO()
    assert await run_adopt(unreachable(tmp_path, {"token": "x" * 20}), out=out) == 3
    assert out.getvalue().startswith("adoption failed: the master could not be used: MasterUnavailable: ")


async def test_import_exits_3_when_the_master_is_unreachable(tmp_path: Path) -> None:
    export = tmp_path / "scim_users.json"
    export.write_text(json.dumps([]), encoding="utf-8")
    out = io.StringIO()
    settings = unreachable(tmp_path, {"token": "x" * 20})
    assert await run_import_builtin(settings, str(export), dry_run=True, out=out) == 3
    said = out.getvalue().splitlines()
    assert said[0] == f"creating database {tmp_path / 'bridge.db'}"
    assert said[1].startswith("import failed: the master could not be used: MasterUnavailable: ")


async def test_import_exits_2_on_an_unreadable_file(tmp_path: Path) -> None:
    out = io.StringIO()
    missing = tmp_path / "absent.json"
    assert await run_import_builtin(unreachable(tmp_path, {"token": "x" * 20}), str(missing), out=out) == 2
    assert out.getvalue().startswith(f"cannot read {missing}: ")


def test_protected_usernames_add_the_bridge_account_when_it_logs_in_by_name(tmp_path: Path) -> None:
    by_token = unreachable(tmp_path, {"token": "x" * 20})
    by_password = unreachable(tmp_path, {"username": "scim-bot", "password": "secret-password"})
    assert protected_usernames(by_token) == ("ops",)
    assert protected_usernames(by_password) == ("ops", "scim-bot")


async def _emulated(aiohttp_server: AiohttpServer, tmp_path: Path) -> tuple[Settings, MasterView]:
    server = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password=ADMIN_PASSWORD)))
    url = str(server.make_url("")).rstrip("/")
    settings = parse_settings(
        {
            "scim": SCIM,
            "database": {"path": str(tmp_path / "bridge.db")},
            "master": {"url": url, "username": "admin", "password": ADMIN_PASSWORD},
        },
        {},
    )
    return settings, MasterView(url, "admin", ADMIN_PASSWORD)


async def _master_user(master: MasterView, name: str) -> int:
    created = await master.call(
        "POST", "/api/v1/users", {"user": {"username": name, "active": True, "remote": True}}
    )
    user_id: int = created["user"]["id"]
    return user_id


async def test_adopt_refuses_a_database_that_does_not_exist(
    aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    """As reconcile and db refuse it: a typo in database.path would otherwise link every unmanaged master user
    into a new, empty database while the real one stays as it was."""
    settings, master = await _emulated(aiohttp_server, tmp_path)
    await _master_user(master, "bob@example.com")
    before = await master.state()
    for dry_run in (False, True):
        out = io.StringIO()
        assert await run_adopt(settings, dry_run=dry_run, out=out) == 3
        assert out.getvalue() == (
            f"adoption failed: database {tmp_path / 'bridge.db'} does not exist (`scim-bridge serve` creates it)\n"
        )
    assert os.listdir(tmp_path) == []
    assert await master.state() == before


async def test_import_builtin_creates_the_database_of_a_fresh_install(
    aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    """The first command of a migration from the built-in plugin, before the bridge ever served: it creates
    the database, and says so."""
    settings, master = await _emulated(aiohttp_server, tmp_path)
    jane = await _master_user(master, "jane@example.com")
    scim_id = str(uuid.uuid4())
    export = tmp_path / "scim-users.json"
    row = {"id": scim_id, "user_id": jane, "external_id": "00u-jane", "name": None, "emails": None}
    export.write_text(json.dumps([row]), encoding="utf-8")
    db = tmp_path / "bridge.db"
    out = io.StringIO()
    assert await run_import_builtin(settings, str(export), out=out) == 0
    said = out.getvalue().splitlines()
    assert said[0] == f"creating database {db}"
    assert "user linked: jane@example.com" in said
    store = await open_store(db)
    try:
        user = await store.get_user_by_scim_id(scim_id)
    finally:
        await store.close()
    assert user is not None
    assert (user.det_id, user.user_name) == (jane, "jane@example.com")
    # Once it exists, the database is only used.
    again = io.StringIO()
    assert await run_import_builtin(settings, str(export), out=again) == 0
    assert "creating database" not in again.getvalue()
