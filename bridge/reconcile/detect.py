"""Drift detection: one sweep over the store's mappings and the master's users and groups (issue 7).

The store holds the IdP's intent (it is written only after the master accepted an IdP request); the
master may since have been changed by people in Determined's UI or CLI. Reading is all this module does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Final

from bridge.determined import DeterminedClient, MasterGroupDetails, MasterNotFound, MasterUser
from bridge.reconcile.drift import Drift, DriftKind
from bridge.store import GroupRecord, MemberType, Store, UserRecord

PAGE: Final = 500
# The display names the master may hold for a user, best first (provisioning's §7.2 disambiguation).
DisplayName = Callable[[UserRecord], Sequence[str]]


@dataclass(slots=True)
class Snapshot:
    """What the sweep saw, so repairs can translate SCIM ids into Determined ids without re-reading."""

    det_id_of_user: dict[str, int] = field(default_factory=dict)
    user_names: dict[str, str] = field(default_factory=dict)
    # Determined ids of live mappings the master no longer has (each one user.missing drift).
    missing_det_ids: set[int] = field(default_factory=set)
    users_checked: int = 0
    groups_checked: int = 0


async def store_groups(store: Store) -> AsyncIterator[GroupRecord]:
    """Every mapped group, in insertion order."""
    offset = 0
    while True:
        _total, page = await store.list_groups("1=1", [], offset=offset, limit=PAGE)
        for record in page:
            yield record
        if len(page) < PAGE:
            return
        offset += PAGE


def user_drifts(record: UserRecord, master: MasterUser | None, display_name: DisplayName) -> list[Drift]:
    """Differences between one live mapped user and its Determined user (None: the user is gone)."""
    if master is None:
        return [
            Drift(DriftKind.USER_MISSING, "User", record.scim_id, record.det_id, expected=record.user_name)
        ]
    found: list[Drift] = []
    if master.username != record.user_name:
        found.append(
            Drift(
                DriftKind.USER_RENAMED,
                "User",
                record.scim_id,
                record.det_id,
                expected=record.user_name,
                actual=master.username,
            )
        )
    if master.active != record.active:
        kind = DriftKind.USER_DEACTIVATED if record.active else DriftKind.USER_REACTIVATED
        found.append(
            Drift(
                kind,
                "User",
                record.scim_id,
                record.det_id,
                expected=str(record.active).lower(),
                actual=str(master.active).lower(),
            )
        )
    wanted = display_name(record)
    if wanted and master.display_name not in wanted:
        found.append(
            Drift(
                DriftKind.USER_DISPLAY_NAME,
                "User",
                record.scim_id,
                record.det_id,
                expected=wanted[0],
                actual=master.display_name,
            )
        )
    return found


def tombstoned_drift(record: UserRecord, master: MasterUser) -> Drift | None:
    """A user the IdP deleted must stay inactive on the master (deletion is deactivation, §7.2)."""
    if not master.active:
        return None
    return Drift(
        DriftKind.USER_REACTIVATED, "User", record.scim_id, record.det_id, expected="false", actual="true"
    )


def group_drifts(
    record: GroupRecord, master: MasterGroupDetails | None, wanted_members: Collection[int]
) -> list[Drift]:
    """Differences between one mapped group (name, members as Determined ids) and the master's group."""
    if master is None:
        return [
            Drift(
                DriftKind.GROUP_DELETED,
                "Group",
                record.scim_id,
                record.det_id,
                expected=record.display_name,
                det_user_ids=tuple(sorted(wanted_members)),
            )
        ]
    found: list[Drift] = []
    if master.name != record.display_name:
        found.append(
            Drift(
                DriftKind.GROUP_RENAMED,
                "Group",
                record.scim_id,
                record.det_id,
                expected=record.display_name,
                actual=master.name,
            )
        )
    actual = {user.id for user in master.users}
    wanted = set(wanted_members)
    if actual - wanted:
        found.append(
            Drift(
                DriftKind.GROUP_MEMBER_ADDED,
                "Group",
                record.scim_id,
                record.det_id,
                det_user_ids=tuple(sorted(actual - wanted)),
            )
        )
    if wanted - actual:
        found.append(
            Drift(
                DriftKind.GROUP_MEMBER_REMOVED,
                "Group",
                record.scim_id,
                record.det_id,
                det_user_ids=tuple(sorted(wanted - actual)),
            )
        )
    return found


