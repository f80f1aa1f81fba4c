"""Typed records the store returns; rows never leave bridge/store."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


class IntentState(enum.Enum):
    """Lifecycle of a journalled master write (issue 7, intent journal)."""

    PENDING = "pending"
    DONE = "done"
    ROLLED_BACK = "rolled_back"


class MemberType(enum.Enum):
    """What a group member is (RFC 7643 §4.2 `members.type`)."""

    USER = "User"
    GROUP = "Group"


@dataclass(frozen=True, slots=True)
class UserGroup:
    """A managed group a user is a direct member of (RFC 7643 §4.1.2 `groups`)."""

    scim_id: str
    display_name: str


class UserRecord(NamedTuple):
    """A mapped user; `doc` is the SCIM document without id/meta/password: a fresh dict when read, the
    document written (`UserFields.doc`) when a write answers with it; never changed in either case.

    `groups` are its direct memberships, sorted by displayName, as read in the same snapshot as the row by
    the reads and writes that serve SCIM (by SCIM id, userName or Determined id, list pages, updates); the
    bulk reads for reconciliation leave it empty.

    A named tuple, as `GroupRecord`: immutable like a frozen dataclass, and built from positional values in
    ~5k instructions against ~19k (a frozen dataclass's __init__ sets each field through
    ``object.__setattr__``). Every write builds one or two and most reads one.

    `created` and `last_modified` are the store's text (``format_ts``'s form), as `UserView`'s: ``meta``
    shows them and nothing computes with them, so a write's answer neither parses its stamp nor formats
    the two back (~2k and ~5k instructions each; a deactivation's answer formatted both).
    """

    scim_id: str
    det_id: int
    user_name: str
    external_id: str | None
    display_name: str | None
    active: bool
    doc: Mapping[str, object]
    version: int
    created: str
    last_modified: str
    tombstoned_at: datetime | None
    groups: tuple[UserGroup, ...] = ()


class UserView(NamedTuple):
    """What a read without projection renders of a live user (`UserRecord`'s fields less the columns only
    writes, filters and reconciliation use), with its timestamps as the store's text (``format_ts``'s form),
    which is what ``meta`` shows: a GET that misses the kept bodies neither parses nor formats them."""

    scim_id: str
    doc: Mapping[str, object]
    active: bool
    version: int
    created: str
    last_modified: str
    groups: tuple[UserGroup, ...] = ()


class UserRef(NamedTuple):
    """What a group write needs of a member user: its Determined id, its userName (the member `display`) and
    whether it is live (an add takes live users only; a removal takes tombstoned ones too). A named tuple,
    as `MemberRecord`: immutable, ~1.3k instructions cheaper to build than a frozen dataclass."""

    det_id: int
    user_name: str
    live: bool = True


class GroupRecord(NamedTuple):
    """A mapped group; `doc` is the SCIM document without id/meta/members (a named tuple, its timestamps the
    store's text: see `UserRecord`; a member add, whose 204 shows neither, parsed both when it read the group
    and its own stamp when it wrote)."""

    scim_id: str
    det_id: int
    display_name: str
    external_id: str | None
    doc: Mapping[str, object]
    version: int
    created: str
    last_modified: str


class MemberRecord(NamedTuple):
    """One member of a group, by SCIM id (a named tuple: see `UserRecord`; a member add builds one per
    added user)."""

    member_scim_id: str
    member_type: MemberType = MemberType.USER
    display: str | None = None


@dataclass(frozen=True, slots=True)
class MemberDiff:
    """What a membership write actually changed (ids in request order, duplicates and no-ops left out)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """A journalled intention to write to the master."""

    id: int
    request_id: str
    operation: str
    resource_type: str
    target: str
    payload_digest: str
    state: IntentState
    created: datetime
    finished: datetime | None


class AuditLine(NamedTuple):
    """An audit-log line to write: who did what to which resource, with how many master calls, and the outcome
    (a named tuple, built once per write: see `UserRecord`)."""

    request_id: str
    client: str
    operation: str
    resource_type: str
    resource_id: str | None
    master_calls: int
    outcome: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An audit-log line as stored: the line's fields, its id and when it was written."""

    request_id: str
    client: str
    operation: str
    resource_type: str
    resource_id: str | None
    master_calls: int
    outcome: str
    id: int
    ts: datetime


@dataclass(frozen=True, slots=True)
class BoundMaster:
    """The master cluster a database belongs to (``master_binding``); ``bound_at`` is a store timestamp."""

    cluster_id: str
    cluster_name: str
    bound_at: str


class Finish(NamedTuple):
    """What the store write completing a master write also records in its transaction: the intent as done,
    and (when the caller knows it already) the request's audit line, so no separate write follows (a named
    tuple, built once per write: see `UserRecord`)."""

    intent: int
    audit: AuditLine | None = None
