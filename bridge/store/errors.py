"""Errors raised by the SQLite side store; the service layer translates them, they are never SCIM errors.

StoreError
 ├── SchemaTooNew          the file was migrated by a newer scim-bridge
 ├── MigrationFailed       a migration script failed (its transaction was rolled back)
 ├── InvalidDocument       a document the store refuses to keep (e.g. it carries a password)
 ├── NotFoundInStore       no live row for the key
 ├── VersionConflict       optimistic check on meta.version failed
 ├── IntentNotPending      an intent was finished twice, differently
 ├── StoreClosed           the store was used after close()
 ├── StoreUnavailable      SQLite is busy beyond the timeout
 │    └── StoreUnwritable  the file cannot be written: read-only, no permission, cannot open, disk full, I/O error
 ├── StoreCorrupt          the file is damaged, or is not a SQLite database
 ├── StoreFailed           any other SQLite failure (a file changed behind the bridge's back, or a bug)
 └── Duplicate             a unique key is taken
      ├── DuplicateUserName, DuplicateDisplayName, DuplicateScimId, DuplicateDeterminedId
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises."""


class SchemaTooNew(StoreError):
    """The database's schema version is newer than any migration this code knows."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"database schema version {found} is newer than this scim-bridge supports ({known}); "
            "upgrade scim-bridge or restore a backup made by this version"
        )
        self.found = found
        self.known = known


class MigrationFailed(StoreError):
    """A migration script failed; the database stays at the previous version."""


class InvalidDocument(StoreError):
    """A SCIM document the store will not keep as is."""


class NotFoundInStore(StoreError):
    """No live (non-tombstoned, unless asked) row matches the key."""


class VersionConflict(StoreError):
    """The row's version differs from the caller's expected version (RFC 7644 §3.14 If-Match)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, found {actual}")
        self.expected = expected
        self.actual = actual


class IntentNotPending(StoreError):
    """The intent was already finished in another state, or finished by another unit of work."""


class StoreClosed(StoreError):
    """The store was used after close()."""


class StoreUnavailable(StoreError):
    """A transient or environmental SQLite failure (busy, locked; `StoreUnwritable`); worth a 503."""


class StoreUnwritable(StoreUnavailable):
    """The file or its disk refuses the bridge (SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN, SQLITE_FULL,
    SQLITE_IOERR): no retry by the bridge mends it, but an operator can (permissions, a mount, space), so the
    IdP is told to retry later, as for a busy database, and the operator which `condition` it is."""

    def __init__(self, condition: str, message: str) -> None:
        super().__init__(message)
        self.condition = condition


class StoreCorrupt(StoreError):
    """The database file is damaged or is not a SQLite database (SQLITE_CORRUPT, SQLITE_NOTADB); no retry helps:
    an operator restores a backup."""


class StoreFailed(StoreError):
    """A SQLite failure with no better name: not transient, not the file's damage, not a taken key."""


class Duplicate(StoreError):
    """A unique key of a table is already taken."""


class DuplicateUserName(Duplicate):
    """Another user (live or tombstoned) holds this userName, compared case-insensitively."""


class DuplicateDisplayName(Duplicate):
    """Another group holds this displayName, compared case-insensitively."""


class DuplicateScimId(Duplicate):
    """The SCIM id is already used by another row."""


class DuplicateDeterminedId(Duplicate):
    """The Determined id is already mapped to another SCIM resource."""
