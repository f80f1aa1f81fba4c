"""A mapping database whose file is damaged (a disk fault, a bad restore while the bridge was down): every SQLite
failure reaches the services as a store error, so the IdP gets a 500 with an RFC 7644 body, the log a
store.corrupt line instead of an unhandled_error traceback, and nothing is sent to the master. The bridge on a
socket, the emulator over HTTP, the SQLite file real and damaged (tests/damaged.py) before the bridge starts."""

from __future__ import annotations

from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.conftest import LogReader
from tests.damaged import damaged_database
from tests.idp.harness import start_world
from tests.provisioning.scim import call, user_body
from tests.scraped import master_call_outcomes

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


def _assert_500(body: dict[str, object], detail: str) -> None:
    assert (body["schemas"], body["status"]) == ([ERROR_URN], "500")
    assert detail in str(body["detail"])


async def test_a_damaged_master_binding_is_a_500_and_nothing_is_sent(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    await damaged_database(tmp_path / "bridge.db", "master_binding")
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    created = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert created.status == 500, await created.text()
    _assert_500(await created.json(), "could not read which Determined cluster its database belongs to")
    assert "ada@example.com" not in (await world.master.state()).users
    logs = captured_logs()
    assert [e["error"] for e in logs if e["event"] == "master.binding_unreadable"][-1] == "StoreCorrupt"
    assert {e["error"] for e in logs if e["event"] == "store.corrupt"} == {"database disk image is malformed"}
    assert [e for e in logs if e["event"] == "unhandled_error"] == []
    # The session check's failure, counted as the database's, not the master's.
    outcomes = await master_call_outcomes(world.bridge)
    assert outcomes[("POST", "/api/v1/users", "unverified")] == 1
    assert "None" not in {outcome for _, _, outcome in outcomes}
    # Refused before the master saw it: the write's intent is rolled back, not left for resolution.
    assert await world.store.pending_intents() == []


async def test_a_damaged_users_table_is_a_500_on_reads_and_writes(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    await damaged_database(tmp_path / "bridge.db", "users")
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    before = await world.master.state()
    for method, path, body in (
        ("GET", "/Users/2819c223-7f76-453a-919d-413861904646", None),
        ("GET", '/Users?filter=userName eq "ada@example.com"', None),
        ("POST", "/Users", user_body("ada@example.com", "Ada")),
    ):
        answer = await call(world, method, path, body)
        assert answer.status == 500, (method, path, await answer.text())
        _assert_500(await answer.json(), "mapping database failed")
    assert await world.master.state() == before
    logs = captured_logs()
    assert {e["error"] for e in logs if e["event"] == "store.corrupt"} == {"database disk image is malformed"}
    assert [e for e in logs if e["event"] == "unhandled_error"] == []
    ready = await world.bridge.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["reasons"]["database"] == "StoreCorrupt"
