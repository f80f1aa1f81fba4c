"""``scim-bridge adopt`` / ``import-builtin`` when the master cannot be reached, and the names they protect."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

from bridge.commands.adopt import run_adopt
from bridge.commands.import_builtin import run_import_builtin
from bridge.config import Settings, parse_settings
from bridge.wiring import protected_usernames

SCIM = {"auth": {"type": "basic", "username": "determined", "password": "password"}}


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
    out = io.StringIO()
    assert await run_adopt(unreachable(tmp_path, {"token": "x" * 20}), out=out) == 3
    assert out.getvalue().startswith("adoption failed: the master could not be used: MasterUnavailable: ")


async def test_import_exits_3_when_the_master_is_unreachable(tmp_path: Path) -> None:
    export = tmp_path / "scim_users.json"
    export.write_text(json.dumps([]), encoding="utf-8")
    out = io.StringIO()
    settings = unreachable(tmp_path, {"token": "x" * 20})
    assert await run_import_builtin(settings, str(export), dry_run=True, out=out) == 3
    assert out.getvalue().startswith("import failed: the master could not be used: MasterUnavailable: ")


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
