"""``scim-bridge bootstrap`` against the master emulator over real sockets: create, keep, repair, rotate."""

from __future__ import annotations

import asyncio
import io
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from pytest_aiohttp import AiohttpServer

from bridge.__main__ import main
from bridge.commands.bootstrap import BootstrapRequest, bootstrap
from bridge.commands.check import run_check
from bridge.config import parse_settings
from bridge.determined.client import DeterminedClient, create_master_client
from bridge.determined.errors import MasterUnauthorized, MasterUnavailable
from bridge.determined.settings import MasterClientSettings
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.log_fields import clear_log_fields

ADMIN_PASSWORD = "Adm1n-emulator-password"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` configures structlog for the process (onto capsys' stream): undo it for later tests."""
    yield
    structlog.reset_defaults()
    clear_log_fields()


@pytest.fixture
async def master_url(aiohttp_server: AiohttpServer) -> str:
    server = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password=ADMIN_PASSWORD)))
    return str(server.make_url("")).rstrip("/")


def _client(url: str, *, token: str | None = None) -> DeterminedClient:
    return create_master_client(
        MasterClientSettings(
            url=url,
            token=token,
            username=None if token else "admin",
            password=None if token else ADMIN_PASSWORD,
            connect_timeout=5.0,
            request_timeout=30.0,
            login_timeout=60.0,
            retries=0,
        )
    )


@pytest.fixture
async def admin(master_url: str) -> AsyncIterator[DeterminedClient]:
    client = _client(master_url)
    yield client
    await client.close()


def _request(
    url: str,
    token_file: Path,
    *,
    account: str = "scim-bridge",
    force_new_token: bool = False,
    wait: float = 0.0,
) -> BootstrapRequest:
    return BootstrapRequest(
        master_url=url,
        admin_user="admin",
        admin_password=ADMIN_PASSWORD,
        account=account,
        token_file=token_file,
        force_new_token=force_new_token,
        wait=wait,
    )


def _read(path: Path) -> str:
    return path.read_text().strip()


async def _whoami(url: str, token: str) -> str:
    client = _client(url, token=token)
    try:
        return (await client.me()).username
    finally:
        await client.close()


async def test_creates_account_and_token(master_url: str, admin: DeterminedClient, tmp_path: Path) -> None:
    token_file = tmp_path / "secrets" / "determined-token"
    result = await bootstrap(_request(master_url, token_file))
    assert result.account_created
    assert result.token_minted
    assert result.token_id is not None
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = _read(token_file)
    assert token.startswith("v2.public.")
    assert await _whoami(master_url, token) == "scim-bridge"
    account = await admin.get_user_by_username("scim-bridge")
    assert account is not None
    assert account.admin
    assert account.active
    assert not account.remote
    assert list(tmp_path.joinpath("secrets").iterdir()) == [token_file], "no temporary files left behind"


async def test_rerun_keeps_a_working_token(master_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "determined-token"
    first = await bootstrap(_request(master_url, token_file))
    token = _read(token_file)
    second = await bootstrap(_request(master_url, token_file))
    assert not second.account_created
    assert not second.token_minted
    assert second.user_id == first.user_id
    assert _read(token_file) == token


async def test_force_new_token_rotates(master_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "determined-token"
    await bootstrap(_request(master_url, token_file))
    old = _read(token_file)
    result = await bootstrap(_request(master_url, token_file, force_new_token=True))
    assert result.token_minted
    new = _read(token_file)
    assert new != old
    # Both work until the operator revokes the old one (docs/operations.md, credential rotation).
    assert await _whoami(master_url, old) == "scim-bridge"
    assert await _whoami(master_url, new) == "scim-bridge"


async def test_deactivated_account_is_repaired_and_token_replaced(
    master_url: str, admin: DeterminedClient, tmp_path: Path
) -> None:
    token_file = tmp_path / "determined-token"
    first = await bootstrap(_request(master_url, token_file))
    old = _read(token_file)
    # Deactivation revokes the account's access tokens (master-api.md §7.1).
    await admin.patch_user(first.user_id, active=False)
    with pytest.raises(MasterUnauthorized):
        await _whoami(master_url, old)
    result = await bootstrap(_request(master_url, token_file))
    assert result.account_repaired
    assert result.token_minted
    assert await _whoami(master_url, _read(token_file)) == "scim-bridge"


async def test_remote_account_is_refused(master_url: str, admin: DeterminedClient, tmp_path: Path) -> None:
    await admin.create_user("sso-person", display_name="", active=True, remote=True)
    with pytest.raises(ValueError, match="remote"):
        await bootstrap(_request(master_url, tmp_path / "t", account="sso-person"))
    assert not (tmp_path / "t").exists()


async def test_cli_end_to_end(
    master_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "determined-token"
    monkeypatch.setenv("DET_ADMIN_PASSWORD", ADMIN_PASSWORD)
    argv = ["bootstrap", f"--master-url={master_url}", f"--token-file={token_file}", "--wait=5"]
    assert await _run_main(argv) == 0
    out = capsys.readouterr()
    assert "service account 'scim-bridge'" in out.out
    assert "created" in out.out
    assert f"written to {token_file} (mode 0600)" in out.out
    assert _read(token_file) not in out.out + out.err
    assert ADMIN_PASSWORD not in out.out + out.err
    assert await _run_main(argv) == 0
    assert "still authenticates" in capsys.readouterr().out


async def test_cli_wrong_admin_password(
    master_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    password_file = tmp_path / "admin-password"
    password_file.write_text("not-the-password\n")
    argv = [
        "bootstrap", f"--master-url={master_url}", f"--token-file={tmp_path / 't'}",
        f"--admin-password-file={password_file}",
    ]  # fmt: skip
    assert await _run_main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("bootstrap failed:")
    assert "not-the-password" not in err
    assert not (tmp_path / "t").exists()


async def test_cli_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DET_MASTER", raising=False)
    assert await _run_main(["bootstrap", f"--token-file={tmp_path / 't'}"]) == 2
    assert "--master-url" in capsys.readouterr().err


async def _run_main(argv: list[str]) -> int:
    """``main`` calls asyncio.run, which cannot nest in the test's loop: run it in a worker thread."""
    return await asyncio.to_thread(main, argv)


async def test_wait_gives_up_on_an_unreachable_master(tmp_path: Path) -> None:
    with pytest.raises(MasterUnavailable, match=r"did not answer within 0\.2 s"):
        await bootstrap(_request("http://127.0.0.1:9", tmp_path / "t", wait=0.2))
    assert not (tmp_path / "t").exists()


async def test_bridge_runs_on_the_bootstrapped_token(master_url: str, tmp_path: Path) -> None:
    """The compose flow: bootstrap writes the file, the bridge's config reads it via master.token_file."""
    token_file = tmp_path / "determined-token"
    await bootstrap(_request(master_url, token_file))
    raw = {
        "scim": {"auth": {"type": "basic", "username": "okta", "password": "okta-password-123"}},
        "master": {"url": master_url},
        "database": {"path": str(tmp_path / "bridge.db")},
    }
    environ = {"SCIM_BRIDGE_MASTER__TOKEN_FILE": str(token_file)}
    settings = parse_settings(raw, environ=environ, base_dir=tmp_path)
    out = io.StringIO()
    assert await run_check(settings, out=out) == 0, out.getvalue()
    assert "bridge credential accepted (user 'scim-bridge'" in out.getvalue()
