"""Re-creating a mapped group the master lacks (group.deleted) and moving its mapping onto the new group.

The master gives the new group an id of its own sequence, and that id may be one another mapping still holds:
after `--allow-mass-retire` against a master the mappings did not come from (a reset or foreign database, whose
ids start again from 1), every mapping holds an id of the old master's sequence. Such a holder's group is gone from
this master by construction (the master has just given its id to a new group), so its mapping is stale too: it is
re-created first, if this run's guard counted it among the groups to re-create, and moved off the id, which the
first group then takes (a chain, as that holder's new id may be held in turn; ids only grow, so it ends). A holder
the guard did not count (or a group of another mapping found by name) is not touched: the groups this chain created
are deleted again on the master, nothing is moved, and ``reconcile.det_id_collision`` says which mappings met.

A mapping moves in one transaction (Store.move_group): it is never deleted and inserted again, so a failure leaves it
as it was, and its SCIM id, version and memberships (its own in other groups too) stay the IdP's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import structlog

from bridge.determined import DeterminedClient, MasterConflict, MasterError, MasterNotFound
from bridge.provisioning.stale import missing_users
from bridge.reconcile.detect import Snapshot, wanted_member_ids
from bridge.store import GroupRecord, Store

_log = structlog.get_logger("bridge.reconcile")


class IdCollision(Exception):
    """The Determined id a re-created group got (or the same-named group found) is another mapping's, and that
    mapping may not be moved in this run: nothing was moved, and the groups the run created were deleted."""


@dataclass(frozen=True, slots=True)
class _Made:
    """A group made on the master for `record`'s mapping, not yet moved onto it."""

    record: GroupRecord
    det_id: int
    # False when an existing same-named group was taken instead: never deleted when the chain is undone.
    created: bool


@dataclass(frozen=True, slots=True)
class GroupRecreator:
    """Re-creates groups and moves their mappings, within what this run's guard counted."""

    store: Store
    client: DeterminedClient
    # SCIM ids of the mapped groups this run counted as gone and may re-create: the one asked for, and any
    # holder of the id its new group gets. Empty: none is moved aside.
    recreatable: Collection[str] = frozenset()
    # SCIM ids whose mapping this run moved, holders included (a pass then counts a holder's own drift repaired).
    moved: set[str] = field(default_factory=set)

    async def recreate(self, group: GroupRecord, members: Sequence[int]) -> None:
        """Create `group` again with `members` (or take a same-named group) and point its mapping at it."""
        chain = [await self._make(group, members)]
        try:
            while chain:
                top = chain[-1]
                holder = await self.store.get_group_by_det_id(top.det_id)
                if holder is not None and holder.scim_id != top.record.scim_id:
                    if holder.scim_id not in self.recreatable or holder.scim_id in {
                        m.record.scim_id for m in chain
                    }:
                        raise self._collision(top, holder)
                    wanted = await wanted_member_ids(self.store, holder, Snapshot())
                    chain.append(await self._make(holder, sorted(wanted)))
                    continue
                await self.store.move_group(
                    top.record.scim_id, old_det_id=top.record.det_id, new_det_id=top.det_id
                )
                chain.pop()
                self.moved.add(top.record.scim_id)
                _log.info(
                    "reconcile.group_relinked",
                    scim_id=top.record.scim_id,
                    old_det_id=top.record.det_id,
                    det_id=top.det_id,
                    **({"freed_for": chain[-1].record.scim_id} if chain else {}),
                )
        except Exception:
            # Whatever stopped the chain, the groups it made and did not map would be left on the master unmapped.
            await self._undo(chain)
            raise

    def _collision(self, top: _Made, holder: GroupRecord) -> IdCollision:
        _log.error(
            "reconcile.det_id_collision",
            scim_id=top.record.scim_id,
            det_id=top.det_id,
            holder_scim_id=holder.scim_id,
            holder_display_name=holder.display_name,
        )
        return IdCollision(
            f"Determined group {top.det_id}, made for group {top.record.scim_id}, is mapped to group {holder.scim_id}"
        )

    async def _undo(self, chain: Sequence[_Made]) -> None:
        for made in reversed(chain):
            if not made.created:
                continue
            try:
                await self.client.delete_group(made.det_id)
            except MasterError as exc:
                # The next pass reports it as group.unmanaged.
                _log.warning("reconcile.recreate_undo_failed", det_id=made.det_id, error=type(exc).__name__)

    async def _make(self, group: GroupRecord, members: Sequence[int]) -> _Made:
        """A group for `group`'s mapping with `members`; one the master no longer has (user.missing, not seen
        missing by the sweep) fails the whole create with the master's own 404 for an added user it lacks
        (`is_unknown_member`), so the group comes back with the others and the next pass reports that member
        once, as user.missing. Any other 404 (a proxy's page) names no member and fails the create as it came."""
        try:
            return await self._create_or_take(group, members)
        except MasterNotFound as err:
            if not err.is_unknown_member():
                raise
            lost = await missing_users(self.client, members)
            if not lost:
                raise
            return await self._create_or_take(group, tuple(u for u in members if u not in lost))

    async def _create_or_take(self, group: GroupRecord, members: Sequence[int]) -> _Made:
        """A new group named as the mapping with `members`, or a same-named one given exactly those members."""
        name = group.display_name
        try:
            return _Made(group, (await self.client.create_group(name, add_users=members)).id, created=True)
        except MasterConflict:
            # Someone re-created it by hand: take that group and give it exactly the intended members, unless
            # another mapping holds it (a rename on the master: that mapping's drift, not this one's group).
            found = [g async for g in self.client.iter_groups(name=name)]
            if not found:
                raise
            new_id = found[0].id
            holder = await self.store.get_group_by_det_id(new_id)
            if holder is not None and holder.scim_id != group.scim_id:
                raise self._collision(_Made(group, new_id, created=False), holder) from None
            current = {u.id for u in (await self.client.get_group(new_id)).users}
            add = sorted(set(members) - current)
            remove = sorted(current - set(members))
            if add or remove:
                await self.client.change_group(new_id, add_users=add, remove_users=remove)
            return _Made(group, new_id, created=False)
