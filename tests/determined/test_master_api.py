"""The client against the emulated master over a socket: credentials, envelopes, paging, groups (§2 to §5, §8.1)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bridge.determined import (
    DeterminedClient,
    MasterBadRequest,
    MasterConflict,
    MasterForbidden,
    MasterInternal,
    MasterNotFound,
    MasterUnauthorized,
    calls_made,
    start_counting,
)
from tests.conftest import LogReader
from tests.determined.conftest import ClientFactory


async def _service_account(admin: DeterminedClient) -> int:
    user = await admin.create_user("svc-bridge", "", active=True, admin=True, remote=False, password="Pw-1")
    return user.id


async def test_password_login_then_calls(admin: DeterminedClient) -> None:
    me = await admin.me()
    assert (me.id, me.username, me.admin) == (1, "admin", True)
    assert (await admin.current_user()).id == 1
    assert admin.credential.logins == 1


async def test_relogin_after_sessions_are_deleted_is_single_flight(
    admin: DeterminedClient, make_client: ClientFactory
) -> None:
    svc_id = await _service_account(admin)
    svc = make_client(username="svc-bridge", password="Pw-1")
    assert (await svc.me()).id == svc_id
    # §4.8: setting a password deletes all of the user's login sessions, so svc's token turns invalid.
    await admin.set_password(svc_id, "Pw-1")
    start_counting()
    users = await asyncio.gather(*(svc.get_user(1) for _ in range(8)))
    assert {u.username for u in users} == {"admin"}
    assert svc.credential.logins == 2
    assert calls_made() >= 9  # 8 calls + 1 login (+ replays of the 401s)


async def test_wrong_password_is_unauthorized(make_client: ClientFactory) -> None:
    client = make_client(password="not-blank")
    with pytest.raises(MasterUnauthorized) as info:
        await client.me()
    assert info.value.message == "invalid credentials"


async def test_bearer_token_mode_and_revocation(
    admin: DeterminedClient, make_client: ClientFactory, emulator: TestServer
) -> None:
    svc_id = await _service_account(admin)
    created = await admin.create_token(svc_id, "720h", "scim bridge")
    svc = make_client(token=created.token, username=None, password=None)
    assert (await svc.me()).id == svc_id
    assert svc.credential.logins == 0
    # PatchUser through the client always carries `active`, so it must not revoke the token (§4.9 step 10).
    await admin.patch_user(svc_id, active=True, display_name="Bridge")
    assert (await svc.me()).display_name == "Bridge"
    await _revoke_token(emulator, admin, created.token_id)
    with pytest.raises(MasterUnauthorized) as info:
        await svc.me()
    assert info.value.message == "user access token revoked"


async def _revoke_token(emulator: TestServer, admin: DeterminedClient, token_id: int) -> None:
    token = await admin.create_token(1, "1h", "test revoker")
    async with (
        aiohttp.ClientSession() as http,
        http.patch(
            emulator.make_url(f"/api/v1/tokens/{token_id}"),
            json={"setRevoked": True},
            headers={"Authorization": f"Bearer {token.token}"},
        ) as resp,
    ):
        assert resp.status == 200


async def test_error_envelopes_map_to_classes(admin: DeterminedClient, make_client: ClientFactory) -> None:
    with pytest.raises(MasterNotFound) as not_found:
        await admin.get_user(9999)
    assert (not_found.value.grpc_code, not_found.value.message) == (5, "user not found")
    await admin.create_user("jane", "Jane", active=True)
    with pytest.raises(MasterInternal) as duplicate:
        await admin.create_user("jane", "Jane", active=True)
    assert duplicate.value.is_duplicate_username()
    with pytest.raises(MasterBadRequest) as short:
        await admin.create_user("j", "", active=True)
    assert short.value.message == "Display name or username value has minimum length."
    await admin.create_group("ml-team")
    with pytest.raises(MasterConflict) as dup_group:
        await admin.create_group("ml-team")
    assert dup_group.value.is_duplicate_group()
    with pytest.raises(MasterBadRequest) as bad_limit:
        await admin.search_groups(limit=501)
    assert bad_limit.value.message == "Bad request: limit is required and must be <= 500"
    determined = make_client(username="determined")
    with pytest.raises(MasterForbidden) as forbidden:
        await determined.create_user("bob", "", active=True)
    assert forbidden.value.message == "only admin privileged users can create users"


async def test_by_username_exact_and_absent(admin: DeterminedClient) -> None:
    created = await admin.create_user("team/alice", "", active=True)
    await admin.create_user("Alice", "", active=True)
    assert await admin.get_user_by_username("alice") is None
    found = await admin.get_user_by_username("Alice")
    assert found is not None
    assert found.username == "Alice"
    slashed = await admin.get_user_by_username("team/alice")
    assert slashed is not None
    assert slashed.id == created.id


async def test_create_user_refuses_blank_password_logins(admin: DeterminedClient) -> None:
    with pytest.raises(ValueError, match="password"):
        await admin.create_user("local", "", active=True, remote=False)
    with pytest.raises(ValueError, match="password"):
        await admin.create_user("sso", "", active=True, remote=True, password="x")


async def test_local_user_password_is_client_salted(
    admin: DeterminedClient, make_client: ClientFactory, emulator: TestServer
) -> None:
    await admin.create_user("carol", "Carol", active=True, remote=False, password="S3cret!")
    carol = make_client(username="carol", password="S3cret!")
    assert (await carol.me()).username == "carol"
    # The master salts plaintext itself (isHashed false); that login working proves our salting matches (§5.2).
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            emulator.make_url("/api/v1/auth/login"),
            json={"username": "carol", "password": "S3cret!", "isHashed": False},
        ) as resp,
    ):
        assert resp.status == 200


async def test_paging_users(admin: DeterminedClient) -> None:
    for n in range(7):
        await admin.create_user(f"pager-{n}", "", active=True)
    first = await admin.list_users(0, 3, name="pager-")
    assert [u.username for u in first.users] == ["pager-0", "pager-1", "pager-2"]
    assert (first.pagination.end_index, first.pagination.total) == (3, 7)
    names = [u.username async for u in admin.iter_users(name="pager-", page_size=3)]
    assert names == [f"pager-{n}" for n in range(7)]
    everyone = await admin.list_users()
    assert everyone.pagination.total == 9  # 7 + admin + determined
    with pytest.raises(MasterBadRequest) as info:
        await admin.list_users(offset=10, limit=1)
    assert info.value.message == "offset out of bounds"


async def test_group_lifecycle(admin: DeterminedClient) -> None:
    a = await admin.create_user("member-a", "", active=True)
    b = await admin.create_user("member-b", "", active=True)
    group = await admin.create_group("ml-team", [a.id])
    assert [u.id for u in group.users] == [a.id]
    updated = await admin.update_group(group.id, name="ml-platform", add_users=[b.id], remove_users=[a.id])
    assert (updated.name, [u.id for u in updated.users]) == ("ml-platform", [b.id])
    fetched = await admin.get_group(group.id)
    assert fetched == updated
    by_name = await admin.search_groups(name="ml-platform")
    assert [(g.id, g.num_members) for g in by_name.groups] == [(group.id, 1)]
    assert [g.id async for g in admin.iter_groups(user_id=b.id)] == [group.id]
    assert (await admin.search_groups(user_id=a.id)).groups == ()
    with pytest.raises(MasterConflict) as info:
        await admin.update_group(group.id, add_users=[b.id])
    assert not info.value.is_duplicate_group()
    await admin.delete_group(group.id)
    with pytest.raises(MasterNotFound):
        await admin.get_group(group.id)


async def test_patch_user_fields_and_deactivation(admin: DeterminedClient) -> None:
    user = await admin.create_user("dave", "Dave", active=True)
    patched = await admin.patch_user(user.id, active=False, display_name="David")
    assert (patched.active, patched.display_name, patched.remote) == (False, "David", True)
    assert (await admin.get_user(user.id)).active is False


async def test_master_info_and_ping_need_no_login(make_client: ClientFactory) -> None:
    client = make_client(password="wrong")  # would fail to log in
    info = await client.master_info()
    assert info.version
    assert await client.ping()
    assert client.healthy
    assert client.credential.logins == 0


async def test_change_group_applies_the_update_without_an_answer(admin: DeterminedClient) -> None:
    a = await admin.create_user("change-a", "", active=True)
    b = await admin.create_user("change-b", "", active=True)
    group = await admin.create_group("changing", [a.id])
    # "Without an answer" is its return type, None (mypy checks it); the fetch shows the update applied.
    await admin.change_group(group.id, name="changed", add_users=[b.id], remove_users=[a.id])
    fetched = await admin.get_group(group.id)
    assert (fetched.name, [u.id for u in fetched.users]) == ("changed", [b.id])
    with pytest.raises(MasterConflict):
        await admin.change_group(group.id, add_users=[b.id])


async def test_assignments_add_and_remove_members_idempotently(admin: DeterminedClient) -> None:
    a = await admin.create_user("assign-a", "", active=True)
    b = await admin.create_user("assign-b", "", active=True)
    one = await admin.create_group("one", [a.id])
    two = await admin.create_group("two")

    async def members() -> dict[int, set[int]]:
        return {g.id: {u.id for u in (await admin.get_group(g.id)).users} for g in (one, two)}

    # An existing membership is skipped, not a 409 (§4.16), and a repeated group id is sent once.
    await admin.add_to_groups([a.id, b.id], [one.id, two.id, one.id])
    assert await members() == {one.id: {a.id, b.id}, two.id: {a.id, b.id}}
    await admin.remove_from_groups([a.id], [one.id, two.id])
    assert await members() == {one.id: {b.id}, two.id: {b.id}}
    # None were members: the master's 404 is the goal state.
    await admin.remove_from_groups([a.id], [one.id, two.id])
    with pytest.raises(MasterNotFound) as info:
        await admin.add_to_groups([a.id], [one.id, 999_999])
    assert info.value.message == "group does not exist or is a personal group: not found"
    with pytest.raises(MasterNotFound):
        await admin.remove_from_groups([b.id], [999_999])
    assert await members() == {one.id: {b.id}, two.id: {b.id}}


async def test_leave_groups_skips_groups_deleted_meanwhile(admin: DeterminedClient) -> None:
    a = await admin.create_user("leaver", "", active=True)
    kept = await admin.create_group("kept", [a.id])
    gone = await admin.create_group("gone", [a.id])
    other = await admin.create_group("other", [a.id])
    await admin.delete_group(gone.id)
    await admin.leave_groups(a.id, [kept.id, gone.id])
    assert [g.id async for g in admin.iter_groups(user_id=a.id)] == [other.id]
    await admin.leave_groups(a.id, [kept.id, gone.id])
    await admin.leave_groups(a.id, [])
    assert [g.id async for g in admin.iter_groups(user_id=a.id)] == [other.id]


async def test_logs_carry_templates_not_values_or_secrets(
    admin: DeterminedClient, captured_logs: LogReader
) -> None:
    await admin.create_user("erin", "", active=True, remote=False, password="Hunter2-secret")
    await admin.get_user_by_username("erin")
    events = [e for e in captured_logs() if e["event"] == "master.call"]
    assert [(e["method"], e["path"], e["status"]) for e in events] == [
        ("POST", "/api/v1/auth/login", 200),
        ("POST", "/api/v1/users", 200),
        ("GET", "/api/v1/users/{name}/by-username", 200),
    ]
    raw = captured_logs.raw()
    assert "Hunter2" not in raw
    assert "v2.public" not in raw
    assert "erin" not in raw
