"""The shadow overlay's listings read as the master's would after the same writes (master-api.md §1.6, §4.4,
§4.12): the same writes made through a real client on one master and through a ShadowClient on an identical
second master, then the same group searches and user listings (filters, order, pages, the master's refusals)
give the same answers, and the shadow side sent no write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pytest_aiohttp import AiohttpServer

from bridge.determined import (
    DeterminedClient,
    MasterError,
    MasterGroupPage,
    MasterUser,
    MasterUserPage,
    Pagination,
)
from tests.reliability.shadow_setup import Ids, same_through_shadow

Step = Callable[[DeterminedClient, Ids], Awaitable[object]]
NAMES = ("alice", "bob", "carl", "dina")


async def _objects(admin: DeterminedClient, app: web.Application) -> Ids:
    """alice, bob, carl (remote), dina (local) and groups g1 {alice}, g2 {bob}, g3 {}, g4 {alice, bob},
    g5 {carl}; ids are the same on every master seeded so."""
    ids = {name: (await admin.create_user(name, f"{name.title()} Q", True)).id for name in NAMES[:-1]}
    # A local user: the master renames only those.
    dina = await admin.create_user("dina", "Dina Q", True, remote=False, password="Dina-pw-1234")
    ids["dina"] = dina.id
    for group, members in (("g1", ["alice"]), ("g2", ["bob"]), ("g3", []), ("g4", ["alice", "bob"])):
        ids[group] = (await admin.create_group(group, [ids[m] for m in members])).id
    ids["g5"] = (await admin.create_group("g5", [ids["carl"]])).id
    return ids


async def _create_user(client: DeterminedClient, ids: Ids) -> str:
    ids["zed"] = (await client.create_user("zed", "Aaron Zed", True)).id
    return "zed"


async def _create_group(client: DeterminedClient, ids: Ids, name: str, members: list[str]) -> str:
    ids[name] = (await client.create_group(name, [ids[m] for m in members])).id
    return name


# Writes that move groups and users into and out of every filter, order and page read below.
WRITES: list[Step] = [
    lambda c, ids: _create_group(c, ids, "new", ["carl"]),
    lambda c, ids: c.update_group(ids["g2"], name="g2b"),
    lambda c, ids: c.update_group(ids["g1"], add_users=[ids["carl"]]),
    lambda c, ids: c.delete_group(ids["g3"]),
    lambda c, ids: c.remove_from_groups([ids["alice"]], [ids["g4"]]),
    _create_user,
    lambda c, ids: c.patch_user(ids["bob"], active=False, display_name="Zulu"),
    lambda c, ids: c.patch_user(ids["dina"], active=True, username="dee", display_name=""),
    lambda c, ids: c.patch_user(ids["alice"], active=True, admin=True),
    lambda c, ids: _create_group(c, ids, "new2", ["alice", "zed"]),
    lambda c, ids: c.add_to_groups([ids["zed"]], [ids["g5"]]),
]


def _groups(page: MasterGroupPage) -> object:
    """Names and member counts in order, and the pagination (group ids differ between the two sides)."""
    return [(g.name, g.num_members) for g in page.groups], page.pagination


async def _all_groups(
    client: DeterminedClient, ids: Ids, name: str | None = None, user_id: int | None = None
) -> object:
    return [(g.name, g.num_members) async for g in client.iter_groups(name, user_id)]


async def _paged_groups(client: DeterminedClient, ids: Ids) -> object:
    """Pages of two, as the client pages: ``offset = endIndex`` until ``endIndex >= total``."""
    pages, offset = [], 0
    while True:
        page = await client.search_groups(offset=offset, limit=2)
        pages.append(_groups(page))
        if page.pagination.end_index >= page.pagination.total:
            return pages
        offset = page.pagination.end_index


GROUP_READS: list[tuple[str, Step]] = [
    ("all", lambda c, ids: c.search_groups()),
    ("a middle page", lambda c, ids: c.search_groups(offset=2, limit=2)),
    ("the last page, cut short", lambda c, ids: c.search_groups(offset=5, limit=2)),
    ("past the end", lambda c, ids: c.search_groups(offset=9, limit=3)),
    ("a negative offset", lambda c, ids: c.search_groups(offset=-2, limit=2)),
    ("no limit", lambda c, ids: c.search_groups(offset=1, limit=-1)),
    ("renamed to", lambda c, ids: c.search_groups("g2b")),
    ("renamed away", lambda c, ids: c.search_groups("g2")),
    ("deleted", lambda c, ids: c.search_groups("g3")),
    ("shadow-created", lambda c, ids: c.search_groups("new2")),
    ("of a member removed", lambda c, ids: c.search_groups(user_id=ids["alice"])),
    ("of a member added", lambda c, ids: c.search_groups(user_id=ids["carl"])),
    ("of a created user", lambda c, ids: c.search_groups(user_id=ids["zed"])),
    ("a member's second page", lambda c, ids: c.search_groups(user_id=ids["carl"], offset=1, limit=1)),
    ("a name and a member", lambda c, ids: c.search_groups("g1", ids["carl"])),
    ("limit 0", lambda c, ids: c.search_groups(limit=0)),
    ("limit over 500", lambda c, ids: c.search_groups(limit=501)),
    ("iterated", _all_groups),
    ("iterated, of a created user", lambda c, ids: _all_groups(c, ids, user_id=ids["zed"])),
    ("iterated by name", lambda c, ids: _all_groups(c, ids, name="new")),
    ("paged by the client's rule", _paged_groups),
]


def _user(user: MasterUser) -> object:
    return user.username, user.display_name, user.active, user.admin


def _users(page: MasterUserPage) -> object:
    return [_user(u) for u in page.users], page.pagination


async def _iterated_users(client: DeterminedClient, ids: Ids, name: str | None = None) -> object:
    return [_user(u) async for u in client.iter_users(name)]


USER_READS: list[tuple[str, Step]] = [
    ("all", lambda c, ids: c.list_users()),
    ("a page", lambda c, ids: c.list_users(2, 3)),
    ("the last page, cut short", lambda c, ids: c.list_users(5, 3)),
    ("from the end", lambda c, ids: c.list_users(-2)),
    ("offset at the end", lambda c, ids: c.list_users(7)),
    ("offset past the end", lambda c, ids: c.list_users(8)),
    ("offset before the start", lambda c, ids: c.list_users(-8)),
    ("a negative limit", lambda c, ids: c.list_users(0, -1)),
    ("by a patched display name", lambda c, ids: c.list_users(name="zul")),
    ("by a new username", lambda c, ids: c.list_users(name="DEE")),
    ("by an old username", lambda c, ids: c.list_users(name="dina")),
    ("by a wildcard", lambda c, ids: c.list_users(name="a_e")),
    ("inactive", lambda c, ids: c.list_users(active=False)),
    ("active non-admins, a page", lambda c, ids: c.list_users(1, 2, active=True, admin=False)),
    ("admins", lambda c, ids: c.list_users(admin=True)),
    ("by id, descending", lambda c, ids: c.list_users(0, 4, descending=True)),
    ("by display name", lambda c, ids: c.list_users(sort_by="SORT_BY_DISPLAY_NAME")),
    (
        "by display name, descending",
        lambda c, ids: c.list_users(sort_by="SORT_BY_DISPLAY_NAME", descending=True),
    ),
    ("by username, descending", lambda c, ids: c.list_users(sort_by="SORT_BY_USER_NAME", descending=True)),
    ("by name", lambda c, ids: c.list_users(sort_by="SORT_BY_NAME")),
    ("by active", lambda c, ids: c.list_users(sort_by="SORT_BY_ACTIVE")),
    ("by admin, descending", lambda c, ids: c.list_users(sort_by="SORT_BY_ADMIN", descending=True)),
    ("by remote, a page", lambda c, ids: c.list_users(1, 3, sort_by="SORT_BY_REMOTE")),
    ("by the number of username", lambda c, ids: c.list_users(sort_by="2")),
    ("by an unknown column", lambda c, ids: c.list_users(sort_by="SORT_BY_SHOE_SIZE")),
    ("iterated", _iterated_users),
    ("iterated by name", lambda c, ids: _iterated_users(c, ids, "Q")),
]


async def _run(client: DeterminedClient, ids: Ids, reads: list[tuple[str, Step]]) -> list[tuple[str, object]]:
    """The writes' answers, then each read's answer, or its error's class, status and text."""
    outcomes: list[tuple[str, object]] = []
    for step in WRITES:
        result = await step(client, ids)
        outcomes.append(("write", getattr(result, "name", getattr(result, "username", result))))
    for label, read in reads:
        try:
            result = await read(client, ids)
        except MasterError as err:
            outcomes.append((label, (type(err).__name__, err.http_status, err.message)))
            continue
        if isinstance(result, MasterGroupPage):
            result = _groups(result)
        elif isinstance(result, MasterUserPage):
            result = _users(result)
        outcomes.append((label, result))
    return outcomes


