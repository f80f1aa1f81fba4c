"""Contract tests: the official `det` 0.38.1 CLI, as a subprocess, against the emulator.

Non-interactive login is DET_USER + DET_PASS (contract §10); HOME points at a temp dir so the CLI's
token cache never touches the real home. Group commands need an RBAC-reporting master.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_aiohttp import AiohttpClient

from bridge.emulator import EmulatorConfig
from tests.emulator.conftest import Master, start_master

DET = str(Path(sys.executable).parent / "det")


@dataclass(frozen=True, slots=True)
class Run:
    """Exit status and output of one CLI invocation."""

    code: int
    out: str
    err: str


async def det(
    master: Master, home: Path, *args: str, stdin: str = "", user: str = "admin", password: str = ""
) -> Run:
    """Run `det -m <emulator> ARGS` with non-interactive credentials."""
    env = {
        **os.environ,
        "HOME": str(home),
        "DET_USER": user,
        "DET_PASS": password,
        "DET_MASTER": f"http://127.0.0.1:{master.client.port}",
    }
    proc = await asyncio.create_subprocess_exec(
        DET,
        "-m",
        env["DET_MASTER"],
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate(stdin.encode())
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def _ok(run: Run) -> str:
    assert run.code == 0, run.err
    return run.out


async def test_cli_users(aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    master = await start_master(aiohttp_client)
    listing = _ok(await det(master, tmp_path, "user", "list"))
    assert "admin" in listing
    assert "determined" in listing
    _ok(await det(master, tmp_path, "user", "create", "alice", "--password", "Passw0rdX"))
    _ok(await det(master, tmp_path, "user", "create", "sso@example.com", "--remote"))
    assert master.state.user_by_name("sso@example.com") is not None
    assert "alice" in _ok(await det(master, tmp_path, "user", "list"))
    _ok(await det(master, tmp_path, "user", "edit", "alice", "--display-name", "Alice A"))
    alice = master.state.user_by_name("alice")
    assert alice is not None
    assert alice.display_name == "Alice A"
    assert "alice" in _ok(
        await det(master, tmp_path / "alice", "user", "whoami", user="alice", password="Passw0rdX")
    )
    _ok(await det(master, tmp_path, "user", "change-password", "alice", stdin="N3wPassw0rd\nN3wPassw0rd\n"))
    _ok(await det(master, tmp_path / "alice2", "user", "whoami", user="alice", password="N3wPassw0rd"))
    _ok(await det(master, tmp_path, "user", "edit", "alice", "--active", "false"))
    alice = master.state.user_by_name("alice")
    assert alice is not None
    assert alice.active is False
    assert "alice" not in _ok(await det(master, tmp_path, "user", "list"))
    _ok(await det(master, tmp_path, "user", "activate", "alice"))
    _ok(await det(master, tmp_path, "user", "rename", "alice", "alicia"))
    assert "alicia" in _ok(await det(master, tmp_path, "user", "list"))


async def test_cli_groups(aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    master = await start_master(aiohttp_client, EmulatorConfig(rbac=True))
    _ok(await det(master, tmp_path, "user", "create", "alice", "--password", "Passw0rdX"))
    _ok(await det(master, tmp_path, "user-group", "create", "team", "--add-user", "alice"))
    assert "team" in _ok(await det(master, tmp_path, "user-group", "list"))
    assert "alice" in _ok(await det(master, tmp_path, "user-group", "describe", "team"))
    _ok(await det(master, tmp_path, "user-group", "add-user", "team", "determined"))
    _ok(await det(master, tmp_path, "user-group", "remove-user", "team", "alice"))
    _ok(await det(master, tmp_path, "user-group", "change-name", "team", "crew"))
    described = _ok(await det(master, tmp_path, "user-group", "describe", "crew"))
    assert "determined" in described
    assert "alice" not in described
    _ok(await det(master, tmp_path, "user-group", "delete", "crew", "--yes"))
    assert "crew" not in _ok(await det(master, tmp_path, "user-group", "list"))
    assert set(master.state.groups_by_name) == {
        "1DeterminedPersonalGroup",
        "2DeterminedPersonalGroup",
        "3DeterminedPersonalGroup",
    }


async def test_cli_tokens(aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    master = await start_master(aiohttp_client)
    made = json.loads(
        _ok(await det(master, tmp_path, "token", "create", "determined", "--description", "cli", "--json"))
    )
    token_id = made["tokenId"]
    assert "cli" in _ok(await det(master, tmp_path, "token", "list"))
    _ok(await det(master, tmp_path, "token", "edit", str(token_id), "--description", "renamed"))
    assert master.state.sessions[token_id].description == "renamed"
    _ok(await det(master, tmp_path, "token", "revoke", str(token_id)))
    assert master.state.sessions[token_id].revoked_at is not None
