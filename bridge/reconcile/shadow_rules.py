"""The master's refusals of group writes, for the shadow overlay (master-api.md §4.11, §4.14, §4.16).

The overlay must refuse what the master would refuse, with the same error and text: the bridge tells a
duplicate name from a re-diffable membership conflict, and a stale member from a missing group, by the
master's message (``MasterError.is_duplicate_group``, ``is_no_member_removed``, ``upstream_errors``), so a
shadow bridge that accepted them would answer the IdP and call the master differently from a live one.
Checks run in the master's order (the emulator's handlers_groups.py follows it); the caller has already
looked up which users and groups exist, so these functions are pure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final

from bridge.determined import MasterBadRequest, MasterConflict, MasterInternal, MasterNotFound

_PERSONAL_MARK: Final = "DeterminedPersonalGroup"  # §4.11 step 1 (provisioning.translate refuses it earlier)
_NOT_FOUND: Final = 5
_ALREADY_EXISTS: Final = 6
_INVALID: Final = 3
_INTERNAL: Final = 13


def _unknown_users(count: int) -> MasterNotFound:
    return MasterNotFound(
        f"Error adding {count} user(s) to 1 group(s) because one or more of them were not found: not found",
        grpc_code=_NOT_FOUND,
    )


def _member_exists(count: int) -> MasterConflict:
    return MasterConflict(
        f"Error when adding {count} user(s) to 1 group(s): row already exists", grpc_code=_ALREADY_EXISTS
    )


def _none_removed(users: int, groups: int) -> MasterNotFound:
    return MasterNotFound(
        f"Error removing {users} user(s) from {groups} group(s) because none were members of these groups: "
        "not found",
        grpc_code=_NOT_FOUND,
    )


def check_create(name: str, add_users: Sequence[int], *, name_taken: bool, unknown: Collection[int]) -> None:
    """CreateGroup (§4.11): personal mark 400, taken name 409, unknown member 404, repeated member 409."""
    if _PERSONAL_MARK in name:
        raise MasterBadRequest(f"group name cannot contain '{_PERSONAL_MARK}'", grpc_code=_INVALID)
    if name_taken:
        raise MasterConflict(f"Error creating group {name}: row already exists", grpc_code=_ALREADY_EXISTS)
    if unknown:
        raise _unknown_users(len(add_users))
    if len(set(add_users)) != len(add_users):
        raise _member_exists(len(add_users))


def check_update(
    group_id: int,
    members: Collection[int],
    add_users: Sequence[int],
    remove_users: Sequence[int],
    *,
    name_taken: bool,
    unknown: Collection[int],
) -> None:
    """UpdateGroup (§4.14), after the group itself was found: taken name 409, an existing or repeated member
    added 409, an unknown one 404, a removal of only non-members 404. All or nothing, so checked first."""
    if name_taken:
        raise MasterConflict(
            f"Error updating group {group_id} name: row already exists", grpc_code=_ALREADY_EXISTS
        )
    if add_users:
        if any(uid in members for uid in add_users) or len(set(add_users)) != len(add_users):
            raise _member_exists(len(add_users))
        if unknown:
            raise _unknown_users(len(add_users))
    if remove_users and not any(uid in members or uid in add_users for uid in remove_users):
        raise _none_removed(len(remove_users), 1)


def check_assign(
    user_ids: Sequence[int],
    group_ids: Sequence[int],
    *,
    adding: bool,
    missing_groups: bool,
    unknown: Collection[int],
    any_member: bool,
) -> None:
    """AssignMultipleGroups (§4.16): a missing, personal or repeated group 404; an add naming an unknown user
    the master's bare 500 (an unmapped foreign-key error); a removal where no user was in any group 404."""
    if missing_groups or len(set(group_ids)) != len(group_ids):
        raise MasterNotFound("group does not exist or is a personal group: not found", grpc_code=_NOT_FOUND)
    if adding and group_ids and unknown:
        raise MasterInternal("internal server error", grpc_code=_INTERNAL)
    if not adding and user_ids and group_ids and not any_member:
        raise _none_removed(len(user_ids), len(group_ids))
