"""100k users and 10k groups in memory: indexed lookups and paging stay correct at that size."""

from __future__ import annotations

from pytest_aiohttp import AiohttpClient

from bridge.emulator import EmulatorConfig
from tests.emulator.conftest import start_master

USERS = 100_000
GROUPS = 10_000


async def test_directory_at_scale(aiohttp_client: AiohttpClient) -> None:
    master = await start_master(aiohttp_client, EmulatorConfig())
    state = master.state
    for n in range(USERS):
        state.add_user(
            f"user{n:06d}", admin=False, active=True, remote=False, display_name=None, password=None
        )
    group_ids = []
    for n in range(GROUPS):
        group = state.add_group(f"group{n:05d}")
        group_ids.append(group.id)
        # Ten members each, spread over the directory.
        state.add_members(group.id, [3 + (n * 10 + k) % USERS for k in range(10)])
    admin = await master.login("admin")
    total = USERS + 2
    tail = await master.call("GET", "/api/v1/users?offset=-1", admin)
    assert [u["username"] for u in tail.body["users"]] == [f"user{USERS - 1:06d}"]
    assert tail.body["pagination"]["total"] == total
    page = await master.call("GET", "/api/v1/users?offset=50000&limit=3&orderBy=ORDER_BY_DESC", admin)
    assert [u["id"] for u in page.body["users"]] == [total - 50000, total - 50001, total - 50002]
    named = await master.call("GET", "/api/v1/users?name=user09999&limit=20", admin)
    assert named.body["pagination"]["total"] == 10
    by_name = await master.call("GET", "/api/v1/users/user054321/by-username", admin)
    assert by_name.body["user"]["id"] == 54321 + 3
    search = await master.call("POST", "/api/v1/groups/search", admin, {"limit": 500, "offset": 9900})
    assert search.body["pagination"]["total"] == GROUPS
    assert len(search.body["groups"]) == 100
    assert all(g["numMembers"] == 10 for g in search.body["groups"])
    by_group_name = await master.call(
        "POST", "/api/v1/groups/search", admin, {"limit": 1, "name": "group04242"}
    )
    assert by_group_name.body["groups"][0]["group"]["groupId"] == group_ids[4242]
    member_of = await master.call("POST", "/api/v1/groups/search", admin, {"limit": 10, "userId": 3})
    assert [g["group"]["name"] for g in member_of.body["groups"]] == ["group00000"]
    assert state.similar_name_taken("USER000007", 1)
