"""One test per documented side effect (contract §4.9 step 10, §5.4, §5.8, §3.1)."""

from __future__ import annotations

from datetime import datetime

from tests.emulator.conftest import Master


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


async def _token_for(master: Master, admin: str, user_id: int) -> str:
    made = await master.call("POST", "/api/v1/tokens", admin, {"userId": user_id, "description": "t"})
    assert made.status == 200
    return str(made.body["token"])


async def test_patch_without_active_true_revokes_access_tokens(master: Master, admin_token: str) -> None:
    user = await master.create_user(admin_token, "bob")
    token = await _token_for(master, admin_token, user["id"])
    assert (await master.call("GET", "/api/v1/me", token)).status == 200
    patched = await master.call("PATCH", f"/api/v1/users/{user['id']}", admin_token, {"displayName": "Bob"})
    assert patched.status == 200
    reply = await master.call("GET", "/api/v1/me", token)
    assert (reply.status, reply.error) == (401, "user access token revoked")


async def test_patch_with_active_true_keeps_access_tokens(master: Master, admin_token: str) -> None:
    user = await master.create_user(admin_token, "bob")
    token = await _token_for(master, admin_token, user["id"])
    body = {"displayName": "Bob", "active": True}
    assert (await master.call("PATCH", f"/api/v1/users/{user['id']}", admin_token, body)).status == 200
    assert (await master.call("GET", "/api/v1/me", token)).body["user"]["displayName"] == "Bob"


async def test_empty_patch_revokes_nothing(master: Master, admin_token: str) -> None:
    user = await master.create_user(admin_token, "bob")
    token = await _token_for(master, admin_token, user["id"])
    assert (await master.call("PATCH", f"/api/v1/users/{user['id']}", admin_token, {})).status == 200
    assert (await master.call("GET", "/api/v1/me", token)).status == 200


async def test_bulk_deactivate_keeps_tokens_usable_after_reactivation(
    master: Master, admin_token: str
) -> None:
    user = await master.create_user(admin_token, "bob")
    token = await _token_for(master, admin_token, user["id"])
    off = await master.call(
        "PATCH", "/api/v1/users", admin_token, {"userIds": [user["id"], 999], "activate": False}
    )
    assert off.body == {"results": [{"error": "", "id": user["id"]}, {"error": "", "id": 999}]}
    assert (await master.call("GET", "/api/v1/me", token)).status == 403
    await master.call("PATCH", "/api/v1/users", admin_token, {"userIds": [user["id"]], "activate": True})
    assert (await master.call("GET", "/api/v1/me", token)).status == 200


async def test_set_password_deletes_login_sessions_keeps_tokens(master: Master, admin_token: str) -> None:
    user = await master.create_user(admin_token, "bob", password="old")
    session = await master.login("bob", "old")
    token = await _token_for(master, admin_token, user["id"])
    reply = await master.call("POST", f"/api/v1/users/{user['id']}/password", admin_token, "N3wPassw0rd")
    assert reply.status == 200
    gone = await master.call("GET", "/api/v1/me", session)
    assert (gone.status, gone.error) == (401, "invalid credentials")
    assert (await master.call("GET", "/api/v1/me", token)).status == 200
    assert await master.login("bob", "N3wPassw0rd")


async def test_patch_password_deletes_login_sessions(master: Master, admin_token: str) -> None:
    user = await master.create_user(admin_token, "bob", password="old")
    session = await master.login("bob", "old")
    body = {"password": "new", "active": True}
    assert (await master.call("PATCH", f"/api/v1/users/{user['id']}", admin_token, body)).status == 200
    assert (await master.call("GET", "/api/v1/me", session)).status == 401


async def test_remote_toggle_rewrites_password_state(master: Master, admin_token: str) -> None:
    user = await master.create_user(admin_token, "bob", password="pw")
    path = f"/api/v1/users/{user['id']}"
    assert (await master.call("PATCH", path, admin_token, {"remote": True, "active": True})).status == 200
    login = await master.call("POST", "/api/v1/auth/login", json={"username": "bob", "password": "pw"})
    assert login.status == 401
    assert (await master.call("PATCH", path, admin_token, {"remote": False, "active": True})).status == 200
    # remote -> false without a password leaves a blank password (TestLoginRemote).
    assert await master.login("bob", "")


async def test_logout_with_access_token_keeps_it(master: Master, admin_token: str) -> None:
    token = await _token_for(master, admin_token, 2)
    assert (await master.call("POST", "/api/v1/auth/logout", token)).body == {}
    assert (await master.call("GET", "/api/v1/me", token)).status == 200


