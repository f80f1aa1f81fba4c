"""Data safety: online backup, integrity and mapping-consistency checks, use after close."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bridge.store import StoreClosed, open_store
from bridge.store.store import Store
from tests.store.factories import add_group, add_user


async def test_backup_is_a_complete_valid_database(store: Store, tmp_path: Path) -> None:
    added = await add_user(store, "alice", emails=[{"value": "a@x.org"}])
    group = await add_group(store, "g", [added.scim_id])
    user = await store.get_user_by_scim_id(added.scim_id)  # joining g changed it (version, groups)
    assert user is not None
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()
    dest.write_bytes(b"old junk")  # an earlier backup at the same path is replaced
    assert await store.backup(dest) == dest
    assert not dest.with_name("copy.db.partial").exists()
    with sqlite3.connect(dest) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy = await open_store(dest)
    try:
        assert await copy.get_user_by_user_name("ALICE") == user
        assert [m.member_scim_id for m in await copy.list_members(group.scim_id)] == [user.scim_id]
        assert await copy.check() == []
    finally:
        await copy.close()


async def test_check_is_clean_on_a_sound_database(store: Store) -> None:
    user = await add_user(store, "a", emails=[{"value": "a@x.org"}, {"value": "b@x.org"}])
    await add_group(store, "g", [user.scim_id])
    assert await store.check() == []


async def test_check_detects_injected_inconsistencies(store: Store, db_path: Path) -> None:
    user = await add_user(store, "a", emails=[{"value": "a@x.org"}])
    group = await add_group(store, "g", [user.scim_id])
    other = await add_user(store, "b")
    with sqlite3.connect(db_path) as conn:
        pk = conn.execute("SELECT pk FROM groups WHERE scim_id = ?", (group.scim_id,)).fetchone()[0]
        conn.execute(
            "INSERT INTO group_members VALUES (?, 'ghost-user', 'User', NULL), (?, 'ghost-group', 'Group', NULL)",
            (pk, pk),
        )
        conn.execute(
            "UPDATE users SET tombstoned_at = '2026-01-01T00:00:00.000Z' WHERE scim_id = ?", (user.scim_id,)
        )
        conn.execute("DELETE FROM user_emails")
        conn.execute(
            "UPDATE users SET det_id = 1, doc = json_set(doc, '$.password', 'x') WHERE scim_id = ?",
            (other.scim_id,),
        )
    problems = await store.check()
    joined = "\n".join(problems)
    assert "member ghost-user is not a known user" in joined
    assert "member ghost-group is not a known group" in joined
    assert f"member {user.scim_id} is a deleted (tombstoned) user" in joined
    assert f"{user.scim_id} has 0 email rows for 1 emails" in joined
    assert f"{other.scim_id} is mapped to built-in Determined user 1" in joined
    assert f"{other.scim_id} document holds a password" in joined
    assert len(problems) == 6


async def test_check_reports_foreign_key_breakage(store: Store, db_path: Path) -> None:
    await add_group(store, "g", ["m"])
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("DELETE FROM groups")
    problems = await store.check()
    assert any(p.startswith("foreign key: group_members") for p in problems), problems


async def test_closed_store_refuses_work(db_path: Path) -> None:
    store = await open_store(db_path)
    await store.close()
    await store.close()
    with pytest.raises(StoreClosed):
        await store.get_user_by_user_name("a")
    with pytest.raises(StoreClosed):
        await add_user(store, "a")
    with pytest.raises(StoreClosed):
        await store.backup(db_path.with_name("b.db"))


async def test_backup_into_a_missing_directory_is_an_os_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(OSError, match="No such file"):
        await store.backup(tmp_path / "absent" / "copy.db")
    assert await store.check() == []
