"""Fuzz fixtures: the whole bridge (create_app) on a real socket in front of the emulator, and the tally."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from bridge.config import (
    AuthSettings,
    BasicCredential,
    DatabaseSettings,
    MasterSettings,
    OAuthClient,
    ScimSettings,
    Secret,
    Settings,
)
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.web.app import create_app
from tests.fuzz.harness import Fuzzer, Tally, Target
from tests.fuzz.strategies import KnownIds

ADMIN_PASSWORD = "fuzz-admin-password"
FUZZ_USER = "fuzz-idp"
FUZZ_PASSWORD = "fuzz-password-1"
_TALLY = pytest.StashKey[Tally]()


def fuzz_settings(master_url: str, db_path: Path) -> Settings:
    """Basic and OAuth credentials; the failed-attempt limiter is wide open so hostile auth keeps flowing."""
    return Settings(
        scim=ScimSettings(
            auth=AuthSettings(
                basic=(BasicCredential("fuzz", FUZZ_USER, Secret(FUZZ_PASSWORD)),),
                oauth_clients=(OAuthClient("fuzz-oauth", "fuzz-client", Secret("fuzz-client-secret")),),
                oauth_signing_key=Secret("fuzz-signing-key-0123456789abcdef"),
                failed_attempts_per_minute=1_000_000_000,
            )
        ),
        master=MasterSettings(url=master_url, username="admin", password=Secret(ADMIN_PASSWORD)),
        database=DatabaseSettings(path=str(db_path)),
    )


@pytest.fixture(scope="session")
def fuzz_tally(request: pytest.FixtureRequest) -> Tally:
    """One tally for the session, printed by pytest_terminal_summary."""
    tally = Tally()
    request.config.stash[_TALLY] = tally
    return tally


@pytest.fixture
async def fuzz_target(aiohttp_server: AiohttpServer, tmp_path: Path) -> Target:
    """The bridge app on 127.0.0.1 with the emulator as its master."""
    emulator = await aiohttp_server(create_emulator_app(EmulatorConfig(initial_password=ADMIN_PASSWORD)))
    bridge = await aiohttp_server(
        create_app(fuzz_settings(str(emulator.make_url("")), tmp_path / "bridge.db"))
    )
    basic = base64.b64encode(f"{FUZZ_USER}:{FUZZ_PASSWORD}".encode()).decode()
    return Target(base_url=bridge.make_url(""), authorization=f"Basic {basic}")


@pytest.fixture
async def fuzz_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw client session; the connector is wide enough for a whole batch at once."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        yield session


@pytest.fixture
def fuzzer(fuzz_target: Target, fuzz_session: aiohttp.ClientSession, fuzz_tally: Tally) -> Fuzzer:
    """The bridge, the session and the tally together, as the tests drive them."""
    return Fuzzer(fuzz_target, fuzz_session, fuzz_tally)


@pytest.fixture
async def known_ids(fuzz_target: Target, fuzz_session: aiohttp.ClientSession) -> KnownIds:
    """Create a few users and a group through the bridge so fuzzed ids sometimes hit real resources."""
    headers = {"Authorization": fuzz_target.authorization, "Content-Type": "application/scim+json"}
    users = []
    for name in ("fuzz.alice", "fuzz.bob", "fuzz.carol"):
        async with fuzz_session.post(
            fuzz_target.base_url / "scim/v2/Users",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "active": True,
            },
            headers=headers,
        ) as response:
            assert response.status == 201, await response.text()
            users.append((await response.json(content_type=None))["id"])
    async with fuzz_session.post(
        fuzz_target.base_url / "scim/v2/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "fuzz-group",
            "members": [{"value": users[0]}],
        },
        headers=headers,
    ) as response:
        assert response.status == 201, await response.text()
        group = (await response.json(content_type=None))["id"]
    return KnownIds(users=tuple(users), groups=(group,))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the fuzz figures: requests sent, 5xx count, status histogram."""
    tally = config.stash.get(_TALLY, None)
    if tally is None or not tally.sent:
        return
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(tally.statuses.items()))
    terminalreporter.write_sep("-", "fuzz figures")
    terminalreporter.write_line(
        f"requests sent: {tally.sent}; 5xx: {tally.server_errors} "
        f"(plus {tally.not_implemented} RFC 7644 501s for Bulk, /Me, root .search); problems: {len(tally.problems)}"
    )
    terminalreporter.write_line(f"statuses: {statuses}")
