"""``scim-bridge check`` against an unreachable master and against the emulator."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from pathlib import Path

from pytest_aiohttp import AiohttpServer

from bridge.commands.check import run_check
from bridge.config import parse_settings
from bridge.emulator import EmulatorConfig, create_emulator_app
from tests.determined.test_transport import redirecting, serving

SCIM = {"auth": {"type": "basic", "username": "determined", "password": "password"}}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_check_reports_unreachable_master() -> None:
    settings = parse_settings(
        {
            "scim": SCIM,
            "master": {"url": f"http://127.0.0.1:{closed_port()}", "token": "x" * 20, "retries": 0},
        },
        {},
    )
    out = io.StringIO()
    assert await run_check(settings, out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "ok   configuration is valid"
    assert lines[1].startswith("FAIL master reachable at http://127.0.0.1:")


async def test_check_says_the_master_redirects_and_which_master_url_to_set() -> None:
    async with serving(redirecting()) as server:
        settings = parse_settings({"scim": SCIM, "master": {"url": server.url, "token": "x" * 20}}, {})
        out = io.StringIO()
        assert await run_check(settings, out) == 1
    assert out.getvalue().splitlines()[1] == (
        f"FAIL master reachable at {server.url}: master answered 301 redirect to "
        "https://master.example:8443/api/v1/master; the bridge does not follow redirects: "
        "set master.url to https://master.example:8443"
    )


def test_check_cli_exit_status_on_unreachable_master(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "scim: {auth: {type: basic, username: determined, password: password}}\n"
        f"master: {{url: 'http://127.0.0.1:{closed_port()}', token: abcdefghijklmnopqrst, retries: 0}}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "FAIL master reachable" in result.stdout
    assert "abcdefghijklmnopqrst" not in result.stdout + result.stderr


async def test_check_passes_against_emulator_and_flags_non_admin(aiohttp_server: AiohttpServer) -> None:
    emulator = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password="pw-for-check")))
    url = str(emulator.make_url("")).rstrip("/")
    admin = parse_settings(
        {"scim": SCIM, "master": {"url": url, "username": "admin", "password": "pw-for-check"}}, {}
    )
    out = io.StringIO()
    assert await run_check(admin, out) == 0, out.getvalue()
    assert "ok   bridge account has admin rights" in out.getvalue()
    assert "pw-for-check" not in out.getvalue()

    plain = parse_settings(
        {"scim": SCIM, "master": {"url": url, "username": "determined", "password": "pw-for-check"}}, {}
    )
    out = io.StringIO()
    assert await run_check(plain, out) == 1
    assert "FAIL bridge account has admin rights" in out.getvalue()

    wrong = parse_settings(
        {"scim": SCIM, "master": {"url": url, "username": "admin", "password": "nope"}}, {}
    )
    out = io.StringIO()
    assert await run_check(wrong, out) == 1
    assert "FAIL bridge credential accepted by the master" in out.getvalue()
