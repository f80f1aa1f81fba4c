"""A real SQLite file damaged as a disk fault or a bad restore leaves it: garbage where its own schema says a
table and its indexes begin."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bridge.store import open_store


async def damaged_database(db: Path, table: str) -> None:
    """Create (or migrate) the database at `db`, then overwrite the root pages of `table` and its indexes."""
    store = await open_store(db)
    await store.close()
    conn = sqlite3.connect(db)
    try:
        # Everything in the file itself, so the garbage is what SQLite reads next.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            r for (r,) in conn.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name = ?", (table,))
        ]
    finally:
        conn.close()
    with db.open("r+b") as file:
        for root in roots:
            file.seek((root - 1) * page_size)
            file.write(b"\xde\xad\xbe\xef" * (page_size // 4))
