"""A user write's 404 means "the user is gone" only when it is the master's own `user not found`.

A 404 from anything else in the way (a proxy's page, a wrong path) says nothing about the user: the mapping stays
live and the IdP hears a retryable 500, not a 404, which it takes as "deleted" (a DELETE done while the account can
still log in) or "re-create it". The master's own answer still retires a stale mapping with a 404
(test_stale_users.py). Emulator and bridge on sockets, a fault proxy between them, SQLite in tmp_path.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse

from bridge.commands.import_builtin import run_import_builtin
from bridge.web.keys import SETTINGS
from tests.conftest import LogReader
from tests.idp.harness import World
from tests.provisioning.faults import (
    ASSIGNMENTS_PATH,
    PROXY_404,
    PROXY_PAGE_USER_NOT_FOUND,
    USER_PATH,
    FaultProxy,
    Rule,
)
from tests.provisioning.scim import (
    assert_delete_half_done_then_retried,
    call,
    create_group,
    create_user,
    patch,
    user_body,
)
from tests.provisioning.test_stale_members import LOST_DET_ID, stale_user

STALE_USER_PATH = rf"/api/v1/users/{LOST_DET_ID}"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


async def _retryable(response: ClientResponse) -> None:
    assert response.status == 500, await response.text()
    body = await response.json()
    assert (body["schemas"], body["status"]) == ([ERROR_URN], "500")


async def test_a_proxys_404_on_a_user_update_is_retried_not_a_missing_user(
    proxied: tuple[World, FaultProxy],
) -> None:
    """Before the fix the IdP heard 404 for a user the master still has (Entra and Okta then re-create it)."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    rename = patch({"op": "replace", "path": "displayName", "value": "Augusta"})
    proxy.rules.append(Rule("PATCH", USER_PATH, status=404, text=PROXY_404))
    await _retryable(await call(world, "PATCH", f"/Users/{ada['id']}", rename))
    record = await world.store.get_user_by_scim_id(ada["id"])
    assert record is not None
    assert record.display_name == "Ada"
    assert await world.store.pending_intents() == []
    assert (await call(world, "PATCH", f"/Users/{ada['id']}", rename)).status == 200
    assert (await world.master.state()).users["ada@example.com"].display_name == "Augusta"


async def test_a_proxys_404_on_a_user_write_asks_nothing_more_even_when_the_user_is_gone(
    proxied: tuple[World, FaultProxy],
) -> None:
    """Only the master's own "user not found" is confirmed by a GET (as a group write's 404 is only probed after
    the master's own answer). Before, a proxy's 404 was followed by that GET, and the master's answer to it
    retired the mapping with a 404 to the IdP where the documented answer to any other 404 is a 500."""
    world, proxy = proxied
    ghost = await stale_user(world)
    proxy.rules.append(Rule("PATCH", USER_PATH, status=404, text=PROXY_404, times=1))
    since = len(proxy.seen)
    rename = patch({"op": "replace", "path": "displayName", "value": "Augusta"})
    await _retryable(await call(world, "PATCH", f"/Users/{ghost.scim_id}", rename))
    # (The world's first authenticated call: its login and session check come first.)
    assert [s for s in proxy.seen[since:] if "/api/v1/users/" in s] == [f"PATCH /api/v1/users/{ghost.det_id}"]
    live = await world.store.get_user_by_scim_id(ghost.scim_id)
    assert live is not None
    assert live.tombstoned_at is None
    # The IdP's retry meets the master's own answer, which the GET confirms: the mapping is retired.
    assert (await call(world, "PATCH", f"/Users/{ghost.scim_id}", rename)).status == 404
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is None


