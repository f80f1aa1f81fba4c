"""The mass-retirement guard: a repair pass that finds more user.missing mappings than ``reconcile.max_retire``,
or than ``reconcile.max_retire_fraction`` of the mapped users, retires none of them (and changes nothing else on
that master), says so, and exits non-zero.

The scenario is the one the guard exists for: the bridge pointed at a wrong but healthy master (here a second,
fresh emulator, as a freshly reset master database that still has the bridge's account would be), so every
mapped user's Determined user is really "not found". The CLI entry point, the bridge app over HTTP, both
emulators over HTTP and the SQLite store are real.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.__main__ import main
from bridge.config import (
    ConfigError,
    DatabaseSettings,
    MasterSettings,
    ReconcileSettings,
    Secret,
    Settings,
    parse_settings,
)
from bridge.determined import create_master_client
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.provisioning.consistency import digest
from bridge.reconcile import RetireGuard
from bridge.store import IntentState, open_store
from bridge.web.keys import SETTINGS
from tests.conftest import LogReader
from tests.idp.harness import ADMIN_PASSWORD, World, start_world
from tests.idp.master_view import MasterView
from tests.polling import until
from tests.provisioning.scim import call, create_user
from tests.reliability.configs import write_config
from tests.reliability.conftest import ADMIN_PASSWORD as RELIABILITY_PASSWORD
from tests.reliability.conftest import World as StoreWorld
from tests.reliability.conftest import client_settings

EXIT_CLEAN = 0
EXIT_DRIFT = 1
USERS = 3


async def _wrong_master(aiohttp_server: AiohttpServer, password: str = ADMIN_PASSWORD) -> str:
    """A healthy master that never saw the bridge's users (a reset or foreign database)."""
    server = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password=password)))
    return str(server.make_url("")).rstrip("/")


async def _provisioned(world: World, count: int = USERS) -> list[str]:
    """SCIM ids of users the IdP created through the bridge on its own master."""
    return [(await create_user(world, f"user{i}@example.com", f"User {i}"))["id"] for i in range(count)]


def _config(world: World, tmp_path: Path, master_url: str, max_retire: int, **reconcile: object) -> Path:
    master = {"url": master_url, "username": "admin", "password": ADMIN_PASSWORD}
    database = Path(world.app[SETTINGS].database.path)
    return write_config(
        tmp_path, database, master_url, master=master, reconcile={"max_retire": max_retire, **reconcile}
    )


