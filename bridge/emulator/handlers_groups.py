"""Group endpoints and multi-group assignment (contract §4.11-4.16); personal groups stay hidden."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bridge.emulator.auth import authenticate
from bridge.emulator.errors import already_exists, internal, invalid, not_found
from bridge.emulator.keys import EMULATOR_STATE
from bridge.emulator.permissions import require_admin
from bridge.emulator.records import GroupRecord, UserRecord
from bridge.emulator.state import PERSONAL_SUFFIX, EmulatorState
from bridge.emulator.wire import Message, json_response, path_int, read_object


def _require_writer(state: EmulatorState, user: UserRecord) -> None:
    require_admin(
        user, rbac=state.config.rbac, basic_message="user does not have permission", permission="UPDATE_GROUP"
    )


def _details(state: EmulatorState, group: GroupRecord) -> dict[str, Any]:
    """GroupDetails; members come from plain user rows, so agentUserGroup is null (§4.14)."""
    users = [state.users[uid].to_json(with_agent=False) for uid in sorted(state.members[group.id])]
    return {"groupId": group.id, "name": group.name, "users": users}


def _loaded(state: EmulatorState, group_id: int, verb: str) -> GroupRecord:
    group = state.groups.get(group_id)
    if group is None:
        raise not_found(f"Error {verb} group {group_id}: not found")
    if group.owner is not None:
        raise not_found("cannot get a personal group: not found")
    return group


def _check_addable(state: EmulatorState, user_ids: list[int]) -> None:
    if any(uid not in state.users for uid in user_ids):
        raise not_found(
            f"Error adding {len(user_ids)} user(s) to 1 group(s) because one or more of them were not found: not found"
        )


async def create_group(request: web.Request) -> web.Response:
    """POST /api/v1/groups."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    body = Message(await read_object(request))
    name = body.string("name") or ""
    add_users = body.integers("addUsers")
    if PERSONAL_SUFFIX in name:
        raise invalid(f"group name cannot contain '{PERSONAL_SUFFIX}'")
    _require_writer(state, caller.user)
    if name in state.groups_by_name:
        raise already_exists(f"Error creating group {name}: row already exists")
    _check_addable(state, add_users)
    if len(set(add_users)) != len(add_users):
        raise already_exists(f"Error when adding {len(add_users)} user(s) to 1 group(s): row already exists")
    group = state.add_group(name)
    state.add_members(group.id, add_users)
    state.touch(add_users)
    return json_response({"group": _details(state, group)})


async def search_groups(request: web.Request) -> web.Response:
    """POST /api/v1/groups/search: exact name, membership filter, SQL-style paging."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    body = Message(await read_object(request))
    limit = body.integer("limit") or 0
    offset = body.integer("offset") or 0
    if limit == 0 or limit > 500:
        raise invalid("Bad request: limit is required and must be <= 500")
    name = body.string("name") or ""
    user_id = body.integer("userId") or 0
    candidates: list[GroupRecord]
    if name:
        group_id = state.groups_by_name.get(name)
        candidates = [] if group_id is None else [state.groups[group_id]]
    elif user_id:
        candidates = [state.groups[gid] for gid in sorted(state.user_groups.get(user_id, set()))]
    else:
        candidates = list(state.public_groups.values())
    mine = state.user_groups[caller.user.id]
    matches = [
        g
        for g in candidates
        if g.owner is None
        and (not user_id or g.id in state.user_groups.get(user_id, set()))
        # RBAC without ASSIGN_ROLES only shows the caller's own groups.
        and (not state.config.rbac or caller.user.admin or g.id in mine)
    ]
    start = max(offset, 0)
    page = matches[start:] if limit < 0 else matches[start : start + limit]
    return json_response(
        {
            "groups": [
                {"group": {"groupId": g.id, "name": g.name}, "numMembers": len(state.members[g.id])}
                for g in page
            ],
            "pagination": {
                "offset": offset,
                "limit": limit,
                "startIndex": offset,
                "endIndex": offset + len(page),
                "total": len(matches),
            },
        }
    )


async def get_group(request: web.Request) -> web.Response:
    """GET /api/v1/groups/{groupId}."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    group_id = path_int(request, "groupId", "group_id")
    group = _loaded(state, group_id, "getting")
    if state.config.rbac and not caller.user.admin and caller.user.id not in state.members[group.id]:
        raise not_found(f"Error getting group {group_id}: not found")
    return json_response({"group": _details(state, group)})


