"""A master call stopped by an exception the client has no kind for is counted with outcome "error", not "None",
and, as the circuit breaker is not told of it, leaves the master reached and the circuit closed. The bridge on a
socket, the emulator over HTTP, /metrics scraped as Prometheus parses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.determined import client as client_module
from bridge.web.keys import MASTER
from tests.conftest import LogReader
from tests.idp.harness import start_world
from tests.polling import until
from tests.provisioning.scim import call, user_body
from tests.scraped import master_call_outcomes


async def test_an_unexpected_error_in_a_master_call_is_counted_error(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    captured_logs: LogReader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A monkeypatched fault: every real way found to raise one was a bug, fixed with this outcome (a master's
    ``Retry-After: ²``, which str.isdigit() took and float() refused; a master.url host name IDNA cannot
    encode). The fault stands in for the next such bug where the first one was: the master's answer has come,
    and reading its Retry-After raises ValueError."""
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)

    async def bound() -> bool:
        return await world.store.bound_master() is not None

    # The start-up announcement has opened and checked the session: the failing call is the create's own.
    await until(bound, "the start-up announcement did not bind the database")

    def unreadable(value: str | None) -> float | None:
        raise ValueError(f"could not convert string to float: {value!r}")

    monkeypatch.setattr(client_module, "parse_retry_after", unreadable)
    response = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    monkeypatch.undo()
    assert response.status == 500
    body = await response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "500"

    lines = [e for e in captured_logs() if e.get("event") == "master.call" and e.get("failure") == "error"]
    [line] = lines  # not retried: nothing says repeating it would end otherwise
    outcomes = await master_call_outcomes(world.bridge)
    assert [(method, path, n) for (method, path, outcome), n in outcomes.items() if outcome == "error"] == [
        (line["method"], line["path"], 1)
    ]
    assert "None" not in {outcome for _, _, outcome in outcomes}
    # Not the master's failure: the client still has it reached and its circuit closed.
    assert world.app[MASTER].healthy
    # The master's answer came (the fault struck after it): the write's intent stays pending, and intent
    # resolution asks the master what happened, as after a lost answer.
    [intent] = await world.store.pending_intents()
    assert (line["method"], intent.operation, intent.resource_type) == ("POST", "create", "User")
