"""A wrong master whose own users and groups hold the ids the mappings hold: the guard counts renames too.

A fresh or foreign master numbers its users and groups from the start again, as the right one did, so its own
accounts can sit under the very ids the mappings hold. The sweep then sees user.renamed / group.renamed, not
user.missing / group.deleted, and before the fix the retire guard counted none of them: the default pass (and the
background pass under idp_wins) renamed the wrong master's "stranger" to "alice" and its group "ops" to "team0",
handing the IdP's names to foreign accounts, with no refusal. Renames now count with the gone ones of the same
resource toward the same bound. Both emulators over HTTP, the SQLite store, the reconcile context on a socket and
the CLI are real.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from bridge.__main__ import main
from bridge.commands.refusal import print_refusal
from bridge.metrics import MetricsRecorder
from bridge.reconcile import Mode, RetireGuard
from bridge.reconcile.drift import DriftKind
from bridge.reconcile.guard import GROUPS
from bridge.reconcile.refusal_log import ThrottledRefusalLog
from bridge.store import UserFields, UserRecord
from tests.conftest import LogReader
from tests.polling import until
from tests.reliability.configs import write_config
from tests.reliability.conftest import ADMIN_PASSWORD, World, WrongMaster
from tests.reliability.passes import periodic

EXIT_DRIFT = 1
NAMES = ("alice", "bob", "carol")
STRANGERS = ("stranger", "visitor", "guest")
LOST_DET_ID = 99


async def _colliding_users(world: World, wrong: WrongMaster) -> None:
    """alice, bob and carol are users 3, 4, 5 on the right master; the wrong master's own three users get the
    same ids (both number from 3, after the two built-in accounts)."""
    mapped = [await world.user(name) for name in NAMES]
    strangers = [await wrong.client.create_user(name, name.title(), True) for name in STRANGERS]
    assert [u.det_id for u in mapped] == [s.id for s in strangers]


async def _colliding_groups(world: World, wrong: WrongMaster) -> None:
    """team0, team1, team2 are groups 3, 4, 5 on the right master. On the wrong master one user's personal group
    takes 3 (team0 is gone there: a personal group is no group), and its own ops and dev take 4 and 5."""
    for name in ("team0", "team1", "team2"):
        await world.group(name)
    await wrong.client.create_user("stranger", "Stranger", True)
    assert [(await wrong.client.create_group(name)).id for name in ("ops", "dev")] == [4, 5]


async def _lost(world: World) -> UserRecord:
    """A live mapping whose Determined user the master does not have (user.missing)."""
    doc = {"userName": "lost", "displayName": "Lost", "active": True}
    fields = UserFields(user_name="lost", external_id=None, display_name="Lost", active=True, doc=doc)
    return await world.store.insert_user(scim_id=str(uuid.uuid4()), det_id=LOST_DET_ID, fields=fields)


async def _rename(world: World, det_id: int, username: str) -> None:
    """What an admin does in the UI to rename a remote user: the two-call flip (master-api.md §7.2)."""
    password = secrets.token_urlsafe(32)
    await world.admin.patch_user(det_id, active=True, username=username, remote=False, password=password)
    await world.admin.patch_user(det_id, active=True, remote=True)


def _config(world: World, tmp_path: Path, wrong: WrongMaster) -> Path:
    master = {"url": wrong.url, "username": "admin", "password": ADMIN_PASSWORD}
    return write_config(tmp_path, Path(world.settings.database.path), wrong.url, master=master)


async def _cli(config: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["reconcile", *flags, "-c", str(config)])
    return code, capsys.readouterr().out


def _refusals(captured_logs: LogReader, path: str) -> list[dict[str, Any]]:
    return [
        e for e in captured_logs() if e.get("event") == "reconcile.retire_refused" and e.get("path") == path
    ]


async def test_the_background_pass_refuses_to_rename_a_wrong_masters_users(
    world: World, wrong: WrongMaster, aiohttp_server: AiohttpServer, captured_logs: LogReader, tmp_path: Path
) -> None:
    """Before the fix the first background pass renamed stranger, visitor and guest to alice, bob and carol."""
    await _colliding_users(world, wrong)
    before = await wrong.view.state()
    metrics = MetricsRecorder(str(tmp_path / "bridge.db"))
    world = World(world.store, world.bridge, world.admin, periodic(world.settings))

    server = await world.serve_reconciling(aiohttp_server, master=wrong.client, metrics=metrics)
    try:
        await until(
            lambda: bool(_refusals(captured_logs, "pass")), "the background loop did not get there in time"
        )
    finally:
        await server.close()

    [refused, *_] = _refusals(captured_logs, "pass")
    fields = ("level", "resource", "missing", "renamed", "counted", "users_checked", "bound")
    assert {k: refused[k] for k in fields} == {
        "level": "error",
        "resource": "User",
        "missing": 0,
        "renamed": 3,
        "counted": 3,
        "users_checked": 3,
        "bound": "reconcile.max_retire_fraction",
    }
    assert metrics.registry.get_sample_value("scim_bridge_reconcile_refused", {"path": "pass"}) == 3
    assert "reconcile.repaired" not in [e["event"] for e in captured_logs()]
    assert await wrong.view.state() == before
    assert sorted(before.users) == sorted(["admin", "determined", *STRANGERS])


@pytest.mark.usefixtures("reset_logging")
async def test_the_cli_says_the_users_are_renamed_and_repairs_nothing(
    world: World, wrong: WrongMaster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _colliding_users(world, wrong)
    before = await wrong.view.state()

    code, output = await _cli(_config(world, tmp_path, wrong), capsys, "--repair")

    assert code == EXIT_DRIFT, output
    assert (
        "REFUSED: 3 mapped users' Determined users hold another userName on the master and would be renamed "
        "back, more than reconcile.max_retire_fraction (0.25) of the 3 mapped in one pass; repaired nothing."
    ) in output
    assert (
        "If they really are gone or renamed, run `scim-bridge reconcile --repair --allow-mass-retire`"
        in output
    )
    assert await wrong.view.state() == before


@pytest.mark.usefixtures("reset_logging")
async def test_renamed_groups_count_with_the_gone_ones(
    world: World, wrong: WrongMaster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One group gone is within the bound on its own (one is always allowed); with the two the wrong master
    holds under other names it is three of three. Before the fix the pass re-created team0 and renamed ops and
    dev to team1 and team2."""
    await _colliding_groups(world, wrong)
    before = await wrong.view.state()

    code, output = await _cli(_config(world, tmp_path, wrong), capsys, "--repair")

    assert code == EXIT_DRIFT, output
    assert (
        "REFUSED: 1 mapped groups are gone and would be re-created, and 2 more hold another name on the master "
        "and would be renamed back, more than reconcile.max_retire_fraction (0.25) of the 3 mapped in one pass"
    ) in output
    assert await wrong.view.state() == before
    assert sorted(before.groups) == ["dev", "ops"]


