"""Compare the master (and the bridge's mapping) with what the IdP clients intended; list every mismatch."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bridge.determined import DeterminedClient
from bridge.provisioning.translate import display_name_candidates
from bridge.store import open_store
from tests.chaos.idp import IdpClient, IntendedGroup, IntendedUser

BUILTIN = frozenset({"admin", "determined"})


async def mismatches(master: DeterminedClient, clients: Iterable[IdpClient], database: Path) -> list[str]:
    """Every way the final state differs from the intended one (empty: exact match)."""
    users: dict[str, IntendedUser] = {}
    groups: dict[str, IntendedGroup] = {}
    for client in clients:
        users.update(client.users)
        groups.update({g.name: g for g in client.groups.values() if not g.deleted})
    problems: list[str] = []
    on_master = [u async for u in master.iter_users()]
    by_name: dict[str, list[int]] = {}
    for user in on_master:
        by_name.setdefault(user.username, []).append(user.id)
    det_of: dict[str, int] = {}
    for user in on_master:
        det_of[user.username] = user.id
        intended = users.get(user.username)
        if intended is None:
            if user.username not in BUILTIN:
                problems.append(f"master has user {user.username} the IdP never created (duplicate or leak)")
            continue
        if intended.deleted:
            if user.active:
                problems.append(f"deleted user {user.username} is active on the master")
            continue
        if user.active != intended.active:
            problems.append(f"user {user.username}: active {user.active}, intended {intended.active}")
        if user.display_name not in display_name_candidates(intended.display_name, intended.user_name):
            problems.append(
                f"user {user.username}: display name {user.display_name!r}, intended {intended.display_name!r}"
            )
    for name, intended in users.items():
        if name not in by_name:
            problems.append(f"user {name} (deleted={intended.deleted}) is missing on the master")
    master_groups = [g async for g in master.iter_groups()]
    seen_groups: set[str] = set()
    for listed in master_groups:
        if listed.name in seen_groups:
            problems.append(f"group {listed.name} exists twice on the master")
        seen_groups.add(listed.name)
        intended_group = groups.get(listed.name)
        if intended_group is None:
            problems.append(
                f"master has group {listed.name} the IdP does not want (deleted, renamed away or duplicate)"
            )
            continue
        details = await master.get_group(listed.id)
        actual = {u.username for u in details.users}
        if actual != intended_group.members:
            problems.append(
                f"group {listed.name}: members {sorted(actual)}, intended {sorted(intended_group.members)}"
            )
    for name in groups:
        if name not in seen_groups:
            problems.append(f"group {name} is missing on the master")
    problems.extend(await _mapping_problems(database, users, groups, det_of))
    return problems


async def _mapping_problems(
    database: Path, users: dict[str, IntendedUser], groups: dict[str, IntendedGroup], det_of: dict[str, int]
) -> list[str]:
    problems: list[str] = []
    store = await open_store(database)
    try:
        problems.extend(f"db check: {p}" for p in await store.check())
        for name, intended in users.items():
            record = await store.get_user_by_user_name(name, include_tombstoned=True)
            if record is None:
                problems.append(f"user {name} has no mapping")
                continue
            if record.scim_id != intended.scim_id:
                problems.append(
                    f"user {name}: mapped SCIM id {record.scim_id}, the IdP holds {intended.scim_id}"
                )
            if record.det_id != det_of.get(name):
                problems.append(
                    f"user {name}: mapped to Determined id {record.det_id}, master has {det_of.get(name)}"
                )
            if (record.tombstoned_at is not None) != intended.deleted:
                problems.append(
                    f"user {name}: tombstoned={record.tombstoned_at is not None}, deleted={intended.deleted}"
                )
        total, _ = await store.list_groups("1=1", [], limit=0)
        if total != len(groups):
            problems.append(f"store maps {total} groups, the IdP wants {len(groups)}")
        for name, group in groups.items():
            mapped = await store.get_group_by_display_name(name)
            if mapped is None or mapped.scim_id != group.scim_id:
                problems.append(
                    f"group {name}: mapping {mapped.scim_id if mapped else None}, IdP holds {group.scim_id}"
                )
    finally:
        await store.close()
    return problems
