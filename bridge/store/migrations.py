"""Versioned schema migrations: numbered .sql files applied by PRAGMA user_version, each in one transaction."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from typing import Final

import aiosqlite
import structlog

from bridge.store.errors import MigrationFailed, SchemaTooNew

_NAME: Final = re.compile(r"(\d{4})_[a-z0-9_]+\.sql\Z")
_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: applying it moves user_version from `version - 1` to `version`."""

    version: int
    name: str
    statements: tuple[str, ...]


def split_statements(script: str) -> tuple[str, ...]:
    """Split a script into complete statements (sqlite3.complete_statement keeps triggers whole)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            text = pending.strip()
            if text.rstrip(";").strip() and not all(
                ln.strip().startswith("--") or not ln.strip() for ln in text.splitlines()
            ):
                statements.append(text)
            pending = ""
    if pending.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in pending.splitlines()
    ):
        raise ValueError("migration script ends with an incomplete statement")
    return tuple(statements)


def load_migrations() -> tuple[Migration, ...]:
    """The packaged migrations in order; numbering must be 1, 2, 3... without gaps."""
    folder = resources.files("bridge.store").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), entry.name, split_statements(entry.read_text("utf-8"))))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError("migration files must be numbered 0001, 0002, ... without gaps")
    return tuple(found)


async def schema_version(conn: aiosqlite.Connection) -> int:
    """The database's PRAGMA user_version."""
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def migrate(conn: aiosqlite.Connection, migrations: tuple[Migration, ...]) -> int:
    """Bring the schema up to date on an autocommit connection; returns the final version.

    Each step re-reads user_version inside its BEGIN IMMEDIATE, so two processes starting together apply
    each step once. A failing step is rolled back whole and reported as MigrationFailed.
    """
    known = len(migrations)
    current = await schema_version(conn)
    if current > known:
        raise SchemaTooNew(current, known)
    for migration in migrations[current:]:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            current = await schema_version(conn)
            if current > known:
                raise SchemaTooNew(current, known)
            if current >= migration.version:
                await conn.execute("ROLLBACK")
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            # PRAGMA arguments cannot be bound; the value is an int from our own file names.
            await conn.execute(f"PRAGMA user_version = {migration.version:d}")
            await conn.execute("COMMIT")
        except sqlite3.Error as exc:
            await conn.execute("ROLLBACK")
            raise MigrationFailed(f"migration {migration.name} failed: {exc}") from exc
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        _log.info("store.migrated", version=migration.version, migration=migration.name)
    return await schema_version(conn)
