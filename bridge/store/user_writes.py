"""SQL that changes the users and user_emails tables; plain functions run inside the writer's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple, NoReturn

from bridge.store.codec import EmailRow, email_rows, encode_doc, encode_doc_as_read, stored_ts, user_from_row
from bridge.store.connections import WriterConnection
from bridge.store.errors import NotFoundInStore, VersionConflict
from bridge.store.records import UserGroup, UserRecord
from bridge.store.user_groups import read_groups


def _insert_emails(conn: WriterConnection, pk: int, rows: list[EmailRow]) -> None:
    if len(rows) == 1 and rows[0][4] is None:
        # The usual user: one address, no display (the IdPs send none), its column left NULL by omission.
        # Python's sqlite3 looks for an adapter before binding None (~3.3k instructions: an attribute lookup
        # that fails), and executemany of one row costs ~1k more than execute.
        conn.statements.execute(
            "INSERT INTO user_emails (user_pk, position, value, type, is_primary) VALUES (?, ?, ?, ?, ?)",
            (pk, *rows[0][:4]),
        )
    elif rows:
        conn.statements.executemany(
            "INSERT INTO user_emails (user_pk, position, value, type, is_primary, display)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(pk, *row) for row in rows],
        )


def _replace_emails(
    conn: WriterConnection, pk: int, doc: Mapping[str, object], kept: list[EmailRow] | None = None
) -> None:
    """Make the user's email rows those of `doc`; `kept`: the rows it has now, when the caller knows them."""
    rows = email_rows(doc)
    if kept is None:
        kept = [
            tuple(row)
            for row in conn.execute(
                "SELECT position, value, type, is_primary, display FROM user_emails WHERE user_pk = ?"
                " ORDER BY position",
                (pk,),
            )
        ]
    if kept == rows:
        return  # most updates (a deactivation, a rename) leave the emails as they were
    conn.execute("DELETE FROM user_emails WHERE user_pk = ?", (pk,))
    _insert_emails(conn, pk, rows)


def _require_live(version: int | None, scim_id: str, expected_version: int | None) -> None:
    """Refuse a write to a user that is missing or tombstoned (`version` None: no live row), or whose version
    moved past `expected_version`."""
    if version is None:
        raise NotFoundInStore(f"no live user {scim_id}")
    if expected_version is not None and version != expected_version:
        raise VersionConflict(expected_version, version)


def _refuse(conn: sqlite3.Connection, scim_id: str, expected_version: int | None) -> NoReturn:
    """Why a write to one live user matched no row: it is missing (or tombstoned), or its version moved.

    Such writes are a single UPDATE ... WHERE scim_id, live and at the expected version (NULL: any) ...
    RETURNING; only when that matches nothing is this second statement needed.
    """
    row = conn.execute(
        "SELECT version FROM users WHERE scim_id = ? AND tombstoned_at IS NULL", (scim_id,)
    ).fetchone()
    _require_live(None if row is None else row[0], scim_id, expected_version)
    raise AssertionError("a live user at the expected version matches the UPDATE")


class UserFields(NamedTuple):
    """What a user write sets: the indexed columns and the stored SCIM document (a named tuple, built once per
    write: immutable, in a third of a frozen dataclass's instructions). `doc` holds JSON values as a decoder
    gives them and is not changed once given to a write: the record the write answers with holds it."""

    user_name: str
    external_id: str | None
    display_name: str | None
    active: bool
    doc: Mapping[str, object]

    def columns(self) -> tuple[str, str | None, str | None, int, str]:
        """user_name, external_id, display_name, active, doc: in that order in every statement below."""
        return (
            self.user_name,
            self.external_id,
            self.display_name,
            int(self.active),
            encode_doc(self.doc, group=False),
        )

    def written(self) -> tuple[tuple[str, str | None, str | None, int, str], Mapping[str, object]]:
        """`columns()` and the document a read of them decodes (codec.encode_doc_as_read)."""
        text, doc = encode_doc_as_read(self.doc, group=False)
        return (self.user_name, self.external_id, self.display_name, int(self.active), text), doc


