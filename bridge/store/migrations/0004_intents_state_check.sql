-- The intents' state CHECK as three comparisons instead of `state IN ('pending', 'done', 'rolled_back')`: SQLite
-- checks an IN list of more than two values by building a temporary index of it, on every INSERT of an intent
-- and every UPDATE of its state, two per write (~60k instructions per write). The
-- same states are allowed. SQLite cannot change a CHECK in place: the table is rebuilt, rows and ids kept.
CREATE TABLE intents_new (
    id             INTEGER PRIMARY KEY,
    request_id     TEXT NOT NULL,
    operation      TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    target         TEXT NOT NULL,
    payload_digest TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state = 'pending' OR state = 'done' OR state = 'rolled_back'),
    created        TEXT NOT NULL,
    finished       TEXT
);
INSERT INTO intents_new (id, request_id, operation, resource_type, target, payload_digest, state, created, finished)
    SELECT id, request_id, operation, resource_type, target, payload_digest, state, created, finished FROM intents;
DROP TABLE intents;
ALTER TABLE intents_new RENAME TO intents;
CREATE INDEX intents_pending ON intents (id) WHERE state = 'pending';