async def test_a_proxys_404_on_a_user_delete_keeps_the_user_and_is_retried(
    proxied: tuple[World, FaultProxy],
) -> None:
    """Before the fix the DELETE answered 404, which an IdP takes as done: the Determined account stayed active
    and mapped, and nobody would ever deactivate it."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("PATCH", USER_PATH, status=404, text=PROXY_404))
    await _retryable(await call(world, "DELETE", f"/Users/{ada['id']}"))
    assert (await call(world, "GET", f"/Users/{ada['id']}")).status == 200
    assert (await world.master.state()).users["ada@example.com"].active
    assert (await call(world, "DELETE", f"/Users/{ada['id']}")).status == 204
    assert not (await world.master.state()).users["ada@example.com"].active


async def test_a_proxys_page_saying_user_not_found_is_not_the_masters_answer(
    proxied: tuple[World, FaultProxy],
) -> None:
    """Only the master's whole text counts, as for groups: a gateway's 404 page that contains "user not found"
    is not it. Before the fix the words anywhere in the page were enough: the DELETE took the user as gone
    (204, mapping tombstoned, user.deleted_missing_on_master) while the Determined account stayed active."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    proxy.rules.append(Rule("PATCH", USER_PATH, status=404, page=PROXY_PAGE_USER_NOT_FOUND))
    await _retryable(await call(world, "DELETE", f"/Users/{ada['id']}"))
    record = await world.store.get_user_by_scim_id(ada["id"])
    assert record is not None
    assert record.tombstoned_at is None
    assert (await world.master.state()).users["ada@example.com"].active
    assert (await call(world, "DELETE", f"/Users/{ada['id']}")).status == 204
    assert not (await world.master.state()).users["ada@example.com"].active


async def test_import_builtin_stops_on_a_proxys_404_instead_of_skipping_a_user_that_exists(
    proxied: tuple[World, FaultProxy], tmp_path: Path
) -> None:
    """Before the fix the row was skipped as "does not exist" (exit 0), and the plugin's SCIM id, which the IdP
    links to, was lost for a user the master has. The master's own answer still skips (test_adoption.py)."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    record = await world.store.get_user_by_scim_id(ada["id"])
    assert record is not None
    await call(world, "DELETE", f"/Users/{ada['id']}")
    await world.store.forget_tombstone(ada["id"])  # unmapped: the plugin's row is what would map it
    scim_id = str(uuid.uuid4())
    path = tmp_path / "scim-users.json"
    path.write_text(json.dumps([{"id": scim_id, "user_id": record.det_id, "external_id": None}]))
    proxy.rules.append(Rule("GET", rf"/api/v1/users/{record.det_id}", status=404, text=PROXY_404))
    out = io.StringIO()
    assert await run_import_builtin(world.app[SETTINGS], str(path), out=out) == 3
    assert "does not exist" not in out.getvalue()
    assert f"import failed: the master could not be used: MasterNotFound: {PROXY_404}" in out.getvalue()
    assert await world.store.get_user_by_det_id(record.det_id, include_tombstoned=True) is None


async def test_a_proxys_404_on_leaving_the_groups_fails_the_delete_instead_of_reading_as_a_deleted_group(
    proxied: tuple[World, FaultProxy],
) -> None:
    """Only the master's own "group does not exist" makes a DELETE re-read the user's groups and try again
    without the deleted one; before the fix any 404 on the assignments call did (a groups search and a second
    call), so a proxy's page passed for a group deleted meanwhile. Now the DELETE fails as for any other
    failure after the deactivation: a retryable 500, the intent left pending, and the IdP's retry finishes it."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    await create_group(world, "Team", [ada["id"]])
    proxy.rules.append(Rule("PATCH", ASSIGNMENTS_PATH, status=404, text=PROXY_404))
    since = len(proxy.seen)
    await _retryable(await call(world, "DELETE", f"/Users/{ada['id']}"))
    assert [s for s in proxy.seen[since:] if s.startswith("POST /api/v1/groups")] == []
    await assert_delete_half_done_then_retried(world, ada["id"])