async def _both(aiohttp_server: AiohttpServer, reads: list[tuple[str, Step]]) -> dict[str, Any]:
    """The outcomes on a real master, asserted equal to the shadow client's on an identical one (which got no
    write); by read."""

    async def run(client: DeterminedClient, ids: Ids) -> list[tuple[str, object]]:
        return await _run(client, ids, reads)

    return dict(await same_through_shadow(aiohttp_server, _objects, run))


async def test_group_searches_after_shadow_writes_read_as_the_masters(aiohttp_server: AiohttpServer) -> None:
    expected = await _both(aiohttp_server, GROUP_READS)
    # The comparison is only as good as the cases: the master's answers hold what each one is about.
    assert expected["all"] == (
        [("g1", 2), ("g2b", 1), ("g4", 1), ("g5", 2), ("new", 1), ("new2", 2)],
        Pagination(offset=0, limit=500, start_index=0, end_index=6, total=6),
    )
    assert expected["renamed away"] == ([], Pagination(0, 500, 0, 0, 0))
    assert expected["deleted"] == ([], Pagination(0, 500, 0, 0, 0))
    assert expected["of a created user"] == ([("g5", 2), ("new2", 2)], Pagination(0, 500, 0, 2, 2))
    assert expected["of a member removed"] == ([("g1", 2), ("new2", 2)], Pagination(0, 500, 0, 2, 2))
    assert expected["limit 0"] == (
        "MasterBadRequest",
        400,
        "Bad request: limit is required and must be <= 500",
    )
    assert expected["paged by the client's rule"] == [
        ([("g1", 2), ("g2b", 1)], Pagination(0, 2, 0, 2, 6)),
        ([("g4", 1), ("g5", 2)], Pagination(2, 2, 2, 4, 6)),
        ([("new", 1), ("new2", 2)], Pagination(4, 2, 4, 6, 6)),
    ]


async def test_user_listings_after_shadow_writes_read_as_the_masters(aiohttp_server: AiohttpServer) -> None:
    expected = await _both(aiohttp_server, USER_READS)
    # The comparison is only as good as the cases: the master's answers hold what each one is about.
    users, pagination = expected["all"]
    assert [u[0] for u in users] == ["admin", "determined", "alice", "bob", "carl", "dee", "zed"]
    assert pagination == Pagination(0, 0, 0, 7, 7)
    assert expected["inactive"] == ([("bob", "Zulu", False, False)], Pagination(0, 0, 0, 1, 1))
    assert expected["by an old username"] == ([], Pagination(0, 0, 0, 0, 0))
    assert expected["by a new username"] == ([("dee", "", True, False)], Pagination(0, 0, 0, 1, 1))
    assert [u[0] for u in expected["by display name"][0]][-3:] == ["admin", "determined", "dee"]
    assert expected["offset past the end"] == ("MasterBadRequest", 400, "offset out of bounds")
    assert expected["a negative limit"][:2] == ("MasterInternal", 500)
    assert expected["by an unknown column"][:2] == ("MasterBadRequest", 400)