def _written(
    scim_id: str,
    det_id: int,
    fields: UserFields,
    doc: Mapping[str, object],
    version: int,
    now: str,
    created: str | None = None,
    groups: tuple[UserGroup, ...] = (),
) -> UserRecord:
    """The live user a write just stored, built from what it wrote: reading the row back (`RETURNING *`)
    cost ~60k instructions more per write (SQLite buffers RETURNING rows in a table of their own, and the
    row is then converted and looked up column by column). `doc`: the document as a read decodes it
    (`UserFields.written`); `created`: None for an insert (created at `now`)."""
    return UserRecord(
        scim_id,
        det_id,
        fields.user_name,
        fields.external_id,
        fields.display_name,
        fields.active,
        doc,
        version,
        now if created is None else created,
        now,
        None,  # tombstoned_at
        groups,
    )


def insert_user(
    conn: WriterConnection, now: str, *, scim_id: str, det_id: int, fields: UserFields
) -> UserRecord:
    """Insert a live user at version 1."""
    columns, doc = fields.written()
    pk = conn.statements.execute(
        "INSERT INTO users (scim_id, det_id, user_name, external_id, display_name, active, doc, version,"
        " created, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
        (scim_id, det_id, *columns, now, now),
    ).lastrowid
    assert pk is not None
    # A new pk has no email rows yet (deleting a user cascades to its emails).
    _insert_emails(conn, pk, email_rows(fields.doc))
    return _written(scim_id, det_id, fields, doc, 1, now)


# The indexed columns an update may change. SQLite rewrites an index entry for every column an UPDATE sets,
# even to the value it had, so a statement sets only those that differ: a deactivation, which changes none,
# then touches the table row alone (53k fewer instructions and 3 fewer WAL pages per update in a probe).
_INDEXED: Final = ("user_name", "external_id", "display_name")  # in update_user's SELECT order


def update_user(
    conn: WriterConnection,
    now: str,
    scim_id: str,
    *,
    fields: UserFields,
    expected_version: int | None,
    known: UserRecord | None = None,
) -> UserRecord:
    """Replace a live user's attributes; bumps version and last_modified.

    `known`: this user as the caller read it, groups included (a read by SCIM id, userName or Determined id).
    Every write that changes a user's email rows (always those of its document), its groups or its columns
    bumps its version, so while the row is still at that version they are the known ones and are not read
    again: a deactivation's transaction runs its UPDATE alone beside the intent's finish and the audit line.
    """
    written: tuple[tuple[str, str | None, str | None, int, str], Mapping[str, object]] | None = None
    # While the row is still at the version the caller read, its indexed columns, Determined id, creation time,
    # email rows and groups are the known ones: the UPDATE names that version instead of a SELECT reading them
    # first (~12k instructions per deactivation). An email change takes the way below, which has the row's pk.
    if (
        known is not None
        and known.scim_id == scim_id
        and expected_version in (None, known.version)
        and _same_emails(fields.doc, known.doc)
    ):
        written = fields.written()
        (user_name, external_id, display_name, active, text), doc = written
        assignments, values = _assignments(
            (known.user_name, known.external_id, known.display_name), (user_name, external_id, display_name)
        )
        updated = conn.statements.execute(
            f"UPDATE users SET version = version + 1, {assignments}active = ?, doc = ?, last_modified = ?"  # noqa: S608 - fixed column names
            " WHERE scim_id = ? AND tombstoned_at IS NULL AND version = ?",
            (*values, active, text, now, scim_id, known.version),
        ).rowcount
        if updated == 1:
            return _written(
                scim_id, known.det_id, fields, doc, known.version + 1, now, known.created, known.groups
            )
    current = conn.statements.execute(
        "SELECT pk, det_id, version, user_name, external_id, display_name, created FROM users"
        " WHERE scim_id = ? AND tombstoned_at IS NULL",
        (scim_id,),
    ).fetchone()
    _require_live(None if current is None else current[2], scim_id, expected_version)
    # By position, in the SELECT's order (a name costs a scan of the row's column names: see codec.USER_ROW).
    pk, det_id, version, *stored, created = current[:7]
    (user_name, external_id, display_name, active, text), doc = written or fields.written()
    assignments, values = _assignments(stored, (user_name, external_id, display_name))
    conn.statements.execute(
        f"UPDATE users SET version = version + 1, {assignments}active = ?, doc = ?, last_modified = ?"  # noqa: S608 - fixed column names
        " WHERE pk = ?",
        (*values, active, text, now, pk),
    )
    if known is not None and (known.scim_id, known.version) != (scim_id, version):
        known = None  # changed since the caller read it
    _replace_emails(conn, pk, fields.doc, None if known is None else email_rows(known.doc))
    groups = read_groups(conn, scim_id) if known is None else known.groups
    return _written(scim_id, det_id, fields, doc, version + 1, now, stored_ts(created), groups)


