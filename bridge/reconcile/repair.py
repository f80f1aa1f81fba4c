"""Repairs: push the IdP's intent (the store) back onto the master, one drift at a time (policy ``idp_wins``).

Each repair first re-reads both sides for that one resource and acts only if the drift is still there,
so a request the bridge is serving at the same moment is not undone from a stale sweep. A user.missing
mapping cannot be pushed back (the master cannot re-create a user under its id): a reconcile pass retires
it instead, as a write finding it would (docs/reliability.md, "Stale mappings").
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import structlog

from bridge.determined import (
    DeterminedClient,
    MasterBadRequest,
    MasterError,
    MasterInternal,
)
from bridge.provisioning.stale import missing_users, retire
from bridge.reconcile.detect import (
    DisplayName,
    Snapshot,
    group_drifts,
    master_group,
    master_user,
    tombstoned_drift,
    user_drifts,
    wanted_member_ids,
)
from bridge.reconcile.drift import Drift, DriftKind
from bridge.reconcile.recreate import GroupRecreator, IdCollision
from bridge.store import Store, StoreError

_log = structlog.get_logger("bridge.reconcile")


class Unrepairable(Exception):
    """The drift cannot be repaired from the IdP's intent (e.g. a Determined user cannot be re-created)."""


@dataclass(frozen=True, slots=True)
class Repairer:
    """Applies repairs with the master client and the store."""

    store: Store
    client: DeterminedClient
    display_name: DisplayName
    # A reconcile pass retires user.missing mappings; an intent's restore (which may run under any policy,
    # for one resource) leaves them to it.
    retire_missing: bool = False
    # SCIM ids of the mapped groups this run's guard counted as gone (group.deleted): besides the one repaired, a
    # re-creation may move those aside when the master gives the new group an id one of them holds (recreate.py).
    recreatable: Collection[str] = frozenset()
    # SCIM ids whose mapping a re-creation moved onto a new group, this one's or a holder's.
    moved: set[str] = field(default_factory=set)

    async def fresh_drifts(self, resource_type: str, scim_id: str, snapshot: Snapshot) -> list[Drift]:
        """Every drift of one mapped resource as it stands now (re-read from both sides)."""
        if resource_type == "User":
            record = await self.store.get_user_by_scim_id(scim_id, include_tombstoned=True)
            if record is None:
                return []
            master = await master_user(self.client, record.det_id)
            if record.tombstoned_at is None:
                return user_drifts(record, master, self.display_name)
            single = None if master is None else tombstoned_drift(record, master)
            return [] if single is None else [single]
        group = await self.store.get_group_by_scim_id(scim_id)
        if group is None:
            return []
        wanted = await wanted_member_ids(self.store, group, snapshot)
        return group_drifts(group, await master_group(self.client, group.det_id), wanted)

    async def current(self, drift: Drift, snapshot: Snapshot) -> Drift | None:
        """The same drift as it stands now, or None if it went away since the sweep (never an unmanaged kind)."""
        assert drift.scim_id is not None  # only the report-only unmanaged kinds lack one
        fresh = await self.fresh_drifts(drift.resource_type, drift.scim_id, snapshot)
        return next((d for d in fresh if d.kind is drift.kind), None)

    async def apply(self, drift: Drift) -> None:
        """Make the master match the IdP's intent for this drift (one ``fresh_drifts`` or ``current`` gave)."""
        assert drift.det_id is not None  # every drift of a mapped resource names its Determined object
        if drift.resource_type == "User":
            await self._repair_user(drift, drift.det_id)
        else:
            await self._repair_group(drift, drift.det_id)

    async def _repair_user(self, drift: Drift, det_id: int) -> None:
        assert drift.scim_id is not None
        if drift.kind is DriftKind.USER_MISSING:
            if not self.retire_missing:
                raise Unrepairable("the Determined user no longer exists")
            await self._retire(drift.scim_id, det_id)
            return
        record = await self.store.get_user_by_scim_id(drift.scim_id, include_tombstoned=True)
        if record is None:
            raise Unrepairable("the mapping disappeared")
        active = record.active and record.tombstoned_at is None
        if drift.kind in (DriftKind.USER_DEACTIVATED, DriftKind.USER_REACTIVATED):
            await self.client.patch_user(det_id, active=active)
        elif drift.kind is DriftKind.USER_DISPLAY_NAME:
            await self._restore_display_name(det_id, active, self.display_name(record))
        elif drift.kind is DriftKind.USER_RENAMED:
            master = await self.client.get_user(det_id)
            if master.remote:
                # §7.2: the master refuses a username change on a remote user; flip to local with a random,
                # never-disclosed password, rename, and flip back. Both calls carry `active` (§7.3.7).
                await self.client.patch_user(
                    det_id,
                    active=active,
                    username=record.user_name,
                    remote=False,
                    password=secrets.token_urlsafe(32),
                )
                await self.client.patch_user(det_id, active=active, remote=True)
            else:
                await self.client.patch_user(det_id, active=active, username=record.user_name)

    async def _retire(self, scim_id: str, det_id: int) -> None:
        """Retire a mapping whose Determined user is gone, as a user or group write that finds it does.

        Never re-create the user: the master has no user deletion (§8.16), so a vanished user means a restored
        or foreign master database, and a new Determined user under the old SCIM identity would silently
        swap accounts. Retiring is recoverable (stale.retire): the IdP's re-create of the userName relinks the
        Determined user if the master gets it back, else provisions a new one. Only the master's own "no such
        user" for this id counts, asked now (one GET): a failing or unreachable master, or a proxy's 404,
        retires nothing, so a sick master cannot make a pass retire the directory.
        """
        if det_id not in await missing_users(self.client, [det_id]):
            raise Unrepairable("the master did not confirm the Determined user is gone")
        if not await retire(self.store, scim_id, det_id, operation="reconcile"):
            raise Unrepairable("the mapping changed or was retired meanwhile")

    async def _restore_display_name(self, det_id: int, active: bool, candidates: Sequence[str]) -> None:
        """Try the display names in order: the master refuses one similar to another user's (§7.2)."""
        for candidate in candidates[:-1]:
            try:
                await self.client.patch_user(det_id, active=active, display_name=candidate)
            except MasterBadRequest:
                continue
            return
        await self.client.patch_user(det_id, active=active, display_name=candidates[-1])

    async def _repair_group(self, drift: Drift, det_id: int) -> None:
        assert drift.scim_id is not None
        if drift.kind is DriftKind.GROUP_RENAMED:
            await self.client.change_group(det_id, name=drift.expected)
        elif drift.kind is DriftKind.GROUP_MEMBER_ADDED:
            # Assignments, not UpdateGroup: no 409/404 if the membership moved again since it was read.
            await self.client.remove_from_groups(drift.det_user_ids, [det_id])
        elif drift.kind is DriftKind.GROUP_MEMBER_REMOVED:
            await self._add_back(det_id, drift.det_user_ids)
        elif drift.kind is DriftKind.GROUP_DELETED:
            group = await self.store.get_group_by_scim_id(drift.scim_id)
            if group is None:
                raise Unrepairable("the mapping disappeared")
            recreator = GroupRecreator(self.store, self.client, self.recreatable, self.moved)
            await recreator.recreate(group, drift.det_user_ids)

    async def _add_back(self, det_id: int, users: Sequence[int]) -> None:
        """Add members back; one whose Determined user is gone (user.missing) cannot be, the others still are.

        A sweep leaves the members it found missing out (detect.wanted_member_ids), but a user can vanish after
        the sweep, and an intent's restore has no sweep. The master refuses the whole call for such a user with
        a bare 500 (assignments), so it would otherwise keep every other member of the group out.
        """
        try:
            await self.client.add_to_groups(users, [det_id])
            return
        except MasterInternal:
            lost = await missing_users(self.client, users)
            if not lost:
                raise
        kept = [u for u in users if u not in lost]
        if kept:
            await self.client.add_to_groups(kept, [det_id])
        raise Unrepairable(f"the Determined users {sorted(lost)} no longer exist")


REPAIR_ERRORS = (MasterError, StoreError, Unrepairable, IdCollision)
