"""Pure parts of the master client: salting, backoff, Retry-After, circuit breaker, call counting, models."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from bridge.determined.breaker import CircuitBreaker
from bridge.determined.calls import calls_made, record_call, start_counting
from bridge.determined.client import escape_like
from bridge.determined.errors import MasterProtocolError
from bridge.determined.limiter import AdaptiveLimiter
from bridge.determined.models import (
    parse_group_details,
    parse_group_page,
    parse_user,
    parse_user_page,
    patch_user_body,
)
from bridge.determined.passwords import salt_and_hash
from bridge.determined.retry import backoff_delay, parse_retry_after
from bridge.determined.settings import MasterClientSettings


def test_salt_and_hash_matches_contract_recipe() -> None:
    digest = salt_and_hash("s3cret")
    assert digest == hashlib.sha512(b"GubPEmmotfiK9TMD6Zdw" + b"s3cret").hexdigest()
    assert len(digest) == 128
    assert digest == digest.lower()


def test_empty_password_stays_empty() -> None:
    assert salt_and_hash("") == ""


def test_backoff_is_bounded_and_grows() -> None:
    assert backoff_delay(0, 0.2, 5.0, lambda: 1.0) == pytest.approx(0.2)
    assert backoff_delay(3, 0.2, 5.0, lambda: 1.0) == pytest.approx(1.6)
    assert backoff_delay(10, 0.2, 5.0, lambda: 1.0) == pytest.approx(5.0)
    assert backoff_delay(10, 0.2, 5.0, lambda: 0.0) == 0.0


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(None) is None
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=lambda: now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=lambda: now) == 0.0
    assert parse_retry_after("soon") is None


def test_retry_after_that_is_no_number_of_seconds() -> None:
    # The transport reads the header as Latin-1: byte 0xB2 is "²", which str.isdigit() takes and float()
    # refused, escaping the master call as a ValueError (an unhandled 500 for the IdP).
    assert parse_retry_after("\u00b2") is None
    assert parse_retry_after("1\u00b9") is None
    # Too many digits for a float: inf, which the SCIM answer's Retry-After (math.ceil) could not carry.
    assert parse_retry_after("9" * 400) == 86_400.0
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=lambda: now) == 86_400.0


def _is_open(breaker: CircuitBreaker) -> bool:
    # A function call, so mypy does not narrow the property between assertions.
    return breaker.is_open


def test_breaker_opens_after_threshold_and_half_opens_after_cooldown() -> None:
    now = [100.0]
    breaker = CircuitBreaker(3, 10.0, lambda: now[0])
    for _ in range(2):
        breaker.record_failure()
    assert not _is_open(breaker)
    breaker.record_failure()
    assert _is_open(breaker)
    assert breaker.retry_after() == pytest.approx(10.0)
    now[0] += 10.5
    assert not _is_open(breaker)  # one trial allowed
    breaker.record_failure()  # trial failed: open again at once
    assert _is_open(breaker)
    breaker.record_success()
    assert not _is_open(breaker)


def test_success_resets_consecutive_failures() -> None:
    breaker = CircuitBreaker(2, 10.0, lambda: 0.0)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert not breaker.is_open


async def test_counter_is_per_context_and_shared_with_child_tasks() -> None:
    async def request(n: int) -> int:
        start_counting()
        await asyncio.gather(*(asyncio.create_task(_one_call()) for _ in range(n)))
        record_call()
        return calls_made()

    assert list(await asyncio.gather(request(2), request(5))) == [3, 6]


async def _one_call() -> None:
    record_call()


def test_counter_outside_a_request_is_zero() -> None:
    assert calls_made() == 0
    record_call()
    assert calls_made() == 0


def test_escape_like() -> None:
    assert escape_like(r"a_b%c\d") == r"a\_b\%c\\d"


def test_parse_contract_user_examples() -> None:
    plain = parse_user(
        {
            "id": 7,
            "username": "jane.doe@example.com",
            "admin": False,
            "active": True,
            "agentUserGroup": None,
            "displayName": "Jane Doe",
            "modifiedAt": "2025-03-20T10:15:30.123456Z",
            "remote": True,
        }
    )
    assert plain.id == 7
    assert plain.display_name == "Jane Doe"
    assert plain.remote
    assert plain.last_auth_at is None
    assert plain.agent_user_group is None
    assert plain.modified_at == datetime(2025, 3, 20, 10, 15, 30, 123456, tzinfo=UTC)
    full = parse_user(
        {
            "id": 8,
            "username": "bob",
            "admin": False,
            "active": True,
            "agentUserGroup": {"agentUid": 1000, "agentGid": 1001, "agentUser": "bob", "agentGroup": "ml"},
            "displayName": "",
            "modifiedAt": "2025-03-20T10:16:00Z",
            "remote": False,
            "lastAuthAt": "2025-03-21T08:00:01.500123789Z",
        }
    )
    assert full.agent_user_group is not None
    assert full.agent_user_group.agent_group == "ml"
    assert full.last_auth_at == datetime(2025, 3, 21, 8, 0, 1, 500123, tzinfo=UTC)


def test_parse_user_takes_any_mapping_not_only_dicts() -> None:
    """Dicts are told by their type before the Mapping ABC; other mappings still parse, anything else is
    the master's protocol error."""
    doc = {"id": 7, "username": "jane", "admin": False, "active": True, "displayName": "J", "remote": True}
    assert parse_user(MappingProxyType(doc)) == parse_user(doc)
    with pytest.raises(MasterProtocolError):
        parse_user([("id", 7)])