async def test_personal_groups_exist_but_stay_hidden(master: Master, admin_token: str) -> None:
    user = await master.create_user(admin_token, "bob")
    state = master.state
    personal = [g for g in state.groups.values() if g.owner == user["id"]]
    assert [g.name for g in personal] == [f"{user['id']}DeterminedPersonalGroup"]
    group_id = personal[0].id
    search = await master.call("POST", "/api/v1/groups/search", admin_token, {"limit": 500})
    assert search.body["groups"] == []
    assert search.body["pagination"]["total"] == 0
    got = await master.call("GET", f"/api/v1/groups/{group_id}", admin_token)
    assert (got.status, got.error) == (404, "cannot get a personal group: not found")
    deleted = await master.call("DELETE", f"/api/v1/groups/{group_id}", admin_token)
    assert (deleted.status, deleted.error) == (404, f"Error deleting group {group_id}: not found")
    assigned = await master.call(
        "PATCH", "/api/v1/users/assignments", admin_token, {"userIds": [1], "addGroups": [group_id]}
    )
    assert (assigned.status, assigned.error) == (
        404,
        "group does not exist or is a personal group: not found",
    )
    made = await master.call("POST", "/api/v1/groups", admin_token, {"name": "ml"})
    # Group ids share one sequence with personal groups (§5.8).
    assert made.body["group"]["groupId"] > group_id


async def test_modified_at_moves_on_patch_and_membership(master: Master, admin_token: str) -> None:
    user = await master.create_user(admin_token, "bob")
    path = f"/api/v1/users/{user['id']}"
    before = _when(user["modifiedAt"])
    patched = await master.call("PATCH", path, admin_token, {"displayName": "Bob", "active": True})
    after_patch = _when(patched.body["user"]["modifiedAt"])
    assert after_patch > before
    made = await master.call("POST", "/api/v1/groups", admin_token, {"name": "ml", "addUsers": [user["id"]]})
    after_add = _when((await master.call("GET", path, admin_token)).body["user"]["modifiedAt"])
    assert after_add > after_patch
    group_id = made.body["group"]["groupId"]
    await master.call("PUT", f"/api/v1/groups/{group_id}", admin_token, {"removeUsers": [user["id"]]})
    after_remove = _when((await master.call("GET", path, admin_token)).body["user"]["modifiedAt"])
    assert after_remove > after_add


async def test_membership_writes_move_every_named_user_at_once_and_a_delete_none(
    master: Master, admin_token: str
) -> None:
    """As usergroup's AddUsersToGroupsTx and RemoveUsersFromGroupsTx: every listed user, member or not, gets
    the transaction's NOW(); a group's delete cascades its memberships without a bump."""
    bob = await master.create_user(admin_token, "bob")
    eve = await master.create_user(admin_token, "eve")

    async def stamps() -> tuple[datetime, datetime]:
        found = [await master.call("GET", f"/api/v1/users/{u['id']}", admin_token) for u in (bob, eve)]
        return _when(found[0].body["user"]["modifiedAt"]), _when(found[1].body["user"]["modifiedAt"])

    made = await master.call("POST", "/api/v1/groups", admin_token, {"name": "ml", "addUsers": [bob["id"]]})
    group_id = made.body["group"]["groupId"]
    created = await stamps()
    both = {"userIds": [bob["id"], eve["id"]], "addGroups": [group_id]}
    assert (await master.call("PATCH", "/api/v1/users/assignments", admin_token, both)).status == 200
    assigned = await stamps()  # bob was in already
    assert assigned[0] == assigned[1] > created[0]
    remove = {"removeUsers": [eve["id"], 987_654]}
    assert (await master.call("PUT", f"/api/v1/groups/{group_id}", admin_token, remove)).status == 200
    removed = await stamps()
    assert removed[0] == assigned[0]
    assert removed[1] > assigned[1]
    assert (await master.call("DELETE", f"/api/v1/groups/{group_id}", admin_token)).status == 200
    assert await stamps() == removed


async def test_login_sets_last_auth_at_and_cookie(master: Master) -> None:
    me = await master.call("GET", "/api/v1/users/1/by-username", None)
    assert me.status == 401
    reply = await master.call("POST", "/api/v1/auth/login", json={"username": "admin", "password": ""})
    assert "lastAuthAt" in reply.body["user"]
    assert f"auth={reply.body['token']}" in reply.headers["Set-Cookie"]
    async with master.client.get("/api/v1/me", headers={"Cookie": f"auth={reply.body['token']}"}) as response:
        assert response.status == 200


async def test_group_update_is_atomic(master: Master, admin_token: str) -> None:
    made = await master.call("POST", "/api/v1/groups", admin_token, {"name": "ml", "addUsers": [1]})
    group_id = made.body["group"]["groupId"]
    failed = await master.call(
        "PUT",
        f"/api/v1/groups/{group_id}",
        admin_token,
        {"name": "renamed", "addUsers": [2], "removeUsers": [77]},
    )
    assert failed.status == 404
    got = await master.call("GET", f"/api/v1/groups/{group_id}", admin_token)
    assert got.body["group"]["name"] == "ml"
    assert [u["id"] for u in got.body["group"]["users"]] == [1]
    ok = await master.call(
        "PUT",
        f"/api/v1/groups/{group_id}",
        admin_token,
        {"groupId": 999, "name": "renamed", "addUsers": [2], "removeUsers": [1, 77]},
    )
    assert ok.status == 200
    assert ok.body["group"] == {
        "groupId": group_id,
        "name": "renamed",
        "users": [ok.body["group"]["users"][0]],
    }
    assert ok.body["group"]["users"][0]["id"] == 2
    assert ok.body["group"]["users"][0]["agentUserGroup"] is None
