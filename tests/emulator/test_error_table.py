"""Every row of contract §8.1: status and exact `error.error` text, basic authz mode."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.emulator.conftest import Master, Reply

Scenario = Callable[[Master, str], Awaitable[Reply]]


async def _user_token(master: Master, admin: str, name: str = "carol", **fields: object) -> tuple[int, str]:
    user = await master.create_user(admin, name, password="pw", **fields)
    return int(user["id"]), await master.login(name, "pw")


async def no_token(m: Master, admin: str) -> Reply:
    return await m.call("GET", "/api/v1/me")


async def bad_token(m: Master, admin: str) -> Reply:
    return await m.call("GET", "/api/v1/me", "v2.public.nonsense")


async def logged_out_token(m: Master, admin: str) -> Reply:
    token = await m.login("determined")
    assert (await m.call("POST", "/api/v1/auth/logout", token)).status == 200
    return await m.call("GET", "/api/v1/me", token)


async def wrong_password(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/auth/login", json={"username": "admin", "password": "nope"})


async def unknown_login(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/auth/login", json={"username": "ghost", "password": ""})


async def remote_login(m: Master, admin: str) -> Reply:
    await m.create_user(admin, "sso@example.com", remote=True)
    return await m.call("POST", "/api/v1/auth/login", json={"username": "sso@example.com", "password": ""})


async def revoked_token(m: Master, admin: str) -> Reply:
    made = await m.call("POST", "/api/v1/tokens", admin, {"userId": 2})
    await m.call("PATCH", f"/api/v1/tokens/{made.body['tokenId']}", admin, {"setRevoked": True})
    return await m.call("GET", "/api/v1/me", made.body["token"])


async def caller_deactivated(m: Master, admin: str) -> Reply:
    user_id, token = await _user_token(m, admin)
    await m.call("PATCH", "/api/v1/users", admin, {"userIds": [user_id], "activate": False})
    return await m.call("GET", "/api/v1/me", token)


async def inactive_login(m: Master, admin: str) -> Reply:
    await m.create_user(admin, "sleepy", password="pw", active=False)
    return await m.call("POST", "/api/v1/auth/login", json={"username": "sleepy", "password": "pw"})


async def unknown_user_id(m: Master, admin: str) -> Reply:
    return await m.call("GET", "/api/v1/users/999", admin)


async def unknown_username(m: Master, admin: str) -> Reply:
    return await m.call("GET", "/api/v1/users/Admin/by-username", admin)


async def create_as_non_admin(m: Master, admin: str) -> Reply:
    _, token = await _user_token(m, admin)
    return await m.call("POST", "/api/v1/users", token, {"user": {"username": "newbie", "active": True}})


async def short_username(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/users", admin, {"user": {"username": " x "}})


async def empty_username(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/users", admin, {"user": {"username": ""}})


async def non_ascii_name(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/users", admin, {"user": {"username": "jürgen"}})


async def non_admin_named_admin(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/users", admin, {"user": {"username": "ADMIN"}})


async def named_determined(m: Master, admin: str) -> Reply:
    return await m.call("PATCH", "/api/v1/users/1", admin, {"displayName": "Determined"})


async def duplicate_on_create(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/users", admin, {"user": {"username": "determined"}})


async def duplicate_on_rename(m: Master, admin: str) -> Reply:
    await m.create_user(admin, "bob")
    return await m.call("PATCH", "/api/v1/users/2", admin, {"username": "bob"})


async def similar_display_name(m: Master, admin: str) -> Reply:
    await m.create_user(admin, "bob")
    return await m.call("PATCH", "/api/v1/users/2", admin, {"displayName": "BOB"})


async def rename_remote(m: Master, admin: str) -> Reply:
    user = await m.create_user(admin, "sso@example.com", remote=True)
    return await m.call("PATCH", f"/api/v1/users/{user['id']}", admin, {"username": "other"})


async def password_on_remote(m: Master, admin: str) -> Reply:
    user = await m.create_user(admin, "sso@example.com", remote=True)
    return await m.call("PATCH", f"/api/v1/users/{user['id']}", admin, {"password": "x"})


async def password_on_remote_create(m: Master, admin: str) -> Reply:
    body = {"user": {"username": "sso@example.com", "remote": True}, "password": "x"}
    return await m.call("POST", "/api/v1/users", admin, body)


async def patch_active_as_non_admin(m: Master, admin: str) -> Reply:
    user_id, token = await _user_token(m, admin)
    return await m.call("PATCH", f"/api/v1/users/{user_id}", token, {"active": True})


async def patch_admin_as_non_admin(m: Master, admin: str) -> Reply:
    user_id, token = await _user_token(m, admin)
    return await m.call("PATCH", f"/api/v1/users/{user_id}", token, {"admin": True})


async def group_write_as_non_admin(m: Master, admin: str) -> Reply:
    _, token = await _user_token(m, admin)
    return await m.call("POST", "/api/v1/groups", token, {"name": "g"})


async def personal_suffix(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/groups", admin, {"name": "xDeterminedPersonalGroup"})


async def search_without_limit(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/groups/search", admin, {})


async def search_limit_too_big(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/groups/search", admin, {"limit": 501})


async def duplicate_group_create(m: Master, admin: str) -> Reply:
    await m.call("POST", "/api/v1/groups", admin, {"name": "ml"})
    return await m.call("POST", "/api/v1/groups", admin, {"name": "ml"})


async def duplicate_group_rename(m: Master, admin: str) -> Reply:
    await m.call("POST", "/api/v1/groups", admin, {"name": "ml"})
    other = await m.call("POST", "/api/v1/groups", admin, {"name": "ops"})
    group_id = other.body["group"]["groupId"]
    reply = await m.call("PUT", f"/api/v1/groups/{group_id}", admin, {"name": "ml"})
    assert reply.error == f"Error updating group {group_id} name: row already exists"
    return reply


async def unknown_group_get(m: Master, admin: str) -> Reply:
    return await m.call("GET", "/api/v1/groups/99", admin)


async def unknown_group_delete(m: Master, admin: str) -> Reply:
    return await m.call("DELETE", "/api/v1/groups/99", admin)


async def add_existing_member(m: Master, admin: str) -> Reply:
    made = await m.call("POST", "/api/v1/groups", admin, {"name": "ml", "addUsers": [2]})
    return await m.call("PUT", f"/api/v1/groups/{made.body['group']['groupId']}", admin, {"addUsers": [2]})


async def add_unknown_user(m: Master, admin: str) -> Reply:
    made = await m.call("POST", "/api/v1/groups", admin, {"name": "ml"})
    return await m.call(
        "PUT", f"/api/v1/groups/{made.body['group']['groupId']}", admin, {"addUsers": [2, 77]}
    )


async def assign_unknown_user(m: Master, admin: str) -> Reply:
    made = await m.call("POST", "/api/v1/groups", admin, {"name": "ml"})
    body = {"userIds": [2, 77], "addGroups": [made.body["group"]["groupId"]]}
    return await m.call("PATCH", "/api/v1/users/assignments", admin, body)


async def remove_non_members(m: Master, admin: str) -> Reply:
    made = await m.call("POST", "/api/v1/groups", admin, {"name": "ml"})
    return await m.call("PUT", f"/api/v1/groups/{made.body['group']['groupId']}", admin, {"removeUsers": [2]})


async def users_offset_too_large(m: Master, admin: str) -> Reply:
    return await m.call("GET", "/api/v1/users?offset=3", admin)


async def lifespan_too_long(m: Master, admin: str) -> Reply:
    return await m.call("POST", "/api/v1/tokens", admin, {"userId": 1, "lifespan": "721h"})


async def unknown_token(m: Master, admin: str) -> Reply:
    return await m.call("PATCH", "/api/v1/tokens/42", admin, {"setRevoked": True})


async def unknown_route(m: Master, admin: str) -> Reply:
    return await m.call("GET", "/api/v1/nothing-here", admin)


async def delete_user(m: Master, admin: str) -> Reply:
    return await m.call("DELETE", "/api/v1/users/2", admin)


CASES: list[tuple[str, Scenario, int, str]] = [
    ("no token", no_token, 401, "token missing"),
    ("bad token", bad_token, 401, "invalid credentials"),
    ("logged-out token", logged_out_token, 401, "invalid credentials"),
    ("wrong password", wrong_password, 401, "invalid credentials"),
    ("unknown user at login", unknown_login, 401, "invalid credentials"),
    ("remote user at login", remote_login, 401, "invalid credentials"),
    ("revoked access token", revoked_token, 401, "user access token revoked"),
    ("caller deactivated", caller_deactivated, 403, "user does not have permission"),
    ("inactive login", inactive_login, 403, "user is not active"),
    ("unknown user id", unknown_user_id, 404, "user not found"),
    ("unknown username", unknown_username, 404, "user not found"),
    ("create as non-admin", create_as_non_admin, 403, "only admin privileged users can create users"),
    ("username too short", short_username, 400, "Display name or username value has minimum length."),
    ("username empty", empty_username, 400, "Display name or username value has minimum length."),
    ("non-ascii", non_ascii_name, 400, "Display name and username cannot contain non-ASCII characters."),
    ("non-admin named admin", non_admin_named_admin, 400, "Non-admin user cannot be renamed 'admin'"),
    ("named determined", named_determined, 400, "User cannot be renamed 'determined'"),
    ("duplicate on create", duplicate_on_create, 500, "code=400, message=user already exists"),
    (
        "duplicate on rename",
        duplicate_on_rename,
        500,
        'error setting active status of "bob": ERROR: duplicate key value violates unique constraint '
        '"users_username_key" (SQLSTATE 23505)',
    ),
    (
        "similar display name",
        similar_display_name,
        400,
        "can not change display name to BOB found a similar username or display name",
    ),
    ("rename remote", rename_remote, 400, "Cannot set username for remote users"),
    ("password on remote", password_on_remote, 400, "Cannot set password for remote users"),
    ("password on remote create", password_on_remote_create, 400, "cannot set password for remote user"),
    (
        "patch active as non-admin",
        patch_active_as_non_admin,
        403,
        "only admin privileged users can update users",
    ),
    (
        "patch admin as non-admin",
        patch_admin_as_non_admin,
        403,
        "only admin privileged users can update users",
    ),
    ("group write as non-admin", group_write_as_non_admin, 403, "user does not have permission"),
    ("personal suffix", personal_suffix, 400, "group name cannot contain 'DeterminedPersonalGroup'"),
    ("search without limit", search_without_limit, 400, "Bad request: limit is required and must be <= 500"),
    ("search limit 501", search_limit_too_big, 400, "Bad request: limit is required and must be <= 500"),
    ("duplicate group create", duplicate_group_create, 409, "Error creating group ml: row already exists"),
    ("duplicate group rename", duplicate_group_rename, 409, "row already exists"),
    ("unknown group get", unknown_group_get, 404, "Error getting group 99: not found"),
    ("unknown group delete", unknown_group_delete, 404, "Error deleting group 99: not found"),
    (
        "add existing member",
        add_existing_member,
        409,
        "Error when adding 1 user(s) to 1 group(s): row already exists",
    ),
    (
        "add unknown user",
        add_unknown_user,
        404,
        "Error adding 2 user(s) to 1 group(s) because one or more of them were not found: not found",
    ),
    ("assignments add unknown user", assign_unknown_user, 500, "internal server error"),
    (
        "remove non-members",
        remove_non_members,
        404,
        "Error removing 1 user(s) from 1 group(s) because none were members of these groups: not found",
    ),
    ("users offset too large", users_offset_too_large, 400, "offset out of bounds"),
    ("lifespan too long", lifespan_too_long, 400, "token Lifespan must be less than max token lifespan"),
    ("unknown token", unknown_token, 404, "Token with id: {42} not found"),
    ("unknown route", unknown_route, 501, "Not Implemented"),
    ("no user deletion", delete_user, 501, "Not Implemented"),
]


@pytest.mark.parametrize(("scenario", "status", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_failure_text(
    master: Master, admin_token: str, scenario: Scenario, status: int, text: str
) -> None:
    reply = await scenario(master, admin_token)
    assert reply.status == status, reply.body
    assert reply.error.endswith(text)
    assert set(reply.body) == {"error"}
    assert set(reply.body["error"]) == {"code", "reason", "error"}


async def test_envelope_codes_and_trailing_newline(master: Master) -> None:
    async with master.client.get("/api/v1/me") as response:
        text = await response.text()
    assert response.status == 401
    assert text.endswith("\n")
    assert response.content_type == "application/json"
    assert text.strip() == '{"error": {"code": 16, "reason": "Unauthenticated", "error": "token missing"}}'
