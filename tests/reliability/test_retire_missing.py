"""`scim-bridge reconcile --repair` retires user.missing mappings (a mapped user whose Determined user is gone),
as a write finding one does, and only on the master's own "user not found" for that id: a sick master or a
proxy's 404 retires nothing. The CLI entry point, the emulator over HTTP (through a fault proxy where a fault
is needed) and the SQLite store are real.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpServer

from bridge.__main__ import main
from bridge.determined import create_master_client
from bridge.reconcile import DriftKind, Mode, build_reconciler
from bridge.store import MemberRecord, UserFields, UserRecord
from tests.conftest import LogReader
from tests.provisioning.faults import Rule, start_proxy
from tests.reliability.configs import write_config
from tests.reliability.conftest import ADMIN_PASSWORD, World, client_settings

LOST_DET_ID = 987_654
EXIT_CLEAN = 0
EXIT_DRIFT = 1


async def _ghost(world: World, name: str = "ghost", det_id: int = LOST_DET_ID) -> UserRecord:
    return await world.store.insert_user(
        scim_id=str(uuid.uuid4()),
        det_id=det_id,
        fields=UserFields(
            name, None, "Ghost", True, {"userName": name, "displayName": "Ghost", "active": True}
        ),
    )


async def _cli(config: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    """`scim-bridge reconcile [flags]` as the operator runs it (its own event loop, so in a thread)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["reconcile", *flags, "-c", str(config)])
    return code, capsys.readouterr().out


async def test_dry_run_names_what_repair_retires_and_repair_retires_it(
    world: World, emulator_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = await world.user("alice")
    ghost = await _ghost(world)
    group = await world.group("team", [alice])
    await world.store.add_members(group, [MemberRecord(ghost.scim_id, display="ghost")])
    master = {"url": emulator_url, "username": "admin", "password": ADMIN_PASSWORD}
    config = write_config(tmp_path, Path(world.settings.database.path), emulator_url, master=master)

    code, output = await _cli(config, capsys, "--dry-run")
    assert code == EXIT_DRIFT
    assert f"would retire user {ghost.scim_id} (userName ghost; Determined user {LOST_DET_ID} gone)" in output
    # A dry run changes nothing.
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is not None

    code, output = await _cli(config, capsys, "--repair")
    assert code == EXIT_CLEAN, output
    assert f"retired user {ghost.scim_id} (userName ghost; Determined user {LOST_DET_ID} gone)" in output
    assert "1 repaired, 0 failed" in output
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is None
    tombstone = await world.store.get_user_by_scim_id(ghost.scim_id, include_tombstoned=True)
    assert tombstone is not None
    assert (tombstone.det_id, tombstone.user_name) == (LOST_DET_ID, "ghost")
    assert {m.member_scim_id for m in await world.store.list_members(group)} == {alice.scim_id}
    # Nothing is left, and a second pass has nothing to do.
    code, output = await _cli(config, capsys, "--repair")
    assert code == EXIT_CLEAN
    assert "0 drift(s)" in output
    assert await world.admin.get_user_by_username("ghost") is None


async def test_a_repair_pass_logs_each_retirement(world: World, captured_logs: LogReader) -> None:
    alice = await world.user("alice")
    ghost = await _ghost(world)
    group = await world.group("team", [alice])
    await world.store.add_members(group, [MemberRecord(ghost.scim_id, display="ghost")])
    report = await (await world.reconciler()).run(Mode.REPAIR)
    assert [(d.kind, d.scim_id) for d in report.repaired] == [(DriftKind.USER_MISSING, ghost.scim_id)]
    retired = [e for e in captured_logs() if e.get("event") == "user.missing_on_master"]
    assert [(e["kind"], e["scim_id"], e["det_id"], e["operation"], e["groups"]) for e in retired] == [
        ("user.missing", ghost.scim_id, LOST_DET_ID, "reconcile", [group])
    ]
    repaired = [e for e in captured_logs() if e.get("event") == "reconcile.repaired"]
    assert [(e["kind"], e["scim_id"]) for e in repaired] == [("user.missing", ghost.scim_id)]


async def test_a_report_pass_retires_nothing(world: World) -> None:
    ghost = await _ghost(world)
    report = await (await world.reconciler()).run(Mode.REPORT)
    assert [d.kind for d in report.drifts] == [DriftKind.USER_MISSING]
    assert report.repaired == ()
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is not None


@pytest.mark.parametrize(
    "fault",
    [
        Rule("GET", r"/api/v1/users/\d+", status=503, times=100),
        Rule("GET", r"/api/v1/users/\d+", status=404, text="404 page not found", times=100),
    ],
    ids=["master-unavailable", "proxy-404"],
)
async def test_only_the_masters_user_not_found_retires(
    world: World, emulator_url: str, aiohttp_server: AiohttpServer, fault: Rule
) -> None:
    """Mass retirement on a sick master is what the guard prevents: the sweep's listing says three mapped
    users are gone, but while the master cannot answer for each id (503), or something that is not the
    master's user lookup answers 404, every repair fails and every mapping stays live."""
    ghosts = [await _ghost(world, f"ghost{i}", LOST_DET_ID + i) for i in range(3)]
    # The ghosts are the whole directory: the share bound is off, so only the per-id answer stands between
    # the listing and a retirement.
    settings = dataclasses.replace(
        world.settings, reconcile=dataclasses.replace(world.settings.reconcile, max_retire_fraction=1.0)
    )
    proxy, server = await start_proxy(aiohttp_server, emulator_url)
    proxy.rules.append(fault)
    client = create_master_client(client_settings(str(server.make_url("")).rstrip("/")))
    try:
        reconciler = await build_reconciler(settings, world.store, client)
        report = await reconciler.run(Mode.REPAIR)
    finally:
        await client.close()
    assert [d.kind for d in report.drifts] == [DriftKind.USER_MISSING] * 3
    assert report.repaired == ()
    assert [d.scim_id for d in report.failed] == [g.scim_id for g in ghosts]
    for ghost in ghosts:
        assert await world.store.get_user_by_scim_id(ghost.scim_id) is not None
    # Once the master answers for itself, the same pass retires them.
    healed = await (await build_reconciler(settings, world.store, world.bridge)).run(Mode.REPAIR)
    assert [d.scim_id for d in healed.repaired] == [g.scim_id for g in ghosts]
