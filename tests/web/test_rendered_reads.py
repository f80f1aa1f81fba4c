"""Kept encodings of users (bridge/web/rendered.py): a read never shows a version older than the store's."""

from __future__ import annotations

import ast
import json
import tracemalloc
from pathlib import Path
from typing import Any

from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge import jsonenc
from bridge.store import UserFields, open_store
from bridge.web.keys import RENDERED_USERS
from bridge.web.rendered import ENTRY_OVERHEAD, RenderedUsers
from tests.idp.harness import BASE_PATH, OKTA_BASIC, World, start_world

HEADERS = {"Authorization": OKTA_BASIC, "Content-Type": "application/scim+json"}
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def _create(world: World, user_name: str) -> str:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}
    created = await world.bridge.post(f"{BASE_PATH}/Users", json=body, headers=HEADERS)
    assert created.status == 201
    return str((await created.json(content_type=None))["id"])


async def _get(world: World, scim_id: str, **headers: str) -> tuple[int, str | None, dict[str, Any]]:
    response = await world.bridge.get(f"{BASE_PATH}/Users/{scim_id}", headers={**HEADERS, **headers})
    body = await response.json(content_type=None) if response.status != 304 else {}
    return response.status, response.headers.get("ETag"), body


async def _filtered(world: World, user_name: str) -> dict[str, Any]:
    response = await world.bridge.get(f'{BASE_PATH}/Users?filter=userName eq "{user_name}"', headers=HEADERS)
    assert response.status == 200
    listed: dict[str, Any] = await response.json(content_type=None)
    return listed


async def test_a_write_through_this_bridge_is_read_back_at_once(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    scim_id = await _create(world, "ada")
    status, first_etag, first = await _get(world, scim_id)
    assert (status, first.get("displayName")) == (200, None)
    assert (await _get(world, scim_id))[1] == first_etag  # served from the kept encoding
    assert len(world.app[RENDERED_USERS]) == 1

    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ada L"}],
    }
    patched = await world.bridge.patch(f"{BASE_PATH}/Users/{scim_id}", json=patch, headers=HEADERS)
    assert patched.status == 200

    status, etag, body = await _get(world, scim_id)
    assert (status, body["displayName"]) == (200, "Ada L")
    assert etag != first_etag
    assert etag == body["meta"]["version"]
    (listed,) = (await _filtered(world, "ada"))["Resources"]
    assert listed == body
    assert (await _get(world, scim_id, **{"If-None-Match": first_etag or ""}))[0] == 200
    assert (await _get(world, scim_id, **{"If-None-Match": etag or ""}))[0] == 304

    deleted = await world.bridge.delete(f"{BASE_PATH}/Users/{scim_id}", headers=HEADERS)
    assert deleted.status == 204
    assert (await _get(world, scim_id))[0] == 404
    assert (await _filtered(world, "ada"))["totalResults"] == 0


async def test_a_write_answer_replaces_the_kept_body_it_outdates_with_what_a_read_renders(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """The GET an IdP sends after its PATCH finds the written version kept, byte for byte what a read of
    the user renders (groups, meta, the extension included); a write adds no kept body of its own, nor does
    one with a projection replace it."""
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    scim_id = await _create(world, "lovelace")
    kept = world.app[RENDERED_USERS]
    assert len(kept) == 0  # a create keeps nothing
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "analysts"}
    group["members"] = [{"value": scim_id}]  # type: ignore[list-item]
    assert (await world.bridge.post(f"{BASE_PATH}/Groups", json=group, headers=HEADERS)).status == 201
    _, first_etag, _ = await _get(world, scim_id)
    assert len(kept) == 1

    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": "displayName", "value": "Ada L"},
            {"op": "add", "path": f"{enterprise}:department", "value": "Engines"},
        ],
    }
    patched = await world.bridge.patch(f"{BASE_PATH}/Users/{scim_id}", json=patch, headers=HEADERS)
    assert patched.status == 200
    answer = await patched.read()
    base = f"http://{world.bridge.host}:{world.bridge.port}{BASE_PATH}"
    assert kept.get(scim_id, base) == (int(patched.headers["ETag"].split('"')[1]), answer)
    got = await world.bridge.get(f"{BASE_PATH}/Users/{scim_id}", headers=HEADERS)
    assert (await got.read(), got.headers["ETag"]) == (answer, patched.headers["ETag"])
    written = json.loads(answer)
    assert written["displayName"] == "Ada L"
    assert [g["display"] for g in written["groups"]] == ["analysts"]
    assert written[enterprise] == {"department": "Engines"}
    assert patched.headers["ETag"] != first_etag

    projected = await world.bridge.patch(
        f"{BASE_PATH}/Users/{scim_id}?attributes=userName",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Countess"}]},
        headers=HEADERS,
    )
    assert projected.status == 200
    assert set(json.loads(await projected.read())) == {"schemas", "id", "meta", "userName"}
    assert kept.get(scim_id, base) == (int(patched.headers["ETag"].split('"')[1]), answer)  # left as it was
    status, etag, body = await _get(world, scim_id)
    assert (status, etag, body["title"]) == (200, projected.headers["ETag"], "Countess")

    again = await world.bridge.patch(
        f"{BASE_PATH}/Users/{scim_id}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Lady"}]},
        headers=HEADERS,
    )
    assert again.status == 200
    # Another base URL is kept apart, so this read renders the user from its row.
    fresh = await world.bridge.get(
        f"{BASE_PATH}/Users/{scim_id}", headers={**HEADERS, "Host": "other.example"}
    )
    host = base.removesuffix(BASE_PATH).encode()
    assert (await fresh.read()).replace(b"http://other.example", host) == await again.read()