async def master_group(client: DeterminedClient, det_id: int) -> MasterGroupDetails | None:
    """The master's group with members, or None if the master says it has no such group.

    Any other 404 (a proxy's page, a wrong path's) raises: read as "gone", it would have a pass re-create a group
    the master still has, or intent resolution forget its mapping.
    """
    try:
        return await client.get_group(det_id)
    except MasterNotFound as err:
        if err.is_unknown_group():
            return None
        raise


async def master_user(client: DeterminedClient, det_id: int) -> MasterUser | None:
    """The master's user, or None if the master says it has no such user (its own `user not found`).

    Any other 404 (a proxy's page, a wrong path's) raises, as for groups: read as "gone", it would have a pass
    skip a user's repair as gone since the sweep, a restore roll an intent back without restoring the user, and
    a relink's undo leave a revived user active.
    """
    try:
        return await client.get_user(det_id)
    except MasterNotFound as err:
        if err.is_unknown_user():
            return None
        raise


async def wanted_member_ids(store: Store, record: GroupRecord, snapshot: Snapshot) -> set[int]:
    """Determined ids of the group's user members per the store (tombstoned users are never members).

    A member the sweep found missing on the master is left out: its mapping is already one user.missing drift,
    and the master cannot hold a membership of a user it lacks, so a group.member_removed for it would report
    the same fault twice and ask for a repair that cannot succeed.
    """
    wanted: set[int] = set()
    for member in await store.list_members(record.scim_id):
        if member.member_type is not MemberType.USER:
            continue
        det_id = snapshot.det_id_of_user.get(member.member_scim_id)
        if det_id is None:
            user = await store.get_user_by_scim_id(member.member_scim_id)
            if user is None:
                continue
            det_id = user.det_id
            snapshot.det_id_of_user[user.scim_id] = det_id
        if det_id not in snapshot.missing_det_ids:
            wanted.add(det_id)
    return wanted


async def detect(
    store: Store,
    client: DeterminedClient,
    *,
    display_name: DisplayName,
    ignored_usernames: Collection[str],
) -> tuple[list[Drift], Snapshot]:
    """Compare every mapping with the master; ``ignored_usernames`` (built-ins, the bridge) are never drift."""
    snapshot = Snapshot()
    drifts: list[Drift] = []
    masters = {user.id: user async for user in client.iter_users()}
    seen: set[int] = set()
    for record in await store.all_users(include_tombstoned=True):
        seen.add(record.det_id)
        master = masters.get(record.det_id)
        if record.tombstoned_at is not None:
            drift = None if master is None else tombstoned_drift(record, master)
            drifts.extend([] if drift is None else [drift])
            continue
        snapshot.users_checked += 1
        snapshot.det_id_of_user[record.scim_id] = record.det_id
        snapshot.user_names[record.scim_id] = record.user_name
        if master is None:
            snapshot.missing_det_ids.add(record.det_id)
        drifts.extend(user_drifts(record, master, display_name))
    for det_id, user in masters.items():
        if det_id not in seen and user.username not in ignored_usernames:
            drifts.append(Drift(DriftKind.USER_UNMANAGED, "User", None, det_id, actual=user.username))
    mapped_groups: set[int] = set()
    async for group in store_groups(store):
        snapshot.groups_checked += 1
        mapped_groups.add(group.det_id)
        wanted = await wanted_member_ids(store, group, snapshot)
        drifts.extend(group_drifts(group, await master_group(client, group.det_id), wanted))
    async for listed in client.iter_groups():
        if listed.id not in mapped_groups:
            drifts.append(Drift(DriftKind.GROUP_UNMANAGED, "Group", None, listed.id, actual=listed.name))
    return drifts, snapshot
