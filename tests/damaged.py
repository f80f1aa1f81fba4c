"""A real SQLite file damaged as a disk fault or a bad restore leaves it: garbage where its own schema says a
table and its indexes begin."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bridge.store import open_store

Pages = list[tuple[int, bytes]]
"""(offset in the file, the bytes the damage overwrote there)."""


async def damaged_database(db: Path, table: str) -> Pages:
    """Create (or migrate) the database at `db`, then overwrite the root pages of `table` and its indexes;
    return what they held, for `repaired`."""
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
    overwritten: Pages = []
    with db.open("r+b") as file:
        for root in roots:
            offset = (root - 1) * page_size
            file.seek(offset)
            overwritten.append((offset, file.read(page_size)))
            file.seek(offset)
            file.write(b"\xde\xad\xbe\xef" * (page_size // 4))
    return overwritten


def repaired(db: Path, pages: Pages) -> None:
    """Put back what `damaged_database` overwrote, under a bridge that has the file open (as a restore of the
    damaged pages would), then commit a change elsewhere: connections that cached a damaged page see the WAL
    move and read the file again."""
    with db.open("r+b") as file:
        for offset, data in pages:
            file.seek(offset)
            file.write(data)
    conn = sqlite3.connect(db)
    try:
        conn.execute("CREATE TABLE repaired_marker (x)")
        conn.execute("DROP TABLE repaired_marker")
        conn.commit()
    finally:
        conn.close()
