"""The shadow overlay answers as the master would where the writes really happened, beyond refusals and
listings: member users' ``modifiedAt`` after membership changes (usergroup AddUsersToGroupsTx and
RemoveUsersFromGroupsTx bump every listed user, one timestamp a transaction; a group's delete bumps nobody),
the place of shadow-created objects among ones an administrator creates afterwards (the master's id order),
and the master's own "user not found" wording for an id it does not have (RBAC or not).

Each test makes the same calls through a real client on one master and through a ShadowClient on an
identical second one (tests/reliability/shadow_setup.py) and compares what they answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from itertools import groupby

from aiohttp import web
from pytest_aiohttp import AiohttpServer

from bridge.determined import DeterminedClient, MasterError, MasterUser
from bridge.reconcile.shadow import SHADOW_ID_BASE
from tests.reliability.shadow_setup import (
    Behind,
    Ids,
    same_through_shadow,
    same_through_shadow_with_admin,
)

Step = Callable[[DeterminedClient, Ids], Awaitable[object]]
USERS = ("u1", "u2", "u3", "u4")
GHOST = 987_654  # a user id neither master has


async def _objects(admin: DeterminedClient, app: web.Application) -> Ids:
    """Users u1-u4, groups g1 {u1} and g2 {u2, u3}; ids are the same on every master seeded so."""
    ids = {name: (await admin.create_user(name, name.upper(), True)).id for name in USERS}
    ids["g1"] = (await admin.create_group("g1", [ids["u1"]])).id
    ids["g2"] = (await admin.create_group("g2", [ids["u2"], ids["u3"]])).id
    return ids


def _by_time(users: Iterable[MasterUser]) -> list[list[str]]:
    """u1-u4 by ``modifiedAt`` (then id), those changed at the same instant together: times differ between the
    two masters, their order and ties do not."""
    ordered = sorted((u for u in users if u.username in USERS), key=lambda u: (u.modified_at, u.id))
    return [[u.username for u in same] for _, same in groupby(ordered, key=lambda u: u.modified_at)]


async def _listed_by_time(client: DeterminedClient) -> list[list[str]]:
    return _by_time((await client.list_users()).users)


async def _names(client: DeterminedClient, sort_by: str, *, descending: bool = False) -> list[str]:
    return [u.username for u in (await client.list_users(sort_by=sort_by, descending=descending)).users]


# Membership writes, each followed by the users' modifiedAt order as both master and overlay answer it.
MEMBERSHIP_WRITES: list[tuple[str, Step]] = [
    ("add to g1", lambda c, ids: c.update_group(ids["g1"], add_users=[ids["u4"]])),
    ("assign to g2, one already in", lambda c, ids: c.add_to_groups([ids["u3"], ids["u1"]], [ids["g2"]])),
    (
        "remove from g2, one not in",
        lambda c, ids: c.change_group(ids["g2"], remove_users=[ids["u2"], ids["u4"]]),
    ),
    (
        "unassign from g1, one not in",
        lambda c, ids: c.remove_from_groups([ids["u3"], ids["u4"]], [ids["g1"]]),
    ),
    ("rename g2", lambda c, ids: c.change_group(ids["g2"], name="g2b")),
    ("delete g1", lambda c, ids: c.delete_group(ids["g1"])),
    ("create g3 with u2", lambda c, ids: c.create_group("g3", [ids["u2"]])),
    ("unassign no member", lambda c, ids: c.remove_from_groups([ids["u4"]], [ids["g2"]])),
    ("assign an unknown user", lambda c, ids: c.add_to_groups([ids["u4"], GHOST], [ids["g2"]])),
]


async def _memberships(client: DeterminedClient, ids: Ids) -> dict[str, object]:
    outcomes: dict[str, object] = {}
    for label, step in MEMBERSHIP_WRITES:
        try:
            await step(client, ids)
        except MasterError as err:
            outcomes[f"{label}: error"] = err.http_status
        outcomes[label] = await _listed_by_time(client)
    outcomes["g2's members"] = _by_time((await client.get_group(ids["g2"])).users)
    outcomes["u1 alone"] = _by_time([await client.get_user(ids["u1"])])
    outcomes["by modified time"] = await _names(client, "SORT_BY_MODIFIED_TIME")
    outcomes["by modified time, descending"] = await _names(client, "SORT_BY_MODIFIED_TIME", descending=True)
    # Only the admin has logged in: every other user's last_auth_at is NULL, a tie broken by id (§4.4).
    outcomes["by last login"] = await _names(client, "SORT_BY_LAST_AUTH_TIME")
    outcomes["by last login, descending"] = await _names(client, "SORT_BY_LAST_AUTH_TIME", descending=True)
    return outcomes


async def test_membership_changes_move_modified_at_as_the_masters_do(aiohttp_server: AiohttpServer) -> None:
    expected = await same_through_shadow(aiohttp_server, _objects, _memberships)
    # The comparison is only as good as the cases: the master's answers hold what each one is about.
    # Seeded: u1-u4 made one by one, then g1 moved u1, then g2 moved u2 and u3 at once.
    assert expected["add to g1"] == [["u1"], ["u2", "u3"], ["u4"]]
    assert expected["assign to g2, one already in"] == [["u2"], ["u4"], ["u1", "u3"]]
    assert expected["remove from g2, one not in"] == [["u1", "u3"], ["u2", "u4"]]
    assert expected["unassign from g1, one not in"] == [["u1"], ["u2"], ["u3", "u4"]]
    assert expected["rename g2"] == expected["delete g1"] == [["u1"], ["u2"], ["u3", "u4"]]
    assert expected["create g3 with u2"] == [["u1"], ["u3", "u4"], ["u2"]]
    assert expected["assign an unknown user: error"] == 500
    assert expected["assign an unknown user"] == expected["create g3 with u2"]
    assert expected["g2's members"] == [["u1"], ["u3"]]
    assert expected["by last login"] == ["admin", "determined", *USERS]
    assert expected["by last login, descending"] == ["determined", *USERS, "admin"]


# --- shadow-created objects among the ones an administrator creates afterwards ------------------------


async def _created_between(client: DeterminedClient, behind: Behind, ids: Ids) -> dict[str, object]:
    await client.create_user("s1", "S1", True)
    await behind(lambda admin: admin.create_user("late1", "LATE1", True))
    await client.create_user("s2", "S2", True)
    await behind(lambda admin: admin.create_user("late2", "LATE2", True))
    await client.create_group("sg1")
    await behind(lambda admin: admin.create_group("lateg"))
    await client.create_group("sg2", [ids["u1"]])
    return {
        "users": [u.username for u in (await client.list_users()).users],
        "users, descending": [u.username for u in (await client.list_users(descending=True)).users],
        "users, a page": [u.username for u in (await client.list_users(6, 2)).users],
        "users by active": await _names(client, "SORT_BY_ACTIVE"),
        "users iterated": [u.username async for u in client.iter_users()],
        "groups": [g.name for g in (await client.search_groups()).groups],
        "groups, a page": [g.name for g in (await client.search_groups(offset=2, limit=2)).groups],
        "groups of u1": [g.name async for g in client.iter_groups(user_id=ids["u1"])],
    }


async def test_shadow_created_objects_list_where_the_master_puts_them(aiohttp_server: AiohttpServer) -> None:
    expected = await same_through_shadow_with_admin(aiohttp_server, _objects, _created_between)
    created = ["s1", "late1", "s2", "late2"]
    assert expected["users"] == ["admin", "determined", *USERS, *created]
    assert expected["users, descending"] == [*reversed(created), *reversed(USERS), "determined", "admin"]
    assert expected["users, a page"] == created[:2]
    assert expected["users by active"] == expected["users iterated"] == expected["users"]
    assert expected["groups"] == ["g1", "g2", "sg1", "lateg", "sg2"]
    assert expected["groups, a page"] == ["sg1", "lateg"]
    assert expected["groups of u1"] == ["g1", "sg2"]


# --- "user not found" in the master's words ----------------------------------------------------------

LOST = SHADOW_ID_BASE + 7  # a synthetic id no overlay made (as after a shadow bridge's restart)

LOST_USER_CALLS: list[tuple[str, Step]] = [
    ("get", lambda c, ids: c.get_user(LOST)),
    ("patch", lambda c, ids: c.patch_user(LOST, active=False)),
    ("set a password", lambda c, ids: c.set_password(LOST, "pw-12345678")),
    ("add to a group", lambda c, ids: c.update_group(ids["g1"], add_users=[LOST])),
    ("unassign", lambda c, ids: c.remove_from_groups([LOST], [ids["g1"]])),
]


async def _lost_user(client: DeterminedClient, ids: Ids) -> list[tuple[str, object]]:
    outcomes: list[tuple[str, object]] = []
    for label, step in LOST_USER_CALLS:
        try:
            outcomes.append((label, await step(client, ids)))
        except MasterError as err:
            outcomes.append((label, (type(err).__name__, err.http_status, err.message)))
    return outcomes


async def test_a_lost_synthetic_user_is_not_found_in_the_masters_words(aiohttp_server: AiohttpServer) -> None:
    for rbac in (False, True):
        expected = dict(await same_through_shadow(aiohttp_server, _objects, _lost_user, rbac=rbac))
        suffix = ", please check your permissions." if rbac else ""
        assert expected["get"] == ("MasterNotFound", 404, "user not found" + suffix)
        assert expected["patch"] == expected["set a password"] == expected["get"]
        assert expected["add to a group"] == (
            "MasterNotFound",
            404,
            "Error adding 1 user(s) to 1 group(s) because one or more of them were not found: not found",
        )
