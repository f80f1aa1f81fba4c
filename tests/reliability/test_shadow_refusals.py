"""A shadow bridge's master client, called for the writes the IdP conversation never makes (a password, an
access token) or for a client method it does not know: simulated or refused, never sent to the master."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.determined import DeterminedClient, MasterNotFound
from bridge.reconcile.shadow import ShadowClient, ShadowRefused
from bridge.web.app import create_app
from bridge.web.keys import MASTER
from tests.conftest import LogReader
from tests.reliability.shadow_setup import live_user_then_shadow_copy, recording_emulator, writes
from tests.reliability.test_retried_post import _settings

PASSWORD = "N3w-Passw0rd-never-logged"


async def _shadow_master(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> tuple[ShadowClient, list[tuple[str, str]]]:
    """A shadow bridge's app[MASTER] beside a live bridge that provisioned "carol", and what the master
    received from the moment the shadow bridge started."""
    url, _, received = await recording_emulator(aiohttp_server)
    _, shadow_db = await live_user_then_shadow_copy(url, tmp_path, aiohttp_client, "carol")
    received.clear()
    app = create_app(dataclasses.replace(_settings(url, shadow_db), mode="shadow"))
    await aiohttp_client(app)  # started: the reconcile context has put the ShadowClient in place
    master = app[MASTER]
    assert isinstance(master, ShadowClient)
    return master, received


async def test_set_password_is_simulated_in_the_overlay_and_never_sent(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    master, received = await _shadow_master(aiohttp_server, aiohttp_client, tmp_path)
    carol = await master.get_user_by_username("carol")
    assert carol is not None
    changed = await master.set_password(carol.id, PASSWORD)
    assert changed.id == carol.id
    assert changed.modified_at is not None
    assert carol.modified_at is not None
    assert changed.modified_at > carol.modified_at  # as the master's answer (§4.8)
    assert await master.get_user(carol.id) == changed
    with pytest.raises(MasterNotFound) as unknown:  # the master's 404 for an unknown user
        await master.set_password(987_654, PASSWORD)
    assert unknown.value.is_unknown_user()

    assert writes(received) == []
    calls = [e for e in captured_logs() if e["event"] == "shadow.master_call"]
    assert [(c["method"], c["path"], c["det_id"], c["fields"]) for c in calls] == [
        ("POST", "/api/v1/users/{id}/password", carol.id, ["password"]),
        ("POST", "/api/v1/users/{id}/password", 987_654, ["password"]),
    ]
    assert PASSWORD not in captured_logs.raw()


async def test_create_token_is_refused_and_never_sent(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    master, received = await _shadow_master(aiohttp_server, aiohttp_client, tmp_path)
    carol = await master.get_user_by_username("carol")
    assert carol is not None
    with pytest.raises(ShadowRefused, match="POST /api/v1/tokens"):
        await master.create_token(carol.id, "720h")
    assert writes(received) == []
    refused = [e for e in captured_logs() if e["event"] == "shadow.refused"]
    assert [(e["method"], e["path"], e["level"]) for e in refused] == [("POST", "/api/v1/tokens", "warning")]


async def test_current_user_reads_the_real_master(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    master, received = await _shadow_master(aiohttp_server, aiohttp_client, tmp_path)
    assert (await master.current_user()).username == "admin"
    assert ("GET", "/api/v1/auth/user") in received
    assert master.credential.uses_login


async def test_a_client_method_the_shadow_client_does_not_override_is_refused(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write method added to DeterminedClient later, and not to ShadowClient, must not reach the master."""

    async def revoke_token(self: DeterminedClient, token_id: int) -> None:
        await self._call("PATCH", "/api/v1/tokens/{id}", {"id": token_id}, json={"isRevoked": True})

    monkeypatch.setattr(DeterminedClient, "revoke_token", revoke_token, raising=False)
    master, received = await _shadow_master(aiohttp_server, aiohttp_client, tmp_path)
    with pytest.raises(ShadowRefused, match=re.escape("PATCH /api/v1/tokens/{id}")):
        await revoke_token(master, 1)
    assert writes(received) == []
