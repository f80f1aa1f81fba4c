"""The canonical ``request`` line of real requests (the bridge in front of the emulator, on sockets) has exactly
the fields docs/operations.md gives it: none undocumented, each documented one written by some request."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.conftest import LogReader
from tests.idp.harness import OKTA_BASIC, start_world
from tests.polling import until

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
# Present on every request line, whatever the request met.
ALWAYS = frozenset({"method", "path", "route", "status", "duration_ms", "client"})
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def documented_common_fields() -> set[str]:
    """The fields "every line has" (the table before the event tables)."""
    rows = []
    for line in OPERATIONS.read_text().split("| field | meaning |", 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return {re.findall(r"`([^`]+)`", row)[0] for row in rows}


def documented_request_fields() -> set[str]:
    """The field names of the ``request`` event's row: its fields cell's backticked words, less the values
    given in parentheses (``route`` (``/scim/v2/Users/{id}`` ...))."""
    for line in OPERATIONS.read_text().splitlines():
        if line.startswith("| `request` |"):
            cell = line.split(" | ")[2]
            while (plain := re.sub(r"\([^()]*\)", "", cell)) != cell:
                cell = plain
            return set(re.findall(r"`([^`]+)`", cell))
    raise AssertionError("docs/operations.md has no `request` row")


def test_the_documented_fields_are_read_without_their_values() -> None:
    """Negative control: the parse keeps the names and drops the example values."""
    fields = documented_request_fields()
    assert {"method", "route", "scim_type", "master_calls"} <= fields
    assert not {"okta", "create", "User", "null", "/scim/v2/Users/{id}"} & fields
    assert documented_common_fields() == {"event", "level", "timestamp", "request_id"}


async def test_real_request_lines_have_exactly_the_documented_fields(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    bridge = (await start_world(aiohttp_server, aiohttp_client, tmp_path)).bridge
    okta = {"Authorization": OKTA_BASIC, "Content-Type": "application/scim+json"}
    user = {"schemas": [USER], "userName": "line.fields", "active": True}
    assert (await bridge.post("/scim/v2/Users", json=user, headers=okta)).status == 201
    assert (await bridge.post("/scim/v2/Users", json=user, headers=okta)).status == 409
    assert (await bridge.get('/scim/v2/Users?filter=userName eq "x" and', headers=okta)).status == 400
    assert (await bridge.get("/scim/v2/Users")).status == 401
    assert (await bridge.get("/nowhere")).status == 404
    assert (await bridge.get("/healthz")).status == 200

    def lines() -> list[dict[str, Any]]:
        return [line for line in captured_logs() if line["event"] == "request"]

    # Each line is written just after its response is sent.
    await until(lambda: len(lines()) == 6, "six request lines")
    common = documented_common_fields()
    documented = documented_request_fields()
    for line in lines():
        fields = set(line) - common
        assert fields <= documented, f"undocumented fields {sorted(fields - documented)} in {line}"
        assert fields >= ALWAYS, line
    written = set().union(*(set(line) for line in lines())) - common
    assert written == documented, (
        f"documented, written by none of these requests: {sorted(documented - written)}"
    )
