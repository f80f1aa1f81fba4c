-- Initial schema of the SCIM <-> Determined mapping store.
-- Timestamps are ISO-8601 UTC text with millisecond precision and a Z ("2026-01-02T03:04:05.678Z"):
-- fixed width, so text comparison is time order (SCIM filters compare meta.* as strings).

CREATE TABLE users (
    pk            INTEGER PRIMARY KEY,
    scim_id       TEXT    NOT NULL UNIQUE,
    det_id        INTEGER NOT NULL UNIQUE,
    user_name     TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    external_id   TEXT,
    display_name  TEXT,
    active        INTEGER NOT NULL CHECK (active IN (0, 1)),
    doc           TEXT    NOT NULL CHECK (json_valid(doc)),
    version       INTEGER NOT NULL CHECK (version >= 1),
    created       TEXT    NOT NULL,
    last_modified TEXT    NOT NULL,
    tombstoned_at TEXT
);
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_display_name ON users (display_name COLLATE NOCASE);

-- emails live in a side table (not an expression index) because a user has several and SCIM filters
-- ask "any email equals"; rows are derived from doc.emails by the store on every write.
CREATE TABLE user_emails (
    user_pk    INTEGER NOT NULL REFERENCES users (pk) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    value      TEXT COLLATE NOCASE,
    type       TEXT,
    is_primary INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
    display    TEXT,
    PRIMARY KEY (user_pk, position)
) WITHOUT ROWID;
CREATE INDEX user_emails_value ON user_emails (value COLLATE NOCASE);

CREATE TABLE groups (
    pk            INTEGER PRIMARY KEY,
    scim_id       TEXT    NOT NULL UNIQUE,
    det_id        INTEGER NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    external_id   TEXT,
    doc           TEXT    NOT NULL CHECK (json_valid(doc)),
    version       INTEGER NOT NULL CHECK (version >= 1),
    created       TEXT    NOT NULL,
    last_modified TEXT    NOT NULL
);
CREATE INDEX groups_external_id ON groups (external_id);

-- Memberships are rows, not part of the group document: a group can have 10k members and adding one
-- must cost O(1). member_scim_id has no foreign key because a member may be a User or a Group;
-- Store.check() reports dangling members.
CREATE TABLE group_members (
    group_pk       INTEGER NOT NULL REFERENCES groups (pk) ON DELETE CASCADE,
    member_scim_id TEXT    NOT NULL,
    member_type    TEXT    NOT NULL CHECK (member_type IN ('User', 'Group')),
    display        TEXT,
    PRIMARY KEY (group_pk, member_scim_id)
) WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (member_scim_id, group_pk);
-- RFC 7643 §8.7.1 makes members.value caseExact false, so SCIM filters compare it with COLLATE NOCASE;
-- that comparison can only use an index built with the same collation.
CREATE INDEX group_members_member_nocase ON group_members (member_scim_id COLLATE NOCASE, group_pk);

CREATE TABLE intents (
    id             INTEGER PRIMARY KEY,
    request_id     TEXT NOT NULL,
    operation      TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    target         TEXT NOT NULL,
    payload_digest TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'done', 'rolled_back')),
    created        TEXT NOT NULL,
    finished       TEXT
);
CREATE INDEX intents_pending ON intents (id) WHERE state = 'pending';

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    ts            TEXT    NOT NULL,
    request_id    TEXT    NOT NULL,
    client        TEXT    NOT NULL,
    operation     TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    resource_id   TEXT,
    master_calls  INTEGER NOT NULL,
    outcome       TEXT    NOT NULL
);
CREATE INDEX audit_log_ts ON audit_log (ts);
