"""``scim-bridge db backup FILE`` and ``db check`` on real SQLite files, in-process and as a subprocess."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bridge.__main__ import main
from bridge.store import MemberRecord, Store, UserFields, open_store
from tests.ops.history import OLD, seed_history, table_rows
from tests.reliability.configs import write_config

pytestmark = pytest.mark.usefixtures("reset_logging")


async def _insert_user(store: Store, name: str, det_id: int) -> str:
    scim_id = str(uuid.uuid4())
    await store.insert_user(
        scim_id=scim_id,
        det_id=det_id,
        fields=UserFields(
            user_name=name, external_id=None, display_name=name, active=True, doc={"userName": name}
        ),
    )
    return scim_id


async def _populate(path: Path, users: int) -> list[str]:
    store = await open_store(path)
    try:
        ids = [await _insert_user(store, f"user{i}", 100 + i) for i in range(users)]
        await store.insert_group(
            scim_id=str(uuid.uuid4()),
            det_id=5000,
            display_name="team",
            external_id=None,
            doc={"displayName": "team"},
            members=[MemberRecord(i) for i in ids[:3]],
        )
    finally:
        await store.close()
    return ids


async def _user_names(path: Path) -> set[str]:
    store = await open_store(path)
    try:
        _total, page = await store.list_users("1=1", [], limit=10_000)
        return {u.user_name for u in page}
    finally:
        await store.close()


def test_backup_copies_a_sound_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "bridge.db"
    asyncio.run(_populate(db, 5))
    config = write_config(tmp_path, db)
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()
    assert main(["db", "backup", str(dest), "-c", str(config)]) == 0
    assert asyncio.run(_user_names(dest)) == {f"user{i}" for i in range(5)}
    assert not dest.with_name("copy.db.partial").exists()
    assert main(["db", "check", "-c", str(write_config(tmp_path, dest))]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


async def test_backup_is_online_while_the_bridge_writes(tmp_path: Path) -> None:
    """A backup taken while another connection keeps writing is a consistent snapshot that opens cleanly."""
    from bridge.commands.db import run_db_backup
    from bridge.config import DatabaseSettings, Settings

    db = tmp_path / "bridge.db"
    store = await open_store(db)
    try:
        for i in range(20):
            await _insert_user(store, f"before{i}", 100 + i)
        stop = asyncio.Event()

        async def keep_writing() -> int:
            written = 0
            while not stop.is_set():
                await _insert_user(store, f"during{written}", 10_000 + written)
                written += 1
            return written

        writer = asyncio.create_task(keep_writing())
        settings = Settings(database=DatabaseSettings(path=str(db)))
        code = await run_db_backup(settings, str(tmp_path / "online.db"))
        stop.set()
        during = await writer
    finally:
        await store.close()
    assert code == 0
    assert during > 0
    names = await _user_names(tmp_path / "online.db")
    assert {f"before{i}" for i in range(20)} <= names
    copy = await open_store(tmp_path / "online.db")
    try:
        assert await copy.check() == []
    finally:
        await copy.close()


def test_check_reports_mapping_problems_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bridge.db"
    ids = asyncio.run(_populate(db, 3))
    # Damage the mapping behind the store's back: a SCIM user on the built-in `determined` account, and a
    # member row for a user the store never had.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE users SET det_id = 2 WHERE scim_id = ?", (ids[1],))
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(
            "INSERT INTO group_members (group_pk, member_scim_id, member_type)"
            " SELECT pk, 'ghost-user', 'User' FROM groups LIMIT 1"
        )
    config = write_config(tmp_path, db)
    assert main(["db", "check", "-c", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"{ids[1]} is mapped to built-in Determined user 2" in out
    assert "member ghost-user is not a known user" in out


def test_commands_refuse_a_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, tmp_path / "typo.db")
    assert main(["db", "check", "-c", str(config)]) == 3
    assert main(["db", "backup", str(tmp_path / "x.db"), "-c", str(config)]) == 3
    assert not (tmp_path / "typo.db").exists()
    assert "does not exist" in capsys.readouterr().out


def test_backup_refuses_to_overwrite_the_database_itself(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    asyncio.run(_populate(db, 1))
    config = write_config(tmp_path, db)
    assert main(["db", "backup", str(db), "-c", str(config)]) == 3
    assert asyncio.run(_user_names(db)) == {"user0"}


def test_check_as_a_subprocess_exit_code(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    asyncio.run(_populate(db, 2))
    config = write_config(tmp_path, db)
    healthy = subprocess.run(
        [sys.executable, "-m", "bridge", "db", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert healthy.returncode == 0, healthy.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE users SET det_id = 1 WHERE user_name = 'user0'")
    broken = subprocess.run(
        [sys.executable, "-m", "bridge", "db", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert broken.returncode == 1
    assert "mapped to built-in Determined user 1" in broken.stdout


def _prune_config(directory: Path, db: Path, **retention: float) -> Path:
    path = write_config(directory, db)
    raw = yaml.safe_load(path.read_text())
    raw["database"].update(retention)
    path.write_text(yaml.safe_dump(raw))
    return path


def test_prune_counts_then_deletes_what_is_past_retention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bridge.db"
    asyncio.run(seed_history(db, datetime.now(UTC)))
    capsys.readouterr()  # the seeding's store.migrated lines
    config = _prune_config(tmp_path, db, audit_retention_days=20)
    assert main(["db", "prune", "--dry-run", "-c", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"would delete {OLD} finished intents older than ")
    assert out[1].startswith(f"would delete {OLD} audit lines older than ")
    assert len(table_rows(db)[1]) == OLD + 1
    assert main(["db", "prune", "-c", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"deleted {OLD} finished intents older than ")
    assert out[1].startswith(f"deleted {OLD} audit lines older than ")
    assert table_rows(db) == (["old-pending", "recent"], ["recent"])


def test_prune_keeps_a_table_with_retention_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "bridge.db"
    asyncio.run(seed_history(db, datetime.now(UTC)))
    capsys.readouterr()  # the seeding's store.migrated lines
    config = _prune_config(tmp_path, db, intent_retention_days=0)
    assert main(["db", "prune", "-c", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "finished intents: kept forever (database.intent_retention_days: 0)"
    assert out[1].startswith("deleted 0 audit lines older than ")  # 90 days by default: the month stays
    assert table_rows(db) == (
        [f"old-{i}" for i in range(OLD)] + ["old-pending", "recent"],
        [f"old-{i}" for i in range(OLD)] + ["recent"],
    )


def test_prune_of_a_missing_database_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "prune", "-c", str(write_config(tmp_path, tmp_path / "absent.db"))]) == 3
    assert "does not exist" in capsys.readouterr().out