async def test_a_write_by_another_process_on_the_same_database_is_read_back(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    scim_id = await _create(world, "grace")
    _, before_etag, before = await _get(world, scim_id)
    assert before["userName"] == "grace"

    # What `scim-bridge reconcile --repair` does: its own Store on the same file, writing the user row.
    other = await open_store(tmp_path / "bridge.db")
    try:
        record = await other.get_user_by_scim_id(scim_id)
        assert record is not None
        await other.update_user(
            scim_id,
            fields=UserFields(
                user_name=record.user_name,
                external_id="from-reconcile",
                display_name=record.display_name,
                active=record.active,
                doc={**record.doc, "externalId": "from-reconcile"},
            ),
        )
    finally:
        await other.close()

    status, etag, after = await _get(world, scim_id)
    assert (status, after["externalId"]) == (200, "from-reconcile")
    assert etag != before_etag
    assert (await _filtered(world, "grace"))["Resources"] == [after]


async def test_each_base_url_reads_its_own_locations(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    scim_id = await _create(world, "hopper")
    for host in ("a.example:8080", "b.example", "a.example:8080"):
        _, _, body = await _get(world, scim_id, Host=host)
        assert body["meta"]["location"] == f"http://{host}{BASE_PATH}/Users/{scim_id}"


def test_the_lru_keeps_newest_versions_within_its_bound() -> None:
    kept = RenderedUsers(capacity=2)
    kept.put("a", "http://x", 2, b"a2")
    kept.put("a", "http://x", 1, b"a1")  # an older rendering finishing late does not win
    assert kept.get("a", "http://x") == (2, b"a2")
    assert kept.get("a", "http://y") is None
    kept.put("b", "http://x", 1, b"b1")
    assert kept.get("a", "http://x") == (2, b"a2")  # a is now the most recently used
    kept.put("c", "http://x", 1, b"c1")
    assert (kept.get("b", "http://x"), len(kept)) == (None, 2)
    assert kept.get("a", "http://x") == (2, b"a2")


def test_a_refresh_replaces_only_a_kept_body_of_an_older_version_under_its_base() -> None:
    kept = RenderedUsers()
    kept.refresh("a", "http://x", 1, b"a1")  # a write's answer: nothing kept, nothing added
    assert len(kept) == 0
    kept.put("a", "http://x", 2, b"a2")
    kept.refresh("a", "http://y", 3, b"a3")
    kept.refresh("a", "http://x", 1, b"a1")  # a slower write's answer of an older version
    assert (kept.get("a", "http://x"), len(kept)) == ((2, b"a2"), 1)
    kept.refresh("a", "http://x", 3, b"a3")
    assert kept.get("a", "http://x") == (3, b"a3")


def test_the_lru_keeps_its_bodies_within_its_byte_bound() -> None:
    kept = RenderedUsers(max_bytes=3 * (100 + ENTRY_OVERHEAD))
    for name in "abc":
        kept.put(name, "http://x", 1, b"x" * 100)
    assert len(kept) == 3
    kept.put("a", "http://x", 2, b"y" * 100)  # a replaced entry gives its bytes back
    assert len(kept) == 3
    kept.put("d", "http://x", 1, b"z" * 250)  # the least recently used go until the new body fits
    assert (kept.get("b", "http://x"), kept.get("c", "http://x"), len(kept)) == (None, None, 2)
    assert kept.get("a", "http://x") == (2, b"y" * 100)
    kept.put("e", "http://x", 1, b"w" * 4 * (100 + ENTRY_OVERHEAD))  # bigger than the bound: kept by none
    assert len(kept) == 0


def test_a_kept_body_holds_about_its_length_not_its_encoders_buffer() -> None:
    kept = RenderedUsers()
    tracemalloc.start()
    try:
        body = jsonenc.dumps({"userName": "x" * 500})
        kept.put("a", "http://x", 1, body)
        del body
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 1500  # orjson encodes into a 4 KiB buffer, which its bytes object keeps


def test_every_write_to_a_user_row_bumps_its_version() -> None:
    """Kept encodings are only as fresh as this rule: an UPDATE of `users` that left `version` alone
    would let a read serve the row's previous rendering (bridge/web/rendered.py)."""
    root = Path(__file__).resolve().parents[2] / "bridge"
    updates = [
        node.value
        for path in root.rglob("*.py")
        if "emulator" not in path.parts
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "UPDATE users " in node.value
    ]
    assert updates, "the store writes users somewhere"
    for statement in updates:
        assert "version = version + 1" in statement, statement