async def update_group(request: web.Request) -> web.Response:
    """PUT /api/v1/groups/{groupId}: rename, add, remove, all or nothing (§4.14)."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    group_id = path_int(request, "groupId", "group_id")
    body = Message(await read_object(request))
    _require_writer(state, caller.user)
    group = _loaded(state, group_id, "getting")
    name = body.string("name") or ""
    add_users = body.integers("addUsers")
    remove_users = body.integers("removeUsers")
    # Validate everything first so a failure leaves nothing applied (one transaction in the master).
    if name and name != group.name and name in state.groups_by_name:
        raise already_exists(f"Error updating group {group_id} name: row already exists")
    members = state.members[group.id]
    if add_users:
        if any(uid in members for uid in add_users) or len(set(add_users)) != len(add_users):
            raise already_exists(
                f"Error when adding {len(add_users)} user(s) to 1 group(s): row already exists"
            )
        _check_addable(state, add_users)
    if remove_users and not any(uid in members or uid in add_users for uid in remove_users):
        raise not_found(
            f"Error removing {len(remove_users)} user(s) from 1 group(s) because none were members of these groups: not found"
        )
    if name and name != group.name:
        group = state.rename_group(group, name)
    state.add_members(group.id, add_users)
    state.remove_members(group.id, remove_users)
    state.touch([*add_users, *remove_users])
    return json_response({"group": _details(state, group)})


async def delete_group(request: web.Request) -> web.Response:
    """DELETE /api/v1/groups/{groupId}."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    group_id = path_int(request, "groupId", "group_id")
    _require_writer(state, caller.user)
    group = state.visible_group(group_id)
    if group is None:
        raise not_found(f"Error deleting group {group_id}: not found")
    state.delete_group(group)
    return json_response({})


async def assign_groups(request: web.Request) -> web.Response:
    """PATCH /api/v1/users/assignments: idempotent adds, removal 404 rule (§4.16)."""
    state = request.app[EMULATOR_STATE]
    caller = authenticate(state, request)
    body = Message(await read_object(request))
    _require_writer(state, caller.user)
    user_ids = body.integers("userIds")
    add_groups = body.integers("addGroups")
    remove_groups = body.integers("removeGroups")
    for group_ids in (add_groups, remove_groups):
        valid = {gid for gid in group_ids if state.visible_group(gid) is not None}
        if len(valid) != len(group_ids):
            raise not_found("group does not exist or is a personal group: not found")
    if add_groups and any(uid not in state.users for uid in user_ids):
        # The ON CONFLICT insert skips UpdateGroup's not-found mapping: the foreign-key violation is a plain
        # database error, which the API boundary suppresses to a generic 500 (usergroup AddUsersToGroupsTx
        # with ignoreDuplicates, apiutils.MapAndFilterErrors).
        raise internal("internal server error")
    if remove_groups and user_ids:
        present = any(
            uid in state.members[gid] or gid in add_groups for gid in remove_groups for uid in user_ids
        )
        if not present:
            raise not_found(
                f"Error removing {len(user_ids)} user(s) from {len(remove_groups)} group(s) because none were members of these groups: not found"
            )
    for gid in add_groups:
        state.add_members(gid, user_ids)
    for gid in remove_groups:
        state.remove_members(gid, user_ids)
    if add_groups or remove_groups:
        state.touch(user_ids)  # existing members too: the adds insert ON CONFLICT DO NOTHING, then bump all
    return json_response({})
