"""Wire conventions: jsonpb parsing, routing, JSON shapes, GetUsers filters/sort/paging, tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from pytest_aiohttp import AiohttpClient

from bridge.emulator import EmulatorConfig
from bridge.emulator.durations import DurationError, parse_go_duration
from bridge.emulator.wire import timestamp
from tests.emulator.conftest import Master, start_master

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z$")


async def test_user_json_shape(master: Master, admin_token: str) -> None:
    user = await master.create_user(admin_token, "bob")
    assert set(user) == {
        "id",
        "username",
        "admin",
        "active",
        "agentUserGroup",
        "displayName",
        "modifiedAt",
        "remote",
    }
    assert user["agentUserGroup"] is None
    assert user["displayName"] == ""
    assert STAMP.match(user["modifiedAt"])
    assert user["id"] == 3


def test_timestamps_trim_fraction_groups() -> None:
    assert timestamp(datetime(2025, 3, 20, 10, 15, 30, tzinfo=UTC)) == "2025-03-20T10:15:30Z"
    assert timestamp(datetime(2025, 3, 20, 10, 15, 30, 500000, tzinfo=UTC)) == "2025-03-20T10:15:30.500Z"
    assert timestamp(datetime(2025, 3, 20, 10, 15, 30, 123456, tzinfo=UTC)) == "2025-03-20T10:15:30.123456Z"


async def test_post_user_defaults_to_inactive(master: Master, admin_token: str) -> None:
    reply = await master.call("POST", "/api/v1/users", admin_token, {"user": {"username": "idle"}})
    assert reply.body["user"]["active"] is False


async def test_jsonpb_nulls_snake_case_and_quoted_ints(master: Master, admin_token: str) -> None:
    body = {"user": {"username": "  sso@example.com ", "remote": True, "active": True}, "password": None}
    created = await master.call("POST", "/api/v1/users", admin_token, body)
    assert created.status == 200
    assert created.body["user"]["username"] == "sso@example.com"
    token = await master.call("POST", "/api/v1/tokens", admin_token, {"user_id": "2", "lifespan": None})
    assert token.status == 200
    revoked = await master.call(
        "PATCH",
        f"/api/v1/tokens/{token.body['tokenId']}",
        admin_token,
        {"tokenId": str(token.body["tokenId"]), "setRevoked": True, "description": None},
    )
    assert revoked.body["tokenInfo"]["revoked"] is True
    assert revoked.body["tokenInfo"]["description"] == ""
    unknown = await master.call("PATCH", "/api/v1/users/2", admin_token, {"displayName": None, "nonsense": 1})
    assert unknown.status == 200


async def test_malformed_body_and_empty_patch(master: Master, admin_token: str) -> None:
    bad = await master.call("POST", "/api/v1/users", admin_token, raw=b"{not json")
    assert bad.status == 400
    assert bad.body["error"]["reason"] == "InvalidArgument"
    empty = await master.call("PATCH", "/api/v1/users/2", admin_token, raw=b"")
    assert (empty.status, empty.error) == (400, "must provide user")
    missing = await master.call("POST", "/api/v1/users", admin_token, raw=b"")
    assert (missing.status, missing.error) == (400, "must specify user to create")


async def test_routing_rules(master: Master, admin_token: str) -> None:
    slash = await master.call("GET", "/api/v1/users/", admin_token)
    assert slash.status == 200
    mismatch = await master.call("GET", "/api/v1/users/abc", admin_token)
    assert mismatch.status == 400
    assert (
        mismatch.error
        == 'type mismatch, parameter: user_id, error: strconv.ParseInt: parsing "abc": invalid syntax'
    )
    wrong_method = await master.call("PUT", "/api/v1/users", admin_token, {})
    assert wrong_method.body == {"error": {"code": 12, "reason": "Unimplemented", "error": "Not Implemented"}}
    assert (await master.call("GET", "/api/v1/master")).status == 200
    assert (await master.call("GET", "/info")).body["version"] == "0.38.1"


async def _names(master: Master, token: str, query: str) -> list[str]:
    reply = await master.call("GET", f"/api/v1/users?{query}", token)
    assert reply.status == 200, reply.body
    return [u["username"] for u in reply.body["users"]]


async def test_get_users_filters_and_sorting(master: Master, admin_token: str) -> None:
    await master.create_user(admin_token, "zed", displayName="Alpha Person")
    await master.create_user(admin_token, "a_b", active=False)
    await master.create_user(admin_token, "axb", admin=True)
    assert await _names(master, admin_token, "name=ALPHA") == ["zed"]
    assert await _names(master, admin_token, "name=a_b") == ["a_b", "axb"]
    assert await _names(master, admin_token, "name=a%5C_b") == ["a_b"]
    assert await _names(master, admin_token, "active=false") == ["a_b"]
    assert await _names(master, admin_token, "admin=t&active=1") == ["admin", "axb"]
    assert await _names(master, admin_token, "sort_by=SORT_BY_USER_NAME") == [
        "a_b",
        "admin",
        "axb",
        "determined",
        "zed",
    ]
    assert await _names(master, admin_token, "sortBy=2&orderBy=ORDER_BY_DESC") == [
        "zed",
        "determined",
        "axb",
        "admin",
        "a_b",
    ]
    # NULL display names sort last ascending, first descending; ties by id.
    assert await _names(master, admin_token, "sortBy=SORT_BY_DISPLAY_NAME") == [
        "zed",
        "admin",
        "determined",
        "a_b",
        "axb",
    ]
    assert await _names(master, admin_token, "sortBy=SORT_BY_DISPLAY_NAME&orderBy=ORDER_BY_DESC") == [
        "admin",
        "determined",
        "a_b",
        "axb",
        "zed",
    ]
    # Only admin has logged in; the NULL last logins tie, so id orders them, whatever their modifiedAt.
    await master.call("PATCH", "/api/v1/users/3", admin_token, {"displayName": "Zed", "active": True})
    assert await _names(master, admin_token, "sortBy=SORT_BY_LAST_AUTH_TIME") == [
        "admin",
        "determined",
        "zed",
        "a_b",
        "axb",
    ]
    bad = await master.call("GET", "/api/v1/users?active=maybe", admin_token)
    assert bad.status == 400


async def test_get_users_pagination(master: Master, admin_token: str) -> None:
    for name in ("u1", "u2", "u3"):
        await master.create_user(admin_token, name)
    reply = await master.call("GET", "/api/v1/users?offset=-2&limit=1", admin_token)
    assert [u["username"] for u in reply.body["users"]] == ["u2"]
    assert reply.body["pagination"] == {"offset": -2, "limit": 1, "startIndex": 3, "endIndex": 4, "total": 5}
    end = await master.call("GET", "/api/v1/users?offset=5", admin_token)
    assert end.body["users"] == []
    assert (await master.call("GET", "/api/v1/users?offset=-6", admin_token)).error == "offset out of bounds"
    negative = await master.call("GET", "/api/v1/users?limit=-1", admin_token)
    assert negative.status == 500


async def test_group_search_paging(master: Master, admin_token: str) -> None:
    ids = []
    for name in ("a", "b", "c"):
        made = await master.call("POST", "/api/v1/groups", admin_token, {"name": name, "addUsers": [2]})
        ids.append(made.body["group"]["groupId"])
    await master.call("PATCH", "/api/v1/users", admin_token, {"userIds": [2], "activate": False})
    page = await master.call("POST", "/api/v1/groups/search", admin_token, {"limit": 2, "offset": -5})
    assert [g["group"]["name"] for g in page.body["groups"]] == ["a", "b"]
    assert page.body["groups"][0]["numMembers"] == 1
    assert page.body["pagination"] == {"offset": -5, "limit": 2, "startIndex": -5, "endIndex": -3, "total": 3}
    everything = await master.call("POST", "/api/v1/groups/search", admin_token, {"limit": -1, "offset": 1})
    assert [g["group"]["groupId"] for g in everything.body["groups"]] == ids[1:]
    named = await master.call("POST", "/api/v1/groups/search", admin_token, {"limit": 10, "name": "B"})
    assert named.body["groups"] == []
    mine = await master.call("POST", "/api/v1/groups/search", admin_token, {"limit": 10, "userId": 1})
    assert mine.body["groups"] == []
    past = await master.call("POST", "/api/v1/groups/search", admin_token, {"limit": 10, "offset": 10})
    assert past.body["groups"] == []
    assert past.body["pagination"]["total"] == 3


async def test_assignments_idempotent_and_transactional(master: Master, admin_token: str) -> None:
    g1 = (await master.call("POST", "/api/v1/groups", admin_token, {"name": "g1", "addUsers": [1]})).body[
        "group"
    ]
    g2 = (await master.call("POST", "/api/v1/groups", admin_token, {"name": "g2"})).body["group"]
    body = {"userIds": [1, 2], "addGroups": [g1["groupId"], g2["groupId"]]}
    assert (await master.call("PATCH", "/api/v1/users/assignments", admin_token, body)).body == {}
    assert master.state.members[g2["groupId"]] == {1, 2}
    dup = await master.call(
        "PATCH",
        "/api/v1/users/assignments",
        admin_token,
        {"userIds": [1], "addGroups": [g1["groupId"], g1["groupId"]]},
    )
    assert dup.status == 404


async def test_tokens_lifespans_and_listing(master: Master, admin_token: str) -> None:
    cases = {
        "3d": (400, 'failed to parse lifespan 3d: time: unknown unit "d" in duration "3d"'),
        "-2h": (400, "lifespan must be a Go-formatted duration string with a positive value"),
        "-1": (200, None),
        "2h45m": (200, None),
    }
    for lifespan, (status, text) in cases.items():
        reply = await master.call("POST", "/api/v1/tokens", admin_token, {"userId": 2, "lifespan": lifespan})
        assert reply.status == status, lifespan
        if text:
            assert reply.error == text
    listed = await master.call(
        "GET", "/api/v1/tokens?sortBy=SORT_BY_EXPIRY&orderBy=ORDER_BY_DESC", admin_token
    )
    assert [t["tokenType"] for t in listed.body["tokenInfo"]] == ["TOKEN_TYPE_ACCESS_TOKEN"] * 2
    expiries = [datetime.fromisoformat(t["expiry"]) for t in listed.body["tokenInfo"]]
    assert expiries == sorted(expiries, reverse=True)
    first = listed.body["tokenInfo"][0]["id"]
    await master.call("PATCH", f"/api/v1/tokens/{first}", admin_token, {"setRevoked": True})
    assert len((await master.call("GET", "/api/v1/tokens", admin_token)).body["tokenInfo"]) == 1
    assert (
        len((await master.call("GET", "/api/v1/tokens?showInactive=true", admin_token)).body["tokenInfo"])
        == 2
    )
    again = await master.call("PATCH", f"/api/v1/tokens/{first}", admin_token, {"setRevoked": True})
    assert (again.status, again.error) == (500, f"unable to update inactive token with ID {first}")
    ghost = await master.call("GET", "/api/v1/tokens?username=ghost", admin_token)
    assert (ghost.status, ghost.error) == (500, "sql: no rows in result set")
    session = master.state.sessions_by_secret[admin_token]
    not_token = await master.call("PATCH", f"/api/v1/tokens/{session}", admin_token, {})
    assert (not_token.status, not_token.error) == (500, "sql: no rows in result set")


async def test_non_admin_token_rules(master: Master, admin_token: str) -> None:
    await master.create_user(admin_token, "bob", password="pw")
    bob = await master.login("bob", "pw")
    own = await master.call("POST", "/api/v1/tokens", bob, {"userId": 3})
    assert (own.status, own.error) == (
        403,
        "only admin privileged users can create token for own/other users",
    )
    others = await master.call("GET", "/api/v1/tokens", bob)
    assert (others.status, others.error) == (403, "only admin privileged users can view other users")
    assert (await master.call("GET", "/api/v1/tokens?username=bob", bob)).status == 200


def test_go_durations() -> None:
    assert parse_go_duration("1h30m").total_seconds() == 5400
    assert parse_go_duration("0").total_seconds() == 0
    with pytest.raises(DurationError, match='missing unit in duration "5"'):
        parse_go_duration("5")


async def test_rbac_mode(aiohttp_client: AiohttpClient) -> None:
    master = await start_master(aiohttp_client, EmulatorConfig(rbac=True, initial_password="S3cretPass"))
    assert (await master.call("GET", "/api/v1/master")).body["rbacEnabled"] is True
    assert (
        await master.call("POST", "/api/v1/auth/login", json={"username": "admin", "password": ""})
    ).status == 401
    admin = await master.login("admin", "S3cretPass")
    await master.create_user(admin, "bob", password="pw")
    bob = await master.login("bob", "pw")
    reply = await master.call("POST", "/api/v1/groups", bob, {"name": "g"})
    assert (reply.status, reply.error) == (
        403,
        "access denied; required permissions: PERMISSION_TYPE_UPDATE_GROUP",
    )


async def test_rbac_mode_says_user_not_found_with_the_permissions_hint(aiohttp_client: AiohttpClient) -> None:
    """With the RBAC UI enabled the master appends its hint to every "user not found" (master-api.md §4.5), so
    the bridge must know both texts as the master's own; the emulator answered the basic text in both modes."""
    master = await start_master(aiohttp_client, EmulatorConfig(rbac=True, initial_password="S3cretPass"))
    admin = await master.login("admin", "S3cretPass")
    hinted = "user not found, please check your permissions."
    replies = [
        await master.call("GET", "/api/v1/users/9999", admin),
        await master.call("GET", "/api/v1/users/nobody/by-username", admin),
        await master.call("PATCH", "/api/v1/users/9999", admin, {"active": False}),
        await master.call("POST", "/api/v1/tokens", admin, {"userId": 9999}),
    ]
    assert [(r.status, r.error) for r in replies] == [(404, hinted)] * 4


async def test_pretty_query_indents(master: Master) -> None:
    async with master.client.get("/api/v1/master?pretty") as response:
        text = await response.text()
    assert text.startswith('{\n  "version": "0.38.1"')