def _same_emails(doc: Mapping[str, object], known: Mapping[str, object]) -> bool:
    """Whether `doc` has the email rows of `known`. A PATCH that leaves the emails (a deactivation) keeps the
    read document's own list, whose rows are the same without building either set (~4k instructions)."""
    emails = doc.get("emails")
    return (emails is not None and emails is known.get("emails")) or email_rows(doc) == email_rows(known)


def _assignments(
    old: Sequence[str | None], new: tuple[str, str | None, str | None]
) -> tuple[str, list[str | None]]:
    """The SET items (each ending in ", ") and their values for the indexed columns whose value changes.

    Compared as Python text, not by the columns' NOCASE collation: a change of case is a change.
    """
    changed = [(column, value) for column, was, value in zip(_INDEXED, old, new, strict=True) if was != value]
    return "".join(f"{column} = ?, " for column, _ in changed), [value for _, value in changed]


def tombstone_user(
    conn: sqlite3.Connection, now: str, scim_id: str, *, expected_version: int | None
) -> UserRecord:
    """Mark a live user deleted (inactive, tombstoned); the mapping row stays."""
    row = conn.execute(
        "UPDATE users SET active = 0, tombstoned_at = ?, version = version + 1, last_modified = ?"
        " WHERE scim_id = ? AND tombstoned_at IS NULL AND (? IS NULL OR version = ?) RETURNING *",
        (now, now, scim_id, expected_version, expected_version),
    ).fetchone()
    if row is None:
        _refuse(conn, scim_id, expected_version)
    return user_from_row(row)


def forget_tombstone(conn: sqlite3.Connection, scim_id: str) -> None:
    """Delete a tombstoned user's row (its emails cascade; a tombstoned user is in no group)."""
    deleted = conn.execute(
        "DELETE FROM users WHERE scim_id = ? AND tombstoned_at IS NOT NULL RETURNING pk", (scim_id,)
    ).fetchone()
    if deleted is None:
        raise NotFoundInStore(f"no tombstoned user {scim_id}")


def relink_user(
    conn: WriterConnection, now: str, scim_id: str, *, new_scim_id: str | None, fields: UserFields
) -> UserRecord:
    """Bring a tombstoned user back as a new SCIM resource on the same Determined user."""
    found = conn.execute(
        "SELECT pk FROM users WHERE scim_id = ? AND tombstoned_at IS NOT NULL", (scim_id,)
    ).fetchone()
    if found is None:
        raise NotFoundInStore(f"no tombstoned user {scim_id}")
    # version keeps counting up (never reset) so an ETag from before the delete can never match again.
    row = conn.execute(
        "UPDATE users SET scim_id = ?, user_name = ?, external_id = ?, display_name = ?, active = ?, doc = ?,"
        " version = version + 1, created = ?, last_modified = ?, tombstoned_at = NULL WHERE pk = ? RETURNING *",
        (new_scim_id or scim_id, *fields.columns(), now, now, found["pk"]),
    ).fetchone()
    assert row is not None
    _replace_emails(conn, row["pk"], fields.doc)
    return user_from_row(row)