@pytest.mark.parametrize(
    ("probe_status", "expected"), [(503, 503), (404, 500)], ids=["master-unavailable", "proxy-404"]
)
@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", patch({"op": "replace", "path": "displayName", "value": "Ghost Two"})),
        ("PUT", user_body("ghost@example.com", "Ghost Two")),
        ("DELETE", None),
    ],
    ids=["patch", "put", "delete"],
)
async def test_a_write_whose_user_not_found_cannot_be_confirmed_keeps_the_mapping_and_is_retried(
    proxied: tuple[World, FaultProxy], probe_status: int, expected: int, method: str, body: Any
) -> None:
    """The master's own "user not found" on the write retires the mapping only once a GET of the user confirms
    it (test_stale_users.py). Before the fix a failed GET left the mapping live and yet answered the write's 404:
    the IdP heard "deleted" (a DELETE done, a PATCH's user re-created, 409 for the userName still mapped) for a
    resource GET still served. Now the IdP hears the GET's failure, retries, and the retry decides."""
    world, proxy = proxied
    ghost = await stale_user(world)
    # The follow-up GET fails: a master that cannot answer (503), or a proxy's page (404).
    probe_fault = Rule("GET", STALE_USER_PATH, status=probe_status, text=PROXY_404, times=100)
    proxy.rules.append(probe_fault)
    response = await call(world, method, f"/Users/{ghost.scim_id}", body)
    assert response.status == expected, await response.text()
    error = await response.json()
    assert (error["schemas"], error["status"]) == ([ERROR_URN], str(expected))
    if expected == 503:
        assert "Retry-After" in response.headers
    assert (await call(world, "GET", f"/Users/{ghost.scim_id}")).status == 200
    record = await world.store.get_user_by_scim_id(ghost.scim_id)
    assert record is not None
    assert record.display_name == "Ghost"

    probe_fault.times = 0  # the master answers for itself this time
    retried = await call(world, method, f"/Users/{ghost.scim_id}", body)
    assert retried.status == (204 if method == "DELETE" else 404), await retried.text()
    assert await world.store.get_user_by_scim_id(ghost.scim_id) is None


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", patch({"op": "replace", "path": "displayName", "value": "Augusta"})),
        ("PUT", user_body("ada@example.com", "Augusta")),
        ("DELETE", None),
    ],
    ids=["patch", "put", "delete"],
)
async def test_a_write_whose_user_not_found_the_get_contradicts_is_retried_not_a_missing_user(
    proxied: tuple[World, FaultProxy], captured_logs: LogReader, method: str, body: Any
) -> None:
    """The write hears the master's own "user not found" while the confirming GET finds the user: the two
    answers contradict each other, so nothing is retired and nothing is taken as done. Before the fix the IdP
    heard the write's 404, which reads as "deleted" (Entra and Okta re-create the user and get 409 for the
    userName still mapped; a DELETE is taken as done while the account can still log in). Now a retryable 500."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    before = await world.store.get_user_by_scim_id(ada["id"])
    assert before is not None
    proxy.rules.append(Rule("PATCH", USER_PATH, status=404, text="user not found"))
    since = len(proxy.seen)
    await _retryable(await call(world, method, f"/Users/{ada['id']}", body))
    # The write's 404, then the confirming GET, which the master answers with the user.
    assert proxy.seen[since:] == [
        f"PATCH /api/v1/users/{before.det_id}",
        f"GET /api/v1/users/{before.det_id}",
    ]
    record = await world.store.get_user_by_scim_id(ada["id"])
    assert record is not None
    assert (record.display_name, record.tombstoned_at) == ("Ada", None)
    assert await world.store.pending_intents() == []
    master_user = (await world.master.state()).users["ada@example.com"]
    assert (master_user.display_name, master_user.active) == ("Ada", True)
    [contradicted] = [e for e in captured_logs() if e.get("event") == "master.not_found_contradicted"]
    assert (contradicted["scim_id"], contradicted["reason"]) == (ada["id"], "user not found")
    assert [e for e in captured_logs() if e.get("event") == "user.missing_on_master"] == []

    retried = await call(world, method, f"/Users/{ada['id']}", body)
    assert retried.status == (204 if method == "DELETE" else 200), await retried.text()
