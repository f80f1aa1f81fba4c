"""SQL for the master binding (migration 0003): the one master cluster this database belongs to."""

from __future__ import annotations

import sqlite3

from bridge.store.connections import ReaderConnection
from bridge.store.records import BoundMaster

_SELECT = "SELECT cluster_id, cluster_name, bound_at FROM master_binding WHERE id = 1"


def fetch_bound_master(conn: ReaderConnection | sqlite3.Connection) -> BoundMaster | None:
    """The bound master, None while the database has met no master."""
    row = conn.execute(_SELECT).fetchone()
    return None if row is None else BoundMaster(row[0], row[1], row[2])


def bind_master(conn: sqlite3.Connection, now: str, cluster_id: str, cluster_name: str) -> BoundMaster:
    """Bind to this cluster unless the database is bound already; returns the binding that holds (the first
    process to bind wins when two meet a master at once)."""
    conn.execute(
        "INSERT OR IGNORE INTO master_binding (id, cluster_id, cluster_name, bound_at) VALUES (1, ?, ?, ?)",
        (cluster_id, cluster_name, now),
    )
    bound = fetch_bound_master(conn)
    assert bound is not None
    return bound


def rebind_master(conn: sqlite3.Connection, now: str, cluster_id: str, cluster_name: str) -> BoundMaster:
    """Bind to this cluster whatever the database was bound to (an operator's decision)."""
    conn.execute(
        "INSERT OR REPLACE INTO master_binding (id, cluster_id, cluster_name, bound_at) VALUES (1, ?, ?, ?)",
        (cluster_id, cluster_name, now),
    )
    return BoundMaster(cluster_id, cluster_name, now)
