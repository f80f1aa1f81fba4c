"""The client's session check: asked once per master session, before anything is sent with it.

The emulator on a socket behind a recording proxy (``seen``: every request the master received).
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from bridge.determined import (
    DeterminedClient,
    MasterClientSettings,
    MasterInfo,
    MasterMismatch,
    MasterUnverified,
    create_master_client,
)
from bridge.emulator.keys import EMULATOR_STATE
from tests.provisioning.faults import FaultProxy, start_proxy


class Recorder:
    """A session check that records the clusters it was asked about and refuses those in `refuse`."""

    def __init__(self, refuse: set[str] | None = None, *, undecided: bool = False) -> None:
        self.asked: list[str] = []
        self.refuse = refuse or set()
        self.undecided = undecided

    async def __call__(self, info: MasterInfo) -> None:
        self.asked.append(info.cluster_id)
        await asyncio.sleep(0)  # let concurrent callers pile up behind the check
        if self.undecided:
            raise MasterUnverified(
                "cannot read or record the master binding: StoreUnavailable", transient=True
            )
        if info.cluster_id in self.refuse:
            raise MasterMismatch("bound-cluster", info.cluster_id)


async def _client(
    aiohttp_server: AiohttpServer, emulator: TestServer, check: Recorder
) -> tuple[DeterminedClient, FaultProxy]:
    proxy, server = await start_proxy(aiohttp_server, str(emulator.make_url("")))
    settings = MasterClientSettings(
        url=str(server.make_url("")),
        token=None,
        username="admin",
        password="",
        connect_timeout=5.0,
        request_timeout=5.0,
        login_timeout=10.0,
        retries=2,
    )
    return create_master_client(settings, rng=lambda: 0.0, session_check=check), proxy


async def test_concurrent_first_calls_check_the_session_once(
    aiohttp_server: AiohttpServer, emulator: TestServer
) -> None:
    check = Recorder()
    client, proxy = await _client(aiohttp_server, emulator, check)
    try:
        users = await asyncio.gather(*(client.me() for _ in range(32)))
        assert {u.username for u in users} == {"admin"}
        assert check.asked == ["emulator-cluster"]
        assert proxy.seen.count("GET /api/v1/master") == 1
        # The check precedes every authenticated call of the session: the master saw it before any of them.
        assert proxy.seen.index("GET /api/v1/master") < proxy.seen.index("GET /api/v1/me")
        await client.me()
        assert check.asked == ["emulator-cluster"]
    finally:
        await client.close()


async def test_a_refused_master_gets_nothing_and_is_asked_again_at_each_call(
    aiohttp_server: AiohttpServer, emulator: TestServer
) -> None:
    check = Recorder(refuse={"emulator-cluster"})
    client, proxy = await _client(aiohttp_server, emulator, check)
    try:
        for _ in range(5):
            with pytest.raises(MasterMismatch):
                await client.me()
        # One login, then only the identity question: no authenticated request, no retry of a refusal.
        assert proxy.seen == ["POST /api/v1/auth/login"] + ["GET /api/v1/master"] * 5
        # A refusal is not an outage: the circuit stays closed, so the operator's fix takes effect at once.
        assert client.healthy
        check.refuse.clear()
        assert (await client.me()).username == "admin"
        assert check.asked == ["emulator-cluster"] * 6
    finally:
        await client.close()


async def test_unauthenticated_calls_need_no_check(
    aiohttp_server: AiohttpServer, emulator: TestServer
) -> None:
    check = Recorder(refuse={"emulator-cluster"})
    client, proxy = await _client(aiohttp_server, emulator, check)
    try:
        assert (await client.master_info()).cluster_id == "emulator-cluster"
        assert await client.ping()
        assert check.asked == []
        assert "POST /api/v1/auth/login" not in proxy.seen
    finally:
        await client.close()


async def test_a_new_login_is_checked_before_the_replay(
    aiohttp_server: AiohttpServer, emulator: TestServer
) -> None:
    """A 401 ends the session; the next one may be with another master, so it is checked before the replay."""
    check = Recorder()
    client, proxy = await _client(aiohttp_server, emulator, check)
    try:
        await client.me()
        proxy.seen.clear()
        # The master forgets every session (a restart, or another master behind the same URL).
        state = emulator.app[EMULATOR_STATE]
        state.sessions.clear()
        state.sessions_by_secret.clear()
        await client.me()
        assert proxy.seen == [
            "GET /api/v1/me",
            "POST /api/v1/auth/login",
            "GET /api/v1/master",
            "GET /api/v1/me",
        ]
        assert check.asked == ["emulator-cluster", "emulator-cluster"]
    finally:
        await client.close()


async def test_a_check_that_cannot_decide_is_neither_retried_nor_a_master_failure(
    aiohttp_server: AiohttpServer, emulator: TestServer
) -> None:
    """The bridge's own database failing under the check says nothing about the master: retrying would only ask
    the master again, and counting it would open the circuit on a local problem."""
    check = Recorder(undecided=True)
    client, proxy = await _client(aiohttp_server, emulator, check)
    try:
        for _ in range(6):  # more than the breaker's threshold of failures (5)
            with pytest.raises(MasterUnverified):
                await client.me()
        assert proxy.seen == ["POST /api/v1/auth/login"] + ["GET /api/v1/master"] * 6
        assert client.healthy
        check.undecided = False
        assert (await client.me()).username == "admin"
    finally:
        await client.close()