async def test_below_the_bound_a_rename_and_a_lost_user_are_still_repaired(world: World) -> None:
    """On the right master an admin renames one of eight users and one user is gone: two of eight is the
    share's bound, so the pass renames the one back and retires the other, as before."""
    users = [await world.user(f"user{i}") for i in range(7)]
    lost = await _lost(world)
    await _rename(world, users[0].det_id, "user0.renamed")

    report = await (await world.reconciler()).run(Mode.REPAIR)

    assert not report.refused
    assert {(d.kind, d.scim_id) for d in report.repaired} == {
        (DriftKind.USER_RENAMED, users[0].scim_id),
        (DriftKind.USER_MISSING, lost.scim_id),
    }
    assert (await world.admin.get_user(users[0].det_id)).username == "user0"


async def test_one_more_rename_past_the_bound_is_refused_on_the_right_master(world: World) -> None:
    """The same eight users with a second rename: three of eight, past the share; nothing is repaired."""
    users = [await world.user(f"user{i}") for i in range(7)]
    await _lost(world)
    for user in users[:2]:
        await _rename(world, user.det_id, f"{user.user_name}.x")

    report = await (await world.reconciler()).run(Mode.REPAIR)

    assert report.refused
    assert report.refusal is not None
    assert (report.refusal.missing, report.refusal.renamed, report.refusal.counted) == (1, 2, 3)
    assert report.repaired == ()
    assert (await world.admin.get_user(users[0].det_id)).username == "user0.x"


def test_the_throttled_log_tells_a_change_in_renames_at_once(captured_logs: LogReader) -> None:
    """The background loop logs a lasting refusal again only when it changes: the same counted total split
    differently between gone and renamed groups is a change (the master changed under it)."""
    log = ThrottledRefusalLog(repeat_after=3600.0)
    guard = RetireGuard(max_retire=1)
    first = guard.refusal(0, 3, GROUPS, renamed=3)
    shifted = guard.refusal(1, 3, GROUPS, renamed=2)
    assert first is not None
    assert shifted is not None

    for refusal in (first, first, shifted, shifted):
        log.outcome("pass", refusal)

    lines = _refusals(captured_logs, "pass")
    assert [(e["missing"], e["renamed"], e["counted"], e["recreated"]) for e in lines] == [
        (0, 3, 3, 0),
        (1, 2, 3, 1),
    ]


def test_the_refused_line_tells_gone_and_renamed_users_apart() -> None:
    """Both kinds at once: the line gives the total the bound was held to, then each part."""
    refusal = RetireGuard(max_retire=2).refusal(1, 8, renamed=2)
    assert refusal is not None
    out = io.StringIO()

    print_refusal(refusal, "repaired nothing", out)

    assert out.getvalue().startswith(
        "REFUSED: 3 mapped users' Determined users are gone or renamed: 1 are gone and 2 hold another userName on "
        "the master and would be renamed back, more than reconcile.max_retire (2) in one pass; repaired nothing.\n"
    )
    assert RetireGuard(max_retire=2).refusal(1, 8, renamed=1) is None