def test_parse_pages_and_groups() -> None:
    page = parse_user_page(
        {"users": [], "pagination": {"offset": 0, "limit": 50, "startIndex": 0, "endIndex": 0, "total": 0}}
    )
    assert page.users == ()
    assert page.pagination.limit == 50
    groups = parse_group_page(
        {
            "groups": [{"group": {"groupId": 14, "name": "ml-team"}, "numMembers": 2}],
            "pagination": {"offset": 0, "limit": 500, "startIndex": 0, "endIndex": 1, "total": 1},
        }
    )
    assert groups.groups[0].id == 14
    assert groups.groups[0].num_members == 2
    details = parse_group_details({"group": {"groupId": 14, "name": "ml-team", "users": []}})
    assert (details.id, details.name, details.users) == (14, "ml-team", ())


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {"id": "x", "username": "a"},
        {"id": 1},
        {"id": 1, "username": "a", "modifiedAt": "yesterday"},
    ],
)
def test_contract_violations_raise_protocol_error(bad: object) -> None:
    with pytest.raises(MasterProtocolError):
        parse_user(bad)


def test_patch_body_always_has_active_and_only_given_fields() -> None:
    assert patch_user_body(
        active=False, display_name=None, username=None, remote=None, hashed_password=None, admin=None
    ) == {"active": False}
    body = patch_user_body(
        active=True, display_name="", username="jane", remote=False, hashed_password="ab", admin=None
    )
    assert body == {
        "active": True,
        "displayName": "",
        "username": "jane",
        "remote": False,
        "password": "ab",
        "isHashed": True,
    }


def test_settings_repr_hides_secrets() -> None:
    settings = MasterClientSettings(
        url="http://m",
        token="v2.public.SECRET",
        username="svc",
        password="hunter2",
        connect_timeout=1,
        request_timeout=1,
        login_timeout=1,
    )
    assert "SECRET" not in repr(settings)
    assert "hunter2" not in repr(settings)


async def test_limiter_halves_on_overload_and_grows_back() -> None:
    limiter = AdaptiveLimiter(8)
    await limiter.acquire()
    limiter.release(overloaded=True)
    assert limiter.limit == 4
    for _ in range(40):
        await limiter.acquire()
        limiter.release(overloaded=False)
    assert limiter.limit == 8
    for _ in range(10):
        await limiter.acquire()
        limiter.release(overloaded=True)
    assert limiter.limit == 1


async def test_limiter_makes_callers_wait_for_a_slot() -> None:
    limiter = AdaptiveLimiter(1)
    gate = asyncio.Event()
    seen: list[int] = []

    async def worker() -> None:
        await limiter.acquire()
        seen.append(limiter.in_flight)
        await gate.wait()
        limiter.release(overloaded=False)

    async def opener() -> None:
        gate.set()

    # Tasks start in creation order: the first worker holds the slot and the others park before the gate opens.
    tasks = [asyncio.create_task(worker()) for _ in range(3)]
    tasks.append(asyncio.create_task(opener()))
    await asyncio.gather(*tasks)
    assert seen == [1, 1, 1]
    assert limiter.in_flight == 0
