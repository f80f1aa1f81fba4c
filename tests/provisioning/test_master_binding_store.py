"""The master binding's own database failing while a session is checked (bridge/provisioning/binding.py): the
request fails cleanly, nothing is sent with the unchecked session, and the client does not take the local
failure for the master's (no retry, no circuit-breaker failure). The bridge on a socket, the emulator over HTTP
behind a FaultProxy, the SQLite file real; the other process holding its lock is a second connection to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.store import IntentState
from bridge.web.keys import MASTER
from tests.conftest import LogReader
from tests.polling import until
from tests.provisioning.faults import Rule, start_world_behind_proxy
from tests.provisioning.scim import call, user_body
from tests.scraped import master_call_outcomes

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


async def test_a_busy_database_during_the_session_check_is_503_and_no_master_failure(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    # database.busy_timeout 0.2 s: the refused write waits for the lock three times (the check's binding, its
    # intent's rollback, its audit line), 15 s at the default.
    world, proxy = await start_world_behind_proxy(
        aiohttp_server, aiohttp_client, tmp_path, database={"busy_timeout": 0.2}
    )

    async def bound() -> bool:
        return await world.store.bound_master() is not None

    await until(bound, "the start-up announcement did not bind the database")
    other = sqlite3.connect(world.store.path, isolation_level=None)

    async def lock() -> None:
        other.execute("BEGIN IMMEDIATE")

    try:
        # As a database that has not met its master yet (the master was down at start-up): the check of the
        # next session must write the binding. Another process (a backup) takes the write lock after the
        # request journalled its intent, while the master answers which cluster it is.
        other.execute("DELETE FROM master_binding")
        world.end_master_sessions()
        proxy.rules.append(Rule("GET", "/api/v1/master", meanwhile=lock))
        proxy.seen.clear()
        busy = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
        assert busy.status == 503, await busy.text()
        assert busy.headers["Retry-After"] == "2"
        body = await busy.json()
        assert (body["schemas"], body["status"]) == ([ERROR_URN], "503")
        assert "database is busy" in body["detail"]
        # Nothing was sent with the new session, and the local failure was not retried against the master.
        login = proxy.seen.index("POST /api/v1/auth/login")
        assert proxy.seen[login + 1 :] == ["GET /api/v1/master"]
        # Not the master's failure: the client still has it reached and its circuit closed.
        assert world.app[MASTER].healthy
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [e["error"] for e in captured_logs() if e.get("event") == "master.binding_unreadable"] == [
        "StoreUnavailable"
    ]
    # Counted as the database's failure, not as an answer the master never gave.
    outcomes = await master_call_outcomes(world.bridge)
    assert outcomes[("POST", "/api/v1/users", "unverified")] == 1
    assert "None" not in {outcome for _, _, outcome in outcomes}
    created = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert created.status == 201, await created.text()
    assert (await world.master.state()).users["ada@example.com"].active
    binding = await world.store.bound_master()
    assert binding is not None
    assert binding.cluster_id == "emulator-cluster"
    # The refused create's intent could not be finished on the busy database either: it stayed pending, and the
    # IdP's retry resolved it (its request was over), finding nothing of it on the master.
    assert await world.store.pending_intents() == []
    refused = await world.store.get_intent(1)
    assert refused is not None
    assert (refused.operation, refused.state) == ("create", IntentState.ROLLED_BACK)
