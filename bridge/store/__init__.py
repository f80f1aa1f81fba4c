"""SQLite side store: the SCIM <-> Determined mapping, SCIM-only attributes, intent journal and audit log."""

from bridge.store.errors import (
    Duplicate,
    DuplicateDeterminedId,
    DuplicateDisplayName,
    DuplicateScimId,
    DuplicateUserName,
    IntentNotPending,
    InvalidDocument,
    MigrationFailed,
    NotFoundInStore,
    SchemaTooNew,
    StoreClosed,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)
from bridge.store.group_writes import GroupAttributes
from bridge.store.records import (
    AuditEntry,
    GroupRecord,
    IntentRecord,
    IntentState,
    MemberDiff,
    MemberRecord,
    MemberType,
    UserRecord,
)
from bridge.store.store import Store, open_store

__all__ = [
    "AuditEntry",
    "Duplicate",
    "DuplicateDeterminedId",
    "DuplicateDisplayName",
    "DuplicateScimId",
    "DuplicateUserName",
    "GroupAttributes",
    "GroupRecord",
    "IntentNotPending",
    "IntentRecord",
    "IntentState",
    "InvalidDocument",
    "MemberDiff",
    "MemberRecord",
    "MemberType",
    "MigrationFailed",
    "NotFoundInStore",
    "SchemaTooNew",
    "Store",
    "StoreClosed",
    "StoreError",
    "StoreUnavailable",
    "UserRecord",
    "VersionConflict",
    "open_store",
]