async def _cli(config: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    """`scim-bridge reconcile [flags]` as the operator runs it (its own event loop, so in a thread)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["reconcile", *flags, "-c", str(config)])
    return code, capsys.readouterr().out


async def _statuses(world: World, scim_ids: list[str]) -> list[int]:
    return [(await call(world, "GET", f"/Users/{scim_id}")).status for scim_id in scim_ids]


@pytest.fixture
async def world(aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path) -> World:
    return await start_world(aiohttp_server, aiohttp_client, tmp_path)


async def test_above_the_bound_nothing_is_retired_and_the_operator_is_told_why(
    world: World, aiohttp_server: AiohttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = await _provisioned(world)
    wrong = await _wrong_master(aiohttp_server)
    wrong_view = MasterView(wrong, "admin", ADMIN_PASSWORD)
    wrong_before = await wrong_view.state()
    config = _config(world, tmp_path, wrong, max_retire=USERS - 1)

    code, output = await _cli(config, capsys, "--dry-run")
    assert code == EXIT_DRIFT
    assert "REFUSED: 3 mapped users' Determined users are gone, more than reconcile.max_retire (2)" in output
    assert "--repair would repair nothing" in output

    code, output = await _cli(config, capsys, "--repair")
    assert code == EXIT_DRIFT, output
    assert "0 repaired, 3 failed" in output
    for scim_id in users:
        assert f"refused to retire user {scim_id} " in output
    assert "retired user" not in output
    assert "REFUSED: 3 mapped users' Determined users are gone, more than reconcile.max_retire (2)" in output
    assert "Check that master.url is the Determined master these users were provisioned on" in output
    assert "--allow-mass-retire" in output
    assert "raise reconcile.max_retire" in output
    # Nothing changed: the IdP still reads every user, the store keeps every mapping, the master is untouched.
    assert await _statuses(world, users) == [200] * USERS
    for scim_id in users:
        assert await world.store.get_user_by_scim_id(scim_id) is not None
    assert await wrong_view.state() == wrong_before


async def test_a_refused_pass_leaves_pending_intents_for_the_right_master(
    world: World, aiohttp_server: AiohttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The guard is decided before the pass changes anything, intent resolution included: judged against the
    wrong master, which lacks its user, a crashed create would be rolled back, and the IdP's retry would then
    create a second Determined user on the right one. The intent waits for a pass against a master it can
    trust (here the override's, which resolves it first)."""
    await _provisioned(world)
    intent = await world.store.begin_intent(
        request_id="crashed",
        operation="create",
        resource_type="User",
        target=str(uuid.uuid4()),
        payload_digest=digest({"username": "late@example.com"}),
    )
    wrong = await _wrong_master(aiohttp_server)
    wrong_view = MasterView(wrong, "admin", ADMIN_PASSWORD)
    wrong_before = await wrong_view.state()
    config = _config(world, tmp_path, wrong, max_retire=USERS - 1, intent_grace=0)

    code, output = await _cli(config, capsys, "--repair")
    assert code == EXIT_DRIFT, output
    assert "REFUSED: 3 mapped users' Determined users are gone" in output
    assert [(p.id, p.state) for p in await world.store.pending_intents()] == [(intent, IntentState.PENDING)]
    assert await wrong_view.state() == wrong_before

    code, output = await _cli(config, capsys, "--repair", "--allow-mass-retire")
    assert code == EXIT_CLEAN, output
    assert await world.store.pending_intents() == []


async def test_the_override_retires_them(
    world: World, aiohttp_server: AiohttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = await _provisioned(world)
    config = _config(world, tmp_path, await _wrong_master(aiohttp_server), max_retire=USERS - 1)

    code, output = await _cli(config, capsys, "--repair", "--allow-mass-retire")
    assert code == EXIT_CLEAN, output
    assert "3 repaired, 0 failed" in output
    assert "REFUSED" not in output
    for scim_id in users:
        assert f"retired user {scim_id} " in output
        assert await world.store.get_user_by_scim_id(scim_id) is None
        assert await world.store.get_user_by_scim_id(scim_id, include_tombstoned=True) is not None
    assert await _statuses(world, users) == [404] * USERS


async def test_at_the_bound_a_pass_retires_as_before(
    world: World, aiohttp_server: AiohttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = await _provisioned(world)
    # The whole (tiny) directory is gone: only the count is under test here, so the share allows it all.
    config = _config(
        world, tmp_path, await _wrong_master(aiohttp_server), max_retire=USERS, max_retire_fraction=1.0
    )

    code, output = await _cli(config, capsys, "--repair")
    assert code == EXIT_CLEAN, output
    assert "3 repaired, 0 failed" in output
    assert "REFUSED" not in output
    assert await _statuses(world, users) == [404] * USERS


async def test_a_small_directory_is_protected_by_the_share_of_mapped_users(
    world: World, aiohttp_server: AiohttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the default bounds (10, a quarter), a directory of three users all "gone" on a wrong master is under
    the count but far over the share: the pass retires none and says which bound, and what to raise."""
    users = await _provisioned(world)
    wrong = await _wrong_master(aiohttp_server)
    wrong_view = MasterView(wrong, "admin", ADMIN_PASSWORD)
    wrong_before = await wrong_view.state()
    master = {"url": wrong, "username": "admin", "password": ADMIN_PASSWORD}
    config = write_config(tmp_path, Path(world.app[SETTINGS].database.path), wrong, master=master)
    refused = (
        "REFUSED: 3 mapped users' Determined users are gone, more than reconcile.max_retire_fraction (0.25) "
        "of the 3 mapped in one pass"
    )

    code, output = await _cli(config, capsys, "--dry-run")
    assert code == EXIT_DRIFT
    assert refused in output
    assert "--repair would repair nothing" in output

    code, output = await _cli(config, capsys, "--repair")
    assert code == EXIT_DRIFT, output
    assert "0 repaired, 3 failed" in output
    assert refused in output
    assert "raise reconcile.max_retire_fraction" in output
    assert "retired user" not in output
    assert await _statuses(world, users) == [200] * USERS
    assert await wrong_view.state() == wrong_before

    code, output = await _cli(config, capsys, "--repair", "--allow-mass-retire")
    assert code == EXIT_CLEAN, output
    assert await _statuses(world, users) == [404] * USERS


@pytest.mark.parametrize(
    ("max_retire", "fraction", "missing", "mapped", "bound"),
    [
        pytest.param(10, 0.25, 1, 1, None, id="one-is-the-floor"),
        pytest.param(10, 0.25, 2, 2, "reconcile.max_retire_fraction", id="two-of-two"),
        pytest.param(10, 0.25, 2, 8, None, id="a-quarter"),
        pytest.param(10, 0.25, 3, 8, "reconcile.max_retire_fraction", id="over-a-quarter"),
        pytest.param(10, 0.25, 10, 40, None, id="both-at-their-bound"),
        pytest.param(10, 0.25, 11, 1000, "reconcile.max_retire", id="count-first"),
        pytest.param(10, 0.25, 11, 20, "reconcile.max_retire", id="count-before-share"),
        pytest.param(0, 0.25, 1, 100, "reconcile.max_retire", id="zero-refuses-one"),
        pytest.param(10, 1.0, 3, 3, None, id="share-off"),
        pytest.param(10, 0.0, 1, 3, None, id="share-zero-keeps-the-floor"),
        pytest.param(10, 0.0, 2, 100, "reconcile.max_retire_fraction", id="share-zero"),
        pytest.param(None, None, 500, 500, None, id="override"),
    ],
)
def test_the_guard_is_a_pure_decision_on_the_count_and_the_share(
    max_retire: int | None, fraction: float | None, missing: int, mapped: int, bound: str | None
) -> None:
    refusal = RetireGuard(max_retire, fraction).refusal(missing, mapped)
    assert (refusal.setting if refusal is not None else None) == bound


async def test_the_refusal_is_one_error_event_with_the_count_and_the_bound(
    emulator_url: str,
    aiohttp_server: AiohttpServer,
    tmp_path: Path,
    captured_logs: LogReader,
) -> None:
    """The background pass (policy idp_wins, interval > 0) builds its reconciler from the same settings, so it
    honours the bound too; and the refusal is logged once, without secrets."""
    settings = Settings(
        master=MasterSettings(url=emulator_url, username="admin", password=Secret(RELIABILITY_PASSWORD)),
        database=DatabaseSettings(path=str(tmp_path / "bridge.db")),
        reconcile=ReconcileSettings(interval=0.05, max_retire=USERS - 1),
    )
    store = await open_store(tmp_path / "bridge.db")
    own = create_master_client(client_settings(emulator_url))
    wrong = await _wrong_master(aiohttp_server, RELIABILITY_PASSWORD)
    client = create_master_client(client_settings(wrong))
    world = StoreWorld(store=store, bridge=own, admin=own, settings=settings)
    try:
        users = [await world.user(f"user{i}") for i in range(USERS)]
        wrong_view = MasterView(wrong, "admin", RELIABILITY_PASSWORD)
        wrong_before = await wrong_view.state()
        server = await world.serve_reconciling(aiohttp_server, master=client)
        # Wait for the first full pass to finish (an event, not a duration).
        await until(
            lambda: any(e.get("event") == "reconcile.summary" for e in captured_logs()),
            "the background pass never finished",
        )
        await server.close()
        events = captured_logs()
        [summary, *_] = [e for e in events if e.get("event") == "reconcile.summary"]
        assert (summary["mode"], summary["refused"], summary["repaired"]) == ("repair", True, 0)
        refusals = [e for e in events if e.get("event") == "reconcile.retire_refused"]
        assert refusals, events
        assert (refusals[0]["level"], refusals[0]["missing"], refusals[0]["max_retire"]) == (
            "error",
            USERS,
            2,
        )
        assert (refusals[0]["bound"], refusals[0]["max_retire_fraction"], refusals[0]["users_checked"]) == (
            "reconcile.max_retire",
            0.25,
            USERS,
        )
        assert RELIABILITY_PASSWORD not in captured_logs.raw()
        assert not [e for e in events if e.get("event") == "user.missing_on_master"]
        for user in users:
            assert await world.store.get_user_by_scim_id(user.scim_id) is not None
        assert await wrong_view.state() == wrong_before
    finally:
        await client.close()
        await own.close()
        await store.close()


@pytest.mark.parametrize("value", [-1, "many", 1.5])
def test_max_retire_is_validated(value: object) -> None:
    raw = {
        "scim": {"auth": {"type": "basic", "username": "idp", "password": "idp-password"}},
        "master": {"url": "http://127.0.0.1:9", "token": "t" * 20},
        "reconcile": {"max_retire": value},
    }
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, environ={})
    assert any(p.startswith("reconcile.max_retire:") for p in caught.value.problems)


def test_max_retire_defaults_to_ten() -> None:
    raw = {
        "scim": {"auth": {"type": "basic", "username": "idp", "password": "idp-password"}},
        "master": {"url": "http://127.0.0.1:9", "token": "t" * 20},
    }
    assert parse_settings(raw, environ={}).reconcile.max_retire == 10


@pytest.mark.parametrize("value", [-0.1, 1.5, "many", True, float("nan")])
def test_max_retire_fraction_is_validated(value: object) -> None:
    raw = {
        "scim": {"auth": {"type": "basic", "username": "idp", "password": "idp-password"}},
        "master": {"url": "http://127.0.0.1:9", "token": "t" * 20},
        "reconcile": {"max_retire_fraction": value},
    }
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, environ={})
    assert any(p.startswith("reconcile.max_retire_fraction:") for p in caught.value.problems)


def test_max_retire_fraction_defaults_to_a_quarter_and_takes_0_and_1() -> None:
    raw: dict[str, object] = {
        "scim": {"auth": {"type": "basic", "username": "idp", "password": "idp-password"}},
        "master": {"url": "http://127.0.0.1:9", "token": "t" * 20},
    }
    assert parse_settings(raw, environ={}).reconcile.max_retire_fraction == 0.25
    for value in (0, 1, 0.5):
        raw["reconcile"] = {"max_retire_fraction": value}
        assert parse_settings(raw, environ={}).reconcile.max_retire_fraction == value
