"""Another process holding the mapping database's write lock past the busy timeout (a backup, an operator's
sqlite3 shell): a write answers RFC 7644 §3.12 503 with Retry-After, which IdPs retry, never a 500; the
master is not touched, and the retry once the lock is gone succeeds. The bridge on a socket, the emulator
over HTTP and the SQLite file are real; the other process is a second connection to that file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.conftest import LogReader
from tests.idp.harness import start_world
from tests.provisioning.scim import call, create_group, patch

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


async def test_a_write_while_another_process_holds_the_lock_is_503_with_retry_after(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    # database.busy_timeout 0.2 s: what is asserted does not depend on how long the bridge waits for the lock,
    # and the write waits twice (its store write, then its audit line): 10 s at the default.
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path, database={"busy_timeout": 0.2})
    group = await create_group(world, "Team")
    before = await world.master.state()
    change = patch({"op": "replace", "path": "externalId", "value": "okta-7"})
    other = sqlite3.connect(world.store.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        busy = await call(world, "PATCH", f"/Groups/{group['id']}", change)
        assert busy.status == 503
        assert busy.headers["Retry-After"] == "2"
        body = await busy.json()
        assert (body["schemas"], body["status"]) == ([ERROR_URN], "503")
        assert "busy" in body["detail"]
    finally:
        other.execute("ROLLBACK")
        other.close()
    # The audit line could not be written either: logged, and the answer stayed the 503.
    refused = [e for e in captured_logs() if e.get("event") in ("audit.write_refused", "audit.write_failed")]
    assert [(e["event"], e["level"], e["operation"], e["reason"]) for e in refused] == [
        ("audit.write_refused", "warning", "patch", "busy")
    ]
    assert "exception" not in refused[0]
    assert "externalId" not in await (await call(world, "GET", f"/Groups/{group['id']}")).json()
    assert (await call(world, "PATCH", f"/Groups/{group['id']}", change)).status == 204
    assert (await (await call(world, "GET", f"/Groups/{group['id']}")).json())["externalId"] == "okta-7"
    assert await world.master.state() == before
