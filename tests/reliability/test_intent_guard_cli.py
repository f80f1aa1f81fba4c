"""The retirement guard on the command line's intent resolution: `scim-bridge adopt` (and `import-builtin`) settle
pending write intents before adopting, and `reconcile --repair` before repairing. Against a wrong but healthy master
(a second, fresh emulator) the deletes among them would retire every mapping they name: the commands resolve none,
print the `REFUSED:` lines and exit 1, until `reconcile --repair --allow-mass-retire` confirms the loss. The CLI
entry point, the bridge app over HTTP, both emulators over HTTP and the SQLite store are real."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.__main__ import main
from bridge.provisioning.consistency import digest
from bridge.store import IntentState
from tests.idp.harness import ADMIN_PASSWORD, World, start_world
from tests.idp.master_view import MasterView
from tests.reliability.test_retire_guard import USERS, _config, _provisioned, _statuses, _wrong_master

pytestmark = pytest.mark.usefixtures("reset_logging")

EXIT_CLEAN = 0
EXIT_REFUSED = 1


async def _cli(config: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """`scim-bridge ARGV -c CONFIG` as the operator runs it (its own event loop, so in a thread)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, [*argv, "-c", str(config)])
    return code, capsys.readouterr().out


@pytest.fixture
async def world(aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path) -> World:
    return await start_world(aiohttp_server, aiohttp_client, tmp_path)


async def _deletes_pending(world: World, users: list[str]) -> list[tuple[int, IntentState]]:
    """A DELETE journalled for each user (then the crash, before the master saw it); the pending journal."""
    for scim_id in users:
        record = await world.store.get_user_by_scim_id(scim_id)
        assert record is not None
        await world.store.begin_intent(
            request_id="crashed",
            operation="delete",
            resource_type="User",
            target=scim_id,
            payload_digest=digest({"det_id": record.det_id, "groups": []}),
        )
    return [(i.id, i.state) for i in await world.store.pending_intents()]


async def test_adopt_resolves_no_intent_the_guard_refuses_and_the_override_settles_them(
    world: World, aiohttp_server: AiohttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the fix `adopt` completed the three deletes against the wrong master (every mapping tombstoned,
    the IdP's reads 404) and went on adopting there, exit 0."""
    users = await _provisioned(world)
    pending = await _deletes_pending(world, users)
    wrong = await _wrong_master(aiohttp_server)
    wrong_view = MasterView(wrong, "admin", ADMIN_PASSWORD)
    wrong_before = await wrong_view.state()
    config = _config(world, tmp_path, wrong, max_retire=USERS - 1, intent_grace=0)

    for command in ("adopt", "import-builtin"):
        export = tmp_path / "export.json"
        export.write_text("[]", encoding="utf-8")
        argv = [command] if command == "adopt" else [command, str(export)]
        code, output = await _cli(config, capsys, *argv)
        assert code == EXIT_REFUSED, output
        assert (
            "REFUSED: 3 mapped users' Determined users are gone, more than reconcile.max_retire (2) in one pass; "
            "resolved no pending write intent."
        ) in output
        assert "Check that master.url is the Determined master" in output
        assert "`scim-bridge reconcile --repair --allow-mass-retire`" in output
        assert "3 write intent(s) still pending" in output
        # Nothing changed: the mappings, the journal, what the IdP reads, the master.
        assert [(i.id, i.state) for i in await world.store.pending_intents()] == pending
        assert await _statuses(world, users) == [200] * USERS
        assert await wrong_view.state() == wrong_before

    code, output = await _cli(config, capsys, "reconcile", "--repair")
    assert code == EXIT_REFUSED, output
    assert "REFUSED: 3 mapped users' Determined users are gone" in output
    assert [(i.id, i.state) for i in await world.store.pending_intents()] == pending

    code, output = await _cli(config, capsys, "reconcile", "--repair", "--allow-mass-retire")
    assert code == EXIT_CLEAN, output
    assert await world.store.pending_intents() == []
    assert await _statuses(world, users) == [404] * USERS  # the deletes completed: tombstoned

    code, output = await _cli(config, capsys, "adopt")
    assert code == EXIT_CLEAN, output
    assert "REFUSED" not in output


async def test_adopt_within_the_bound_resolves_as_before(
    world: World, aiohttp_server: AiohttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One DELETE of three mapped users is the one a pass may always retire: `adopt` completes it and goes on."""
    users = await _provisioned(world)
    await _deletes_pending(world, users[:1])
    config = _config(
        world, tmp_path, await _wrong_master(aiohttp_server), max_retire=USERS - 1, intent_grace=0
    )

    code, output = await _cli(config, capsys, "adopt")
    assert code == EXIT_CLEAN, output
    assert "REFUSED" not in output
    assert await world.store.pending_intents() == []
    assert await _statuses(world, users) == [404, 200, 200]
