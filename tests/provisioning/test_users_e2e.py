"""UserService end to end: bridge ↔ emulator ↔ SQLite, checked through SCIM and the master's REST API."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import quote

from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.store import IntentState
from bridge.web.app import create_app
from tests.conftest import LogReader
from tests.idp.harness import BASE_PATH, World, seed_settings, start_world
from tests.provisioning.scim import GROUP_URN, HEADERS, call, create_group, create_user, patch, user_body


async def test_create_is_remote_active_with_location_and_etag(world: World) -> None:
    response = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada Lovelace"))
    assert response.status == 201
    body = await response.json()
    assert response.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["location"].endswith(f"{BASE_PATH}/Users/{body['id']}")
    assert response.headers["ETag"] == body["meta"]["version"]
    assert body["active"] is True
    assert body["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    user = (await world.master.state()).users["ada@example.com"]
    assert (user.active, user.remote, user.display_name) == (True, True, "Ada Lovelace")
    audit = await world.store.recent_audit(1)
    assert (audit[0].operation, audit[0].resource_id, audit[0].outcome) == ("create", body["id"], "ok")
    assert audit[0].client == "basic"


async def test_display_name_falls_back_to_name_parts(world: World) -> None:
    await create_user(world, "grace@example.com", None, name={"givenName": "Grace", "familyName": "Hopper"})
    assert (await world.master.state()).users["grace@example.com"].display_name == "Grace Hopper"


async def test_an_integer_beyond_64_bits_keeps_every_digit(world: World) -> None:
    # orjson, the fast body reader, would read it as a float (1.2345678901234568e+29): the body takes the
    # exact reader instead, and the string attribute keeps the number's digits.
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    created = await create_user(
        world,
        "digits@example.com",
        "Digits",
        **{enterprise: {"employeeNumber": 123456789012345678901234567890}},
    )
    assert created[enterprise]["employeeNumber"] == "123456789012345678901234567890"
    response = await call(world, "GET", f"/Users/{created['id']}")
    assert (await response.json())[enterprise]["employeeNumber"] == "123456789012345678901234567890"


async def test_duplicate_user_name_is_409_case_insensitively(world: World) -> None:
    await create_user(world, "ada@example.com", "Ada")
    response = await call(world, "POST", "/Users", user_body("ADA@example.com", "Ada again"))
    assert response.status == 409
    assert (await response.json())["scimType"] == "uniqueness"
    assert "ADA@example.com" not in (await world.master.state()).users


async def test_protected_and_unmanaged_accounts_are_409(world: World) -> None:
    await world.master.call(
        "POST", "/api/v1/users", {"user": {"username": "local-bob", "active": True}, "password": "Xy12345678"}
    )
    for name in ("admin", "Determined", "local-bob"):
        response = await call(world, "POST", "/Users", user_body(name, "Someone"))
        assert response.status == 409, name
        assert (await response.json())["scimType"] == "uniqueness"
    state = await world.master.state()
    assert state.users["admin"].display_name == ""
    assert not state.users["local-bob"].remote


async def test_create_is_one_master_post_and_the_master_refuses_unmanaged_names(
    world: World, captured_logs: LogReader
) -> None:
    await create_user(world, "first@example.com", "First")  # the bridge's own master login happens here
    await create_user(world, "ada@example.com", "Ada")
    assert (await world.store.recent_audit(1))[0].master_calls == 1
    calls = [(e["method"], e["path"]) for e in captured_logs() if e.get("event") == "master.call"]
    assert calls[-1] == ("POST", "/api/v1/users")
    assert ("GET", "/api/v1/users/{name}/by-username") not in calls
    await world.master.call(
        "POST", "/api/v1/users", {"user": {"username": "unmanaged", "active": True, "remote": True}}
    )
    response = await call(world, "POST", "/Users", user_body("unmanaged", "Someone"))
    assert response.status == 409
    body = await response.json()
    assert body["scimType"] == "uniqueness"
    assert "not managed by SCIM" in body["detail"]
    assert "scim-bridge adopt" in body["detail"]
    assert await world.store.pending_intents() == []
    assert await world.store.get_user_by_user_name("unmanaged") is None


async def test_over_long_user_names_are_invalid_value_without_a_master_call(world: World) -> None:
    longest = "a" * 1024
    assert (await call(world, "POST", "/Users", user_body(longest, "Long"))).status == 201
    response = await call(world, "POST", "/Users", user_body("b" * 1025, "Too Long"))
    assert response.status == 400
    assert (await response.json())["scimType"] == "invalidValue"
    assert (await world.store.recent_audit(1))[0].master_calls == 0
    user = await create_user(world, "ada@example.com", "Ada")
    rename = patch({"op": "replace", "path": "userName", "value": "c" * 900_000})
    assert (await call(world, "PATCH", f"/Users/{user['id']}", rename)).status == 400
    assert set((await world.master.state()).users) >= {longest, "ada@example.com"}


async def test_patch_sends_only_what_changed(world: World) -> None:
    user = await create_user(world, "ada@example.com", "Ada")
    response = await call(
        world,
        "PATCH",
        f"/Users/{user['id']}",
        patch({"op": "replace", "path": "externalId", "value": "00u1"}),
    )
    assert response.status == 200
    assert (await response.json())["externalId"] == "00u1"
    assert (await world.store.recent_audit(1))[0].master_calls == 0
    response = await call(
        world, "PATCH", f"/Users/{user['id']}", patch({"op": "Replace", "path": "active", "value": "False"})
    )
    assert (await response.json())["active"] is False
    assert (await world.store.recent_audit(1))[0].master_calls == 1
    assert not (await world.master.state()).users["ada@example.com"].active


async def test_rename_of_a_remote_user_uses_the_remote_flip(world: World) -> None:
    user = await create_user(world, "ada@example.com", "Ada Lovelace")
    body = user_body("augusta@example.com", "Ada Lovelace", id=user["id"])
    response = await call(world, "PUT", f"/Users/{user['id']}", body)
    assert response.status == 200
    assert (await response.json())["userName"] == "augusta@example.com"
    state = await world.master.state()
    assert "ada@example.com" not in state.users
    renamed = state.users["augusta@example.com"]
    assert (renamed.remote, renamed.active, renamed.display_name) == (True, True, "Ada Lovelace")


async def test_colliding_display_name_is_disambiguated_not_refused(world: World) -> None:
    await create_user(world, "john1@example.com", "John Smith")
    second = await create_user(world, "john2@example.com", "Johnny")
    response = await call(
        world,
        "PATCH",
        f"/Users/{second['id']}",
        patch({"op": "replace", "path": "displayName", "value": "John Smith"}),
    )
    assert response.status == 200
    assert (await response.json())["displayName"] == "John Smith"
    state = await world.master.state()
    assert state.users["john2@example.com"].display_name == "John Smith (john2@example.com)"


async def test_delete_deactivates_leaves_groups_and_relinks_on_post(world: World) -> None:
    user = await create_user(world, "ada@example.com", "Ada")
    await create_group(world, "Research", [user["id"]])
    before = await world.master.state()
    det_id = before.users["ada@example.com"].id
    assert (await call(world, "DELETE", f"/Users/{user['id']}")).status == 204
    assert (await call(world, "GET", f"/Users/{user['id']}")).status == 404
    assert (await call(world, "DELETE", f"/Users/{user['id']}")).status == 404
    after = await world.master.state()
    assert not after.users["ada@example.com"].active
    assert after.groups == {"Research": frozenset()}
    group = (await (await call(world, "GET", "/Groups")).json())["Resources"][0]
    assert "members" not in group or group["members"] == []
    again = await create_user(world, "ada@example.com", "Ada Again")
    assert again["id"] != user["id"]
    relinked = (await world.master.state()).users["ada@example.com"]
    assert (relinked.id, relinked.active, relinked.display_name) == (det_id, True, "Ada Again")
    assert len((await world.master.state()).users) == len(after.users)


async def test_etags_give_304_and_412(world: World) -> None:
    user = await create_user(world, "ada@example.com", "Ada")
    etag = user["meta"]["version"]
    cached = await call(world, "GET", f"/Users/{user['id']}", **{"If-None-Match": etag})
    assert cached.status == 304
    changed = await call(
        world,
        "PATCH",
        f"/Users/{user['id']}",
        patch({"op": "replace", "value": {"displayName": "Ada L"}}),
        **{"If-Match": etag},
    )
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    stale = await call(
        world,
        "PATCH",
        f"/Users/{user['id']}",
        patch({"op": "replace", "value": {"displayName": "Nope"}}),
        **{"If-Match": etag},
    )
    assert stale.status == 412
    assert (await world.master.state()).users["ada@example.com"].display_name == "Ada L"


async def test_list_filters_sorts_and_pages_from_the_store(world: World) -> None:
    for name in ("c@example.com", "a@example.com", "b@example.com"):
        await create_user(world, name, name.split("@")[0].upper())
    page = await (
        await call(world, "GET", "/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=1")
    ).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    assert page["Resources"][0]["userName"] == "b@example.com"
    by_email = await (
        await call(world, "GET", "/Users?filter=emails.value%20eq%20%22A@EXAMPLE.COM%22")
    ).json()
    assert [r["userName"] for r in by_email["Resources"]] == ["a@example.com"]
    searched = await call(
        world, "POST", "/Users/.search", {"filter": 'userName sw "b"', "attributes": ["userName"]}
    )
    resource = (await searched.json())["Resources"][0]
    assert resource["userName"] == "b@example.com"
    assert "emails" not in resource


async def test_user_name_eq_probe_answers_as_the_general_filter_does(world: World) -> None:
    """`userName eq` is answered by a lookup; an equivalent filter takes the SQL listing: same answers."""
    await create_user(world, "Kept@Example.com", "Kept User")
    gone = await create_user(world, "gone@example.com", "Gone User")
    assert (await call(world, "DELETE", f"/Users/{gone['id']}")).status == 204
    cases = [
        ('userName eq "kept@example.COM"', ""),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "KEPT@example.com"', ""),
        ('userName eq "kept@example.com"', "&startIndex=2"),
        ('userName eq "kept@example.com"', "&count=0"),
        ('userName eq "kept@example.com"', "&attributes=displayName"),
        ('userName eq "gone@example.com"', ""),
        ('userName eq "nobody@example.com"', ""),
    ]
    for text, extra in cases:
        probe = await (await call(world, "GET", f"/Users?filter={quote(text)}{extra}")).json()
        # The same condition twice is an `or` node: it goes through the compiled SQL listing.
        general = await (
            await call(world, "GET", f"/Users?filter={quote(f'{text} or {text}')}{extra}")
        ).json()
        assert probe == general, text + extra
    found = await (
        await call(world, "GET", "/Users?filter=" + quote('userName eq "kept@example.com"'))
    ).json()
    assert [r["userName"] for r in found["Resources"]] == ["Kept@Example.com"]


async def test_master_down_is_503_with_retry_after(world: World) -> None:
    await world.emulator.close()
    response = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert response.status == 503
    assert int(response.headers["Retry-After"]) >= 1
    listed = await (await call(world, "GET", "/Users")).json()
    assert listed["totalResults"] == 0


async def test_store_failure_after_master_create_is_compensated(world: World) -> None:
    # A real SQLite failure: a trigger makes the mapping insert abort after the master created the user.
    with sqlite3.connect(world.store.path) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
    response = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert response.status == 500
    master_user = (await world.master.state()).users["ada@example.com"]
    assert not master_user.active, "the unrecorded Determined user must not stay usable"
    assert await world.store.get_user_by_user_name("ada@example.com", include_tombstoned=True) is None
    assert await world.store.pending_intents() == []
    audit = await world.store.recent_audit(1)
    assert audit[0].outcome == "error:500"
    intent = await world.store.get_intent(1)
    assert intent is not None
    assert intent.state is IntentState.ROLLED_BACK


async def test_plain_json_content_type_is_accepted_and_logged(world: World, captured_logs: LogReader) -> None:
    response = await world.bridge.post(
        f"{BASE_PATH}/Users",
        data=json.dumps(user_body("ada@example.com", "Ada")).encode(),
        headers={**HEADERS, "Content-Type": "application/json"},
    )
    assert response.status == 201
    assert response.content_type == "application/scim+json"
    line = next(e for e in captured_logs() if e.get("event") == "request" and e.get("method") == "POST")
    assert (line["op"], line["resource"], line["status"]) == ("create", "User", 201)
    # At least the POST: the login and the session check are the start-up announcement's, unless it came later.
    assert line["master_calls"] >= 1


async def test_location_only_on_creation(world: World) -> None:
    """RFC 7644 §3.3: a created resource's answer has a Location; a read, a 304 and a write's 200 have none."""
    created = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada Lovelace"))
    body = await created.json()
    assert created.headers["Location"] == body["meta"]["location"]
    for read in (
        await call(world, "GET", f"/Users/{body['id']}"),
        await call(world, "GET", f"/Users/{body['id']}"),  # the kept encoding
        await call(world, "GET", f"/Users/{body['id']}?attributes=userName"),
        await call(world, "GET", f"/Users/{body['id']}", **{"If-None-Match": body["meta"]["version"]}),
        await call(world, "PUT", f"/Users/{body['id']}", user_body("ada@example.com", "Ada King")),
    ):
        assert read.status in (200, 304)
        assert "Location" not in read.headers
        assert read.headers["ETag"].startswith('W/"')
    group = await call(world, "POST", "/Groups", {"schemas": [GROUP_URN], "displayName": "Team"})
    assert group.headers["Location"] == (await group.json())["meta"]["location"]


async def test_locations_use_the_public_url(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(
        aiohttp_server, aiohttp_client, tmp_path, server={"public_url": "https://scim.example.com"}
    )
    response = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    body = await response.json()
    expected = f"https://scim.example.com/scim/v2/Users/{body['id']}"
    assert response.headers["Location"] == expected
    assert body["meta"]["location"] == expected
    group = await create_group(world, "Team", [body["id"]])
    assert group["members"][0]["$ref"] == expected
    assert group["meta"]["location"] == f"https://scim.example.com/scim/v2/Groups/{group['id']}"


async def test_locations_follow_a_trusted_proxy_and_only_it(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(
        aiohttp_server,
        aiohttp_client,
        tmp_path,
        server={"trusted_proxies": ["10.0.0.0/8", "127.0.0.1", "::1"]},
    )
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "scim.example.com"}
    response = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"), **forwarded)
    body = await response.json()
    expected = f"https://scim.example.com/scim/v2/Users/{body['id']}"
    assert (response.headers["Location"], body["meta"]["location"]) == (expected, expected)
    read = await call(world, "GET", f"/Users/{body['id']}", Forwarded="proto=https;host=idp.example.org")
    assert (await read.json())["meta"]["location"] == f"https://idp.example.org/scim/v2/Users/{body['id']}"
    own = await call(world, "GET", f"/Users/{body['id']}")
    assert (await own.json())["meta"]["location"] == f"{world.bridge.make_url('/scim/v2/Users')}/{body['id']}"


async def test_renaming_onto_a_protected_or_taken_name_is_409(world: World) -> None:
    ada = await create_user(world, "ada@example.com", "Ada")
    await create_user(world, "bob@example.com", "Bob")
    for name in ("admin", "BOB@example.com"):
        response = await call(
            world, "PATCH", f"/Users/{ada['id']}", patch({"op": "replace", "path": "userName", "value": name})
        )
        assert response.status == 409, name
    state = await world.master.state()
    assert state.users["ada@example.com"].active
    assert state.users["admin"].display_name == ""


async def test_readiness_reports_database_and_master(world: World) -> None:
    ready = await world.bridge.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == ["database", "master"]
    await world.emulator.close()
    down = await world.bridge.get("/readyz")
    assert down.status == 503
    assert set((await down.json())["reasons"]) == {"master"}


async def test_the_bridge_account_is_protected_with_token_auth(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    admin_world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    created = await admin_world.master.call(
        "POST",
        "/api/v1/users",
        {"user": {"username": "svc-bridge", "admin": True, "active": True}, "password": "Sv3cret!x"},
    )
    token = await admin_world.master.call(
        "POST",
        "/api/v1/tokens",
        {"userId": created["user"]["id"], "lifespan": "-1", "description": "scim-bridge"},
    )
    url = str(admin_world.emulator.make_url("")).rstrip("/")
    settings = seed_settings(
        url, tmp_path / "token.db", master={"token": token["token"], "username": None, "password": None}
    )
    client = await aiohttp_client(create_app(settings))
    response = await client.post(
        f"{BASE_PATH}/Users", json=user_body("SVC-bridge", "Sneaky"), headers=HEADERS
    )
    assert response.status == 409
    ok = await client.post(f"{BASE_PATH}/Users", json=user_body("ada@example.com", "Ada"), headers=HEADERS)
    assert ok.status == 201
