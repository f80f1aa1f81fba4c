"""``scim-bridge db backup`` and ``db check`` when they cannot do their job: a database a newer scim-bridge
migrated, a target directory that does not exist, a source whose mapping or file is damaged. Exit codes and messages
are what an operator's script and eyes rely on; real SQLite files, the CLI in-process."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bridge.__main__ import main
from bridge.store.migrations import load_migrations
from tests.damaged import damaged_database
from tests.reliability.configs import write_config
from tests.reliability.test_db_commands import _populate

pytestmark = pytest.mark.usefixtures("reset_logging")


def test_a_database_from_a_newer_bridge_is_unusable_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bridge.db"
    asyncio.run(_populate(db, 1))
    newer = len(load_migrations()) + 1
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {newer}")
    config = write_config(tmp_path, db)
    assert main(["db", "check", "-c", str(config)]) == 3
    assert main(["db", "backup", str(tmp_path / "copy.db"), "-c", str(config)]) == 3
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert said.count(f"cannot open {db}:") == 2
    assert "newer than this scim-bridge supports" in said
    assert not (tmp_path / "copy.db").exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == newer


def test_a_backup_into_a_missing_directory_says_so_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bridge.db"
    asyncio.run(_populate(db, 1))
    target = tmp_path / "no-such-dir" / "copy.db"
    assert main(["db", "backup", str(target), "-c", str(write_config(tmp_path, db))]) == 3
    assert f"cannot write {target}: No such file or directory" in capsys.readouterr().err
    assert not target.parent.exists()


def test_a_backup_of_a_damaged_mapping_is_written_and_its_problems_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bridge.db"
    ids = asyncio.run(_populate(db, 2))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE users SET det_id = 2 WHERE scim_id = ?", (ids[1],))
    target = tmp_path / "copy.db"
    assert main(["db", "backup", str(target), "-c", str(write_config(tmp_path, db))]) == 1
    assert f"backup copy: users: {ids[1]} is mapped to built-in Determined user 2" in capsys.readouterr().err
    assert target.is_file()


def test_a_database_too_damaged_for_sqlite_s_integrity_check_is_one_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bridge.db"
    asyncio.run(damaged_database(db, "users"))
    config = write_config(tmp_path, db)
    assert main(["db", "check", "-c", str(config)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-2:] == [
        "integrity: database failed: database disk image is malformed",
        f"1 problem(s) in {db}",
    ]
    assert "Traceback" not in captured.out + captured.err


def test_a_backup_of_a_damaged_file_is_written_and_its_damage_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bridge.db"
    asyncio.run(damaged_database(db, "users"))
    target = tmp_path / "copy.db"
    assert main(["db", "backup", str(target), "-c", str(write_config(tmp_path, db))]) == 1
    captured = capsys.readouterr()
    assert "backup copy: integrity: database failed: database disk image is malformed" in captured.err
    assert "Traceback" not in captured.out + captured.err
    assert target.is_file()
