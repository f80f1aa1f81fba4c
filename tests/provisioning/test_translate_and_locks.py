"""Pure parts of provisioning: display-name derivation and fallbacks, master error mapping, keyed locks."""

from __future__ import annotations

import asyncio

import pytest

from bridge.determined import (
    MasterBadRequest,
    MasterConflict,
    MasterForbidden,
    MasterInternal,
    MasterNotFound,
    MasterThrottled,
    MasterUnauthorized,
    MasterUnavailable,
)
from bridge.provisioning.locks import KeyedLocks
from bridge.provisioning.translate import ascii_display, display_name_candidates, display_name_for
from bridge.provisioning.upstream_errors import Operation, to_scim_error
from bridge.scim.errors import (
    InternalError,
    InvalidValue,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Uniqueness,
)
from tests.conftest import LogReader

SOURCES = ("displayName", "name.formatted", "name.givenFamily", "userName")


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"displayName": "Ada L", "name": {"formatted": "Ada Lovelace"}, "userName": "ada"}, "Ada L"),
        ({"name": {"formatted": "Ada Lovelace", "givenName": "A"}, "userName": "ada"}, "Ada Lovelace"),
        ({"name": {"givenName": "Ada", "familyName": "Lovelace"}, "userName": "ada"}, "Ada Lovelace"),
        ({"name": {"familyName": "Lovelace"}, "userName": "ada"}, "Lovelace"),
        ({"userName": "ada"}, "ada"),
        ({"displayName": "  ", "userName": "ada"}, "ada"),
    ],
)
def test_display_name_sources_in_order(doc: dict[str, object], expected: str) -> None:
    assert display_name_for(doc, SOURCES) == expected


def test_display_name_source_is_configurable() -> None:
    doc = {"displayName": "Ada L", "userName": "ada"}
    assert display_name_for(doc, ("userName",)) == "ada"


def test_non_ascii_display_names_are_transliterated() -> None:
    assert ascii_display("José Müller") == "Jose Muller"
    assert ascii_display("李雷") == ""


def test_candidates_disambiguate_then_clear() -> None:
    assert display_name_candidates("John Smith", "jsmith@example.com") == [
        "John Smith",
        "John Smith (jsmith@example.com)",
        "",
    ]
    assert display_name_candidates("", "x") == [""]


@pytest.mark.parametrize(
    ("error", "expected", "scim_type"),
    [
        (MasterInternal("code=400, message=user already exists"), Uniqueness, "uniqueness"),
        (
            MasterBadRequest("Display name and username cannot contain non-ASCII characters."),
            InvalidValue,
            "invalidValue",
        ),
        (MasterNotFound("user not found"), NotFound, None),
        (MasterConflict("Error creating group x: row already exists"), Uniqueness, "uniqueness"),
        (MasterInternal("boom"), InternalError, None),
    ],
)
def test_master_errors_map_per_contract(error: Exception, expected: type, scim_type: str | None) -> None:
    assert isinstance(error, MasterInternal | MasterBadRequest | MasterNotFound | MasterConflict)
    mapped = to_scim_error(error, Operation.CREATE_USER)
    assert type(mapped) is expected
    assert mapped.scim_type == scim_type


def test_unavailable_and_throttled_carry_retry_after() -> None:
    unavailable = to_scim_error(MasterUnavailable("timeout", retry_after=2.5), Operation.UPDATE_USER)
    assert isinstance(unavailable, ServiceUnavailable)
    assert unavailable.status == 503
    assert unavailable.retry_after == 3
    throttled = to_scim_error(MasterThrottled("slow down", retry_after=None), Operation.UPDATE_USER)
    assert isinstance(throttled, TooManyRequests)
    assert throttled.retry_after is not None
    assert throttled.retry_after > 0


def test_unknown_member_on_group_write_is_invalid_value() -> None:
    err = MasterNotFound(
        "Error adding 1 user(s) to 1 group(s) because one or more of them were not found: not found"
    )
    assert isinstance(to_scim_error(err, Operation.UPDATE_GROUP), InvalidValue)


@pytest.mark.parametrize(
    ("op", "text", "expected"),
    [
        (Operation.DELETE_GROUP, "Error deleting group 3: not found", NotFound),
        (Operation.DELETE_GROUP, "404 page not found", InternalError),
        (Operation.UPDATE_USER, "user not found", NotFound),
        (Operation.UPDATE_USER, "user not found, please check your permissions.", NotFound),
        (Operation.UPDATE_USER, "404 page not found", InternalError),
        (Operation.CREATE_GROUP, "404 page not found", InternalError),
        (Operation.CREATE_GROUP, "Error getting group 3: not found", InternalError),
        (Operation.CREATE_GROUP, "Error adding 1 user(s) to 1 group(s): upstream not found", InternalError),
        # Two rounds of "none were members" are someone else changing the group meanwhile: retry, not a member
        # that does not exist.
        (
            Operation.UPDATE_GROUP,
            "Error removing 1 user(s) from 1 group(s) because none were members of these groups: not found",
            InternalError,
        ),
    ],
)
def test_only_the_masters_own_not_found_for_what_the_operation_names_is_a_404(
    op: Operation, text: str, expected: type
) -> None:
    """A group create's 404 was a SCIM 404 whatever answered it; a group create names no existing group, so none
    of its 404s means "gone", and another operation's only the master's own text for its group or user."""
    mapped = to_scim_error(MasterNotFound(text), op)
    assert type(mapped) is expected
    assert mapped.status == (404 if expected is NotFound else 500)


def test_master_rejecting_the_bridge_is_500_and_logged(captured_logs: LogReader) -> None:
    for err in (MasterUnauthorized("invalid credentials"), MasterForbidden("user does not have permission")):
        mapped = to_scim_error(err, Operation.CREATE_GROUP)
        assert mapped.status == 500
    events = [e["event"] for e in captured_logs()]
    assert events.count("auth.master_rejected") == 2


async def test_keyed_locks_serialise_one_key_and_clean_up() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    inside = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with locks.hold("g1"):
            order.append("first-in")
            inside.set()
            await release.wait()
            order.append("first-out")

    async def second() -> None:
        await inside.wait()
        async with locks.hold("g1"):
            order.append("second-in")

    async def other_key() -> None:
        await inside.wait()
        async with locks.hold("g2"):
            order.append("other")
        release.set()

    await asyncio.gather(first(), second(), other_key())
    assert order == ["first-in", "other", "first-out", "second-in"]
    assert len(locks) == 0


async def test_hold_all_takes_overlapping_sets_in_one_order() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    inside = asyncio.Event()
    release = asyncio.Event()

    async def holder(name: str, keys: list[str], started: asyncio.Event | None = None) -> None:
        async with locks.hold_all(keys):
            order.append(f"{name}-in")
            if started is not None:
                started.set()
                await release.wait()
            order.append(f"{name}-out")

    async def releaser() -> None:
        await inside.wait()
        # Both contenders are parked on a lock by now; listing keys in the opposite order must not matter.
        for _ in range(3):
            await asyncio.sleep(0)
        release.set()

    await asyncio.gather(
        holder("first", ["g2", "g1", "g1"], inside),
        holder("second", ["g1", "g3", "g2"]),
        holder("third", ["g3"]),
        releaser(),
    )
    assert order.index("first-out") < order.index("second-in")
    assert len(locks) == 0
