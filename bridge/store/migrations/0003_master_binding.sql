-- The master this database belongs to: its cluster id (GET /api/v1/master `clusterId`). The master keeps that id
-- in its own database, so a master restored from a backup keeps it and another cluster has a different one.
-- Written on the bridge's first contact with a master, compared whenever it opens a master session
-- (bridge/provisioning/binding.py); one row at most.
CREATE TABLE master_binding (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    cluster_id   TEXT    NOT NULL CHECK (cluster_id <> ''),
    cluster_name TEXT    NOT NULL,
    bound_at     TEXT    NOT NULL
);
