"""The shadow overlay refuses group writes as the master does (master-api.md §4.11-4.16): the same calls made
through a real client on one master and through a ShadowClient on an identical second master give the same
answers and errors, and a live bridge and a shadow bridge answer the IdP alike and would make the same writes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.determined import DeterminedClient, MasterError, MasterGroupDetails, create_master_client
from bridge.emulator.keys import EMULATOR_STATE
from bridge.store import open_store
from bridge.web.app import create_app
from tests.conftest import LogReader
from tests.reliability.conftest import client_settings
from tests.reliability.shadow_setup import (
    GROUP_URN,
    HEADERS,
    USER_URN,
    Ids,
    recording_emulator,
    same_through_shadow,
    writes,
)
from tests.reliability.test_retried_post import _settings

PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GHOST = 987_654  # a Determined user id neither master has
NO_GROUP = 99_999

Step = Callable[[DeterminedClient, Ids], Awaitable[object]]


async def _objects(admin: DeterminedClient, app: web.Application) -> Ids:
    """Users u1-u3, group g1 {u1} and group "taken"; ids are the same on every master seeded so."""
    ids = {name: (await admin.create_user(name, name.upper(), True)).id for name in ("u1", "u2", "u3")}
    ids["g1"] = (await admin.create_group("g1", [ids["u1"]])).id
    ids["taken"] = (await admin.create_group("taken")).id
    state = app[EMULATOR_STATE]
    ids["personal"] = next(g.id for g in state.groups.values() if g.owner == ids["u1"])
    return ids


def _group(name: str) -> Step:
    return lambda c, ids: c.get_group(ids[name])


# Each call the bridge's group writes make, in the cases the master refuses, then ones it accepts.
STEPS: list[tuple[str, Step]] = [
    ("add a member already in", lambda c, ids: c.update_group(ids["g1"], add_users=[ids["u1"]])),
    ("add a user twice", lambda c, ids: c.update_group(ids["g1"], add_users=[ids["u2"], ids["u2"]])),
    ("add an unknown user", lambda c, ids: c.update_group(ids["g1"], add_users=[ids["u2"], GHOST])),
    ("remove a non-member", lambda c, ids: c.update_group(ids["g1"], remove_users=[ids["u2"]])),
    ("rename to a taken name", lambda c, ids: c.change_group(ids["g1"], name="taken")),
    ("update an unknown group", lambda c, ids: c.update_group(NO_GROUP, add_users=[ids["u2"]])),
    ("update a personal group", lambda c, ids: c.update_group(ids["personal"], add_users=[ids["u2"]])),
    (
        "rename, add and remove",
        lambda c, ids: c.update_group(ids["g1"], name="g1b", add_users=[ids["u2"]], remove_users=[ids["u1"]]),
    ),
    ("rename to its own name", lambda c, ids: c.update_group(ids["g1"], name="g1b")),
    ("create a taken name", lambda c, ids: c.create_group("taken")),
    ("create with an unknown user", lambda c, ids: c.create_group("new", [ids["u1"], GHOST])),
    ("create with a user twice", lambda c, ids: c.create_group("new", [ids["u1"], ids["u1"]])),
    ("create a personal-looking name", lambda c, ids: c.create_group("x DeterminedPersonalGroup")),
    ("create", lambda c, ids: c.create_group("new", [ids["u1"]])),
    ("assign an existing member", lambda c, ids: c.add_to_groups([ids["u1"]], [ids["new"]])),
    ("assign an unknown user", lambda c, ids: c.add_to_groups([ids["u2"], GHOST], [ids["new"]])),
    ("assign to an unknown group", lambda c, ids: c.add_to_groups([ids["u2"]], [ids["new"], NO_GROUP])),
    ("assign to a group twice", lambda c, ids: c.add_to_groups([ids["u2"]], [ids["new"], ids["new"]])),
    ("assign to a personal group", lambda c, ids: c.add_to_groups([ids["u2"]], [ids["personal"]])),
    ("assign", lambda c, ids: c.add_to_groups([ids["u2"], ids["u3"]], [ids["new"], ids["g1"]])),
    ("unassign non-members", lambda c, ids: c.remove_from_groups([ids["u1"]], [ids["g1"]])),
    ("unassign from an unknown group", lambda c, ids: c.remove_from_groups([ids["u3"]], [NO_GROUP])),
    ("unassign", lambda c, ids: c.remove_from_groups([ids["u1"], ids["u3"]], [ids["new"]])),
    ("remove a member gone", lambda c, ids: c.update_group(ids["new"], remove_users=[ids["u1"]])),
    ("leave groups, one unknown", lambda c, ids: c.leave_groups(ids["u2"], [ids["g1"], NO_GROUP])),
    ("delete", lambda c, ids: c.delete_group(ids["new"])),
    ("delete again", lambda c, ids: c.delete_group(ids["new"])),
    ("read the deleted group", _group("new")),
    ("read g1", _group("g1")),
]


def _outcome(result: object, ids: Ids) -> object:
    if isinstance(result, MasterGroupDetails):
        names = {ids[name]: name for name in ("u1", "u2", "u3")}  # user and group ids overlap
        return result.name, sorted(names.get(u.id, str(u.id)) for u in result.users)
    return result


async def _run(client: DeterminedClient, ids: Ids) -> list[tuple[str, object]]:
    """Each step's answer, or its error's class, status and text; the ids of "new" read as <new>."""
    outcomes: list[tuple[str, object]] = []
    for label, step in STEPS:
        try:
            result = await step(client, ids)
        except MasterError as err:
            text = err.message.replace(str(ids.get("new", "-")), "<new>")
            outcomes.append((label, (type(err).__name__, err.http_status, text)))
            continue
        if isinstance(result, MasterGroupDetails) and label.startswith("create"):
            ids.setdefault("new", result.id)  # the first group created is "new", even one the master refused
        outcomes.append((label, _outcome(result, ids)))
    return outcomes


async def test_the_overlay_answers_group_writes_as_the_master_does(aiohttp_server: AiohttpServer) -> None:
    expected = await same_through_shadow(aiohttp_server, _objects, _run)
    # The comparison is only as good as the cases: the master refused what it should.
    statuses = {label: outcome[1] for label, outcome in expected if isinstance(outcome, tuple)}
    refused = {label: status for label, status in statuses.items() if isinstance(status, int)}
    assert refused == {
        "add a member already in": 409,
        "add a user twice": 409,
        "add an unknown user": 404,
        "remove a non-member": 404,
        "rename to a taken name": 409,
        "update an unknown group": 404,
        "update a personal group": 404,
        "create a taken name": 409,
        "create with an unknown user": 404,
        "create with a user twice": 409,
        "create a personal-looking name": 400,
        "assign an unknown user": 500,
        "assign to an unknown group": 404,
        "assign to a personal group": 404,
        "unassign from an unknown group": 404,
        "remove a member gone": 404,
        "delete again": 404,
        "read the deleted group": 404,
    }
    assert dict(expected)["read g1"] == ("g1b", ["u3"])  # u2 joined, then left with leave_groups


# --- the same IdP conversation through a live bridge and a shadow bridge --------------------------------


@dataclass
class _Side:
    bridge: TestClient[Any, Any]
    scim: dict[str, str]  # name -> SCIM id
    received: list[tuple[str, str]]


async def _send(
    client: TestClient[Any, Any], method: str, path: str, body: Mapping[str, object] | None = None
) -> tuple[int, Any]:
    async with client.request(method, f"/scim/v2{path}", json=body, headers=HEADERS) as answer:
        text = await answer.text()
        return answer.status, json.loads(text) if text else None


async def _side(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, *, shadow: bool
) -> _Side:
    """A bridge that provisioned carol, dave, erin and groups ops {carol}, eng {erin}, qa {carol, erin}, in
    front of a master where an admin made "finance"; a shadow bridge runs on a backup of that database.
    Then the admin changes memberships behind the bridge's back: dave joins ops and qa, erin leaves eng,
    carol leaves qa."""
    side = "shadow" if shadow else "live"
    live_db, shadow_db = tmp_path / f"{side}-side-live.db", tmp_path / f"{side}-side-shadow.db"
    url, _, received = await recording_emulator(aiohttp_server)
    live = await aiohttp_client(create_app(_settings(url, live_db)))
    scim: dict[str, str] = {}
    for name in ("carol", "dave", "erin"):
        status, user = await _send(live, "POST", "/Users", {"schemas": [USER_URN], "userName": name})
        assert status == 201, user
        scim[name] = user["id"]
    for name, members in (("ops", ["carol"]), ("eng", ["erin"]), ("qa", ["carol", "erin"])):
        body = {"schemas": [GROUP_URN], "displayName": name, "members": [{"value": scim[m]} for m in members]}
        status, group = await _send(live, "POST", "/Groups", body)
        assert status == 201, group
        scim[name] = group["id"]
    bridge = live
    if shadow:
        store = await open_store(live_db)
        try:
            await store.backup(shadow_db)
        finally:
            await store.close()
        settings = dataclasses.replace(_settings(url, shadow_db), mode="shadow")
        bridge = await aiohttp_client(create_app(settings))
    admin = create_master_client(client_settings(url))
    try:
        await admin.create_group("finance")
        det = {u.username: u.id async for u in admin.iter_users()}
        groups = {g.name: g.id async for g in admin.iter_groups()}
        await admin.add_to_groups([det["dave"]], [groups["ops"], groups["qa"]])
        await admin.remove_from_groups([det["erin"]], [groups["eng"]])
        await admin.remove_from_groups([det["carol"]], [groups["qa"]])
    finally:
        await admin.close()
    received.clear()
    return _Side(bridge, scim, received)


def _patch(*operations: dict[str, object]) -> dict[str, object]:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


def _members(side: _Side, *names: str) -> list[dict[str, str]]:
    return [{"value": side.scim[n]} for n in names]


# (method, path with {group} names, body builder) — the IdP's requests after the drift.
Request = tuple[str, str, Callable[[_Side], Mapping[str, object] | None]]
CONVERSATION: list[Request] = [
    (  # a rename with an add of a member the master already has: 409, re-diffed (one PUT, then another)
        "PATCH",
        "/Groups/{ops}",
        lambda s: _patch(
            {"op": "add", "path": "members", "value": _members(s, "dave")},
            {"op": "replace", "path": "displayName", "value": "ops2"},
        ),
    ),
    (  # a rename with a removal of a member the master no longer has: 404, re-diffed
        "PATCH",
        "/Groups/{eng}",
        lambda s: _patch(
            {"op": "remove", "path": f'members[value eq "{s.scim["erin"]}"]'},
            {"op": "replace", "path": "displayName", "value": "eng2"},
        ),
    ),
    (  # a rename to a name only the master has: the IdP hears 409
        "PATCH",
        "/Groups/{eng}",
        lambda s: _patch({"op": "replace", "path": "displayName", "value": "finance"}),
    ),
    (  # members only: the master's "none were members" 404 is the goal state
        "PATCH",
        "/Groups/{qa}",
        lambda s: _patch({"op": "remove", "path": "members", "value": _members(s, "carol")}),
    ),
    (  # members only: an existing member's add is skipped
        "PATCH",
        "/Groups/{qa}",
        lambda s: _patch({"op": "add", "path": "members", "value": _members(s, "dave")}),
    ),
    ("POST", "/Groups", lambda s: {"schemas": [GROUP_URN], "displayName": "finance"}),
    ("PUT", "/Groups/{qa}", lambda s: {"schemas": [GROUP_URN], "displayName": "ops2"}),
    ("GET", "/Groups/{ops}", lambda s: None),
    ("GET", "/Groups/{eng}", lambda s: None),
    ("GET", "/Groups/{qa}", lambda s: None),
]


Outcome = tuple[str, str, tuple[object, ...], list[tuple[str, str]]]


def _answer(side: _Side, status: int, body: Any) -> tuple[object, ...]:
    """Status, and what the answer says in SCIM names (ids differ between the two bridges)."""
    if not isinstance(body, dict):
        return status, body
    if "scimType" in body or status >= 400:
        return status, body.get("scimType"), body.get("status")
    names = {v: k for k, v in side.scim.items()}
    return status, body.get("displayName"), sorted(names[m["value"]] for m in body.get("members", []))


async def _converse(side: _Side, shadow_calls: Callable[[], list[tuple[str, str]]]) -> list[Outcome]:
    """Each request's answer and the master writes it made (live) or would have made (shadow)."""
    outcomes: list[Outcome] = []
    for method, template, body in CONVERSATION:
        before_received, before_calls = len(side.received), len(shadow_calls())
        status, answer = await _send(side.bridge, method, template.format(**side.scim), body(side))
        made = writes(side.received[before_received:])
        would = shadow_calls()[before_calls:]
        outcomes.append((method, template, _answer(side, status, answer), made + would))
    return outcomes


async def test_a_shadow_bridge_answers_and_writes_as_a_live_bridge_on_member_conflicts(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    def shadow_calls() -> list[tuple[str, str]]:
        return [(e["method"], e["path"]) for e in captured_logs() if e["event"] == "shadow.master_call"]

    live = await _side(aiohttp_server, aiohttp_client, tmp_path, shadow=False)
    shadow = await _side(aiohttp_server, aiohttp_client, tmp_path, shadow=True)
    live_outcomes = await _converse(live, shadow_calls)
    shadow_outcomes = await _converse(shadow, shadow_calls)
    assert shadow_outcomes == live_outcomes
    # The shadow bridge wrote nothing itself: every write above was a shadow.master_call.
    assert writes(shadow.received) == []
    # The conversation met the conflicts it is about on the live master.
    put = ("PUT", "/api/v1/groups/{id}")
    assert live_outcomes[0][3] == [put, put]
    assert live_outcomes[1][3] == [put, put]
    assert live_outcomes[2][2][:2] == (409, "uniqueness")
