"""Hypothesis over every endpoint of the real bridge: hostile requests never get a 5xx or a non-SCIM error.

Each example is a batch of requests sent concurrently, so the suite sends >= 20,000 requests in CI
while hypothesis still shrinks a failing batch to the request that broke.
"""

from __future__ import annotations

import asyncio
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import Fuzzer, Target
from tests.fuzz.strategies import (
    BASE,
    FuzzRequest,
    KnownIds,
    bad_auth,
    reads,
    requests,
    token_endpoint,
    writes,
)

BATCH: Final = 10
# No deadline, a fixed sample (FUZZ_EXPLORE=1 draws fresh ones) and printed blobs come from the test
# suite's Hypothesis profile (tests/conftest.py).
_BASE_SETTINGS: Final = settings(
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one bridge per test, shared by its examples on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def budget(max_examples: int) -> settings:
    """The shared fuzz settings with this test's share of the request budget."""
    return settings(_BASE_SETTINGS, max_examples=max_examples)


async def assert_still_serving(fuzzer: Fuzzer) -> None:
    """The process stays up: health answers and an authenticated read still works."""
    async with fuzzer.session.get(fuzzer.target.base_url / "healthz") as health:
        assert health.status == 200
    async with fuzzer.session.get(
        fuzzer.target.base_url / "scim/v2/ServiceProviderConfig",
        headers={"Authorization": fuzzer.target.authorization},
    ) as config:
        assert config.status == 200
        assert (await config.json(content_type=None))["patch"]["supported"] is True


async def fire_batch(fuzzer: Fuzzer, data: st.DataObject, family: st.SearchStrategy[FuzzRequest]) -> None:
    """One example: BATCH requests of one family sent at once; not one problem, and the bridge still serves."""
    batch = data.draw(st.lists(family, min_size=BATCH, max_size=BATCH))
    assert await fuzzer.fire(batch) == []
    await assert_still_serving(fuzzer)


@budget(700)
@given(data=st.data())
async def test_any_request_on_any_path(fuzzer: Fuzzer, known_ids: KnownIds, data: st.DataObject) -> None:
    await fire_batch(fuzzer, data, requests(known_ids))


@budget(500)
@given(data=st.data())
async def test_hostile_write_bodies(fuzzer: Fuzzer, known_ids: KnownIds, data: st.DataObject) -> None:
    await fire_batch(fuzzer, data, writes(known_ids))


@budget(500)
@given(data=st.data())
async def test_hostile_filters_paging_and_search(
    fuzzer: Fuzzer, known_ids: KnownIds, data: st.DataObject
) -> None:
    await fire_batch(fuzzer, data, reads(known_ids))


@budget(200)
@given(data=st.data())
async def test_hostile_credentials_are_scim_401(
    fuzzer: Fuzzer, known_ids: KnownIds, data: st.DataObject
) -> None:
    await fire_batch(fuzzer, data, bad_auth(known_ids))


@budget(100)
@given(data=st.data())
async def test_hostile_token_requests(fuzzer: Fuzzer, data: st.DataObject) -> None:
    await fire_batch(fuzzer, data, token_endpoint())


@pytest.mark.parametrize("size", [900_000, 1_048_500, 1_048_577, 2_000_000, 5_000_000])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_huge_bodies_are_413_or_handled(
    fuzzer: Fuzzer, known_ids: KnownIds, size: int, method: str
) -> None:
    """Bodies around scim.max_payload_bytes (1 MiB): under it they are parsed, over it a SCIM 413."""
    for kind, rid in (("Users", known_ids.users[0]), ("Groups", known_ids.groups[0])):
        path = f"{BASE}/{kind}" if method == "POST" else f"{BASE}/{kind}/{rid}"
        body = b'{"userName":"' + b"a" * size + b'"}'
        request = FuzzRequest(method, path, headers=(("Content-Type", "application/scim+json"),), body=body)
        assert await fuzzer.fire([request]) == []
        if len(body) > 1_048_576:
            assert fuzzer.tally.statuses[413] > 0
    await assert_still_serving(fuzzer)


_GARBAGE_REQUESTS: Final = (
    b"GARBAGE\r\n\r\n",
    b"GET /scim/v2/Users HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Bad\x00Header: 1\r\n\r\n",
    b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on the plain port
    b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",  # body never sent, then EOF
)


async def _raw_exchange(target: Target, raw: bytes) -> bytes:
    host = target.base_url.host
    assert host is not None
    assert target.base_url.port is not None
    reader, writer = await asyncio.open_connection(host, target.base_url.port)
    try:
        writer.write(raw)
        await writer.drain()
        writer.write_eof()
        return await reader.read(65536)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_protocol_garbage_never_5xx_and_server_survives(fuzzer: Fuzzer) -> None:
    """Below HTTP parsing there is no SCIM: aiohttp answers 4xx (or closes); never 5xx, never a crash."""
    for raw in _GARBAGE_REQUESTS:
        answer = await _raw_exchange(fuzzer.target, raw)
        fuzzer.tally.sent += 1
        if answer:
            status_line = answer.split(b"\r\n", 1)[0]
            status = int(status_line.split()[1])
            fuzzer.tally.statuses[status] += 1
            assert 400 <= status < 500, (raw[:80], status_line)
    await assert_still_serving(fuzzer)
