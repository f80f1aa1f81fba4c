"""A database belongs to one master cluster: the bridge sends nothing to another (bridge/provisioning/binding.py).

Another Determined installation numbers its users from the same start, so a bridge pointed at it would
deactivate whoever sits under the mapped ids there. Emulators with different ``cluster_id``s stand for the two
installations; a FaultProxy whose upstream is switched stands for a DNS change under a running bridge. Bridge
and emulators on sockets, SQLite in tmp_path.
"""

from __future__ import annotations

import io
from pathlib import Path

from aiohttp import ClientResponse
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.commands.adopt import run_adopt
from bridge.commands.check import run_check
from bridge.commands.db import run_db_rebind_master
from bridge.commands.reconcile import run_reconcile
from bridge.emulator import EmulatorConfig, create_emulator_app
from bridge.store import open_store
from bridge.web.keys import SETTINGS
from tests.conftest import LogReader
from tests.idp.harness import ADMIN_PASSWORD, World, start_world
from tests.idp.master_view import MasterView
from tests.polling import until
from tests.provisioning.faults import FaultProxy
from tests.provisioning.scim import call, create_user, patch, user_body
from tests.scraped import master_call_outcomes

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
DEACTIVATE = patch({"op": "replace", "path": "active", "value": False})


async def _refused(response: ClientResponse) -> None:
    assert response.status == 503, await response.text()
    body = await response.json()
    assert (body["schemas"], body["status"]) == ([ERROR_URN], "503")
    assert "not the cluster this bridge's database belongs to" in body["detail"]
    assert response.headers["Retry-After"] == "60"


async def _other_cluster(aiohttp_server: AiohttpServer, cluster_id: str = "other-cluster") -> TestServer:
    config = EmulatorConfig(initial_password=ADMIN_PASSWORD, cluster_id=cluster_id)
    server: TestServer = await aiohttp_server(create_emulator_app(config))
    return server


async def _bind(tmp_path: Path, cluster_id: str, cluster_name: str) -> None:
    """Bind the world's database (before the bridge opens it) as if it had met that cluster."""
    store = await open_store(tmp_path / "bridge.db")
    await store.bind_master(cluster_id, cluster_name)
    await store.close()


def _url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


def _events(captured_logs: LogReader, name: str) -> list[dict[str, object]]:
    return [e for e in captured_logs() if e.get("event") == name]


async def test_the_first_master_binds_the_database(captured_logs: LogReader, world: World) -> None:
    """captured_logs first: the world's start-up announcement may bind the database before the test body runs."""
    await create_user(world, "ada@example.com", "Ada")
    bound = await world.store.bound_master()
    assert bound is not None
    assert (bound.cluster_id, bound.cluster_name) == ("emulator-cluster", "scim-bridge-emulator")
    await create_user(world, "grace@example.com", "Grace")
    assert [(e["cluster_id"], e["cluster_name"]) for e in _events(captured_logs, "master.bound")] == [
        ("emulator-cluster", "scim-bridge-emulator")
    ]


async def test_start_up_asks_the_master_once_for_the_first_session_and_each_new_one_again(
    proxied: tuple[World, FaultProxy],
) -> None:
    """The start-up announcement opens the first session and checks it, so the IdP's first write does not ask
    the master which cluster it is a second time; a session opened later is checked before its first use."""
    world, proxy = proxied

    async def bound() -> bool:
        return await world.store.bound_master() is not None

    await until(bound, "the start-up announcement did not bind the database")
    ada = await create_user(world, "ada@example.com", "Ada")
    assert proxy.seen == ["POST /api/v1/auth/login", "GET /api/v1/master", "POST /api/v1/users"]

    world.end_master_sessions()
    since = len(proxy.seen)
    response = await call(world, "PATCH", f"/Users/{ada['id']}", DEACTIVATE)
    assert response.status == 200, await response.text()
    patch_ada = f"PATCH /api/v1/users/{(await world.master.state()).users['ada@example.com'].id}"
    assert proxy.seen[since:] == [patch_ada, "POST /api/v1/auth/login", "GET /api/v1/master", patch_ada]


async def test_a_database_of_another_cluster_sends_nothing_to_this_master(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    await _bind(tmp_path, "production-cluster", "prod")
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    # Said at start-up, before any IdP request.
    await until(
        lambda: bool(_events(captured_logs, "master.identity_mismatch")), "no mismatch logged at start"
    )
    before = await world.master.state()
    await _refused(await call(world, "POST", "/Users", user_body("ada@example.com", "Ada")))
    await _refused(await call(world, "POST", "/Groups", {"schemas": [], "displayName": "ops"}))
    assert await world.master.state() == before
    assert await world.store.get_user_by_user_name("ada@example.com") is None
    assert await world.store.pending_intents() == []
    (mismatch,) = _events(captured_logs, "master.identity_mismatch")
    assert (mismatch["bound_cluster_id"], mismatch["master_cluster_id"]) == (
        "production-cluster",
        "emulator-cluster",
    )
    # Each refused call is counted as refused for another cluster, not as an answer the master never gave.
    outcomes = await master_call_outcomes(world.bridge)
    assert outcomes[("POST", "/api/v1/users", "mismatch")] == 1
    assert outcomes[("POST", "/api/v1/groups", "mismatch")] == 1
    assert "None" not in {outcome for _, _, outcome in outcomes}
    ready = await world.bridge.get("/readyz")
    assert ready.status == 503
    reason = (await ready.json())["reasons"]["master"]
    assert "'emulator-cluster'" in reason
    assert "'production-cluster'" in reason
    # The binding is left as it was: only an operator moves it.
    bound = await world.store.bound_master()
    assert bound is not None
    assert bound.cluster_id == "production-cluster"


async def test_a_master_swapped_under_a_running_bridge_is_refused_until_its_own_is_back(
    proxied: tuple[World, FaultProxy], aiohttp_server: AiohttpServer, captured_logs: LogReader
) -> None:
    """The other cluster holds its own user under the id the mapping holds for Ada: before the binding, the
    IdP's deactivation of Ada deactivated that stranger."""
    world, proxy = proxied
    ada = await create_user(world, "ada@example.com", "Ada")
    other = await _other_cluster(aiohttp_server)
    stranger = MasterView(_url(other), "admin", ADMIN_PASSWORD)
    created = await stranger.call(
        "POST", "/api/v1/users", {"user": {"username": "mallory", "active": True}, "password": "Mallory!1x"}
    )
    assert created["user"]["id"] == (await world.master.state()).users["ada@example.com"].id
    own_upstream = proxy.upstream
    proxy.upstream = _url(other)

    # The session the bridge holds is unknown there (401); the new one is checked before the replay.
    await _refused(await call(world, "PATCH", f"/Users/{ada['id']}", DEACTIVATE))
    await _refused(await call(world, "DELETE", f"/Users/{ada['id']}"))
    assert (await stranger.state()).users["mallory"].active
    assert (await world.master.state()).users["ada@example.com"].active
    record = await world.store.get_user_by_scim_id(ada["id"])
    assert record is not None
    assert record.active
    assert await world.store.pending_intents() == []
    assert len(_events(captured_logs, "master.identity_mismatch")) == 1

    proxy.upstream = own_upstream
    response = await call(world, "PATCH", f"/Users/{ada['id']}", DEACTIVATE)
    assert response.status == 200, await response.text()
    assert not (await world.master.state()).users["ada@example.com"].active
    assert (await stranger.state()).users["mallory"].active
    assert (await world.bridge.get("/readyz")).status == 200


async def test_rebind_master_lets_a_running_bridge_manage_the_new_cluster(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    await _bind(tmp_path, "old-cluster", "old")
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    await _refused(await call(world, "POST", "/Users", user_body("ada@example.com", "Ada")))
    settings = world.app[SETTINGS]

    out = io.StringIO()
    assert await run_check(settings, out) == 1
    assert "FAIL master is the database's own: it is cluster 'emulator-cluster'" in out.getvalue()

    out = io.StringIO()
    assert await run_db_rebind_master(settings, out=out) == 0
    assert (
        "now belongs to cluster 'emulator-cluster' (scim-bridge-emulator); it was cluster 'old-cluster'"
        in (out.getvalue())
    )
    (rebound,) = _events(captured_logs, "master.rebound")
    assert (rebound["cluster_id"], rebound["previous_cluster_id"]) == ("emulator-cluster", "old-cluster")
    audit = await world.store.recent_audit()
    assert (audit[0].operation, audit[0].resource_type, audit[0].resource_id, audit[0].client) == (
        "rebind_master",
        "Master",
        "emulator-cluster",
        "cli",
    )

    # No restart: the running bridge reads the binding again at its next call.
    await create_user(world, "ada@example.com", "Ada")
    assert "ada@example.com" in (await world.master.state()).users
    out = io.StringIO()
    assert await run_check(settings, out) == 0
    assert "ok   master is the database's own (cluster 'emulator-cluster')" in out.getvalue()


async def test_a_master_that_names_no_cluster_is_accepted_with_one_warning(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    config = EmulatorConfig(initial_password=ADMIN_PASSWORD, cluster_id="")
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path, config)
    await create_user(world, "ada@example.com", "Ada")
    await create_user(world, "grace@example.com", "Grace")
    assert await world.store.bound_master() is None
    assert len(_events(captured_logs, "master.cluster_id_missing")) == 1
    out = io.StringIO()
    assert await run_db_rebind_master(world.app[SETTINGS], out=out) == 3
    assert "reports no clusterId: nothing to bind to" in out.getvalue()


async def test_a_static_token_is_checked_once_and_refused_on_another_cluster(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """With an access token there is no login to hook: the first authenticated call opens the session."""
    other = await _other_cluster(aiohttp_server)
    view = MasterView(_url(other), "admin", ADMIN_PASSWORD)
    created = await view.call(
        "POST",
        "/api/v1/users",
        {"user": {"username": "svc-bridge", "admin": True, "active": True}, "password": "Sv3cret!x"},
    )
    token = await view.call(
        "POST", "/api/v1/tokens", {"userId": created["user"]["id"], "lifespan": "-1", "description": "t"}
    )
    await _bind(tmp_path, "emulator-cluster", "scim-bridge-emulator")
    world = await start_world(
        aiohttp_server,
        aiohttp_client,
        tmp_path,
        bridge_master_url=lambda _own: _resolved(_url(other)),
        master={"token": token["token"], "username": None, "password": None},
    )
    before = await view.state()
    await _refused(await call(world, "POST", "/Users", user_body("ada@example.com", "Ada")))
    assert await view.state() == before


async def _resolved(url: str) -> str:
    return url


async def test_another_installation_refusing_the_login_is_still_reported_at_start_up(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path, captured_logs: LogReader
) -> None:
    """Another installation seldom knows the bridge's password: no session opens there, and the start-up
    announcement then asks the master which cluster it is without one."""
    config = EmulatorConfig(initial_password="another-installation!1", cluster_id="other-cluster")
    other: TestServer = await aiohttp_server(create_emulator_app(config))
    await _bind(tmp_path, "emulator-cluster", "scim-bridge-emulator")
    world = await start_world(
        aiohttp_server, aiohttp_client, tmp_path, bridge_master_url=lambda _own: _resolved(_url(other))
    )
    await until(
        lambda: bool(_events(captured_logs, "master.identity_mismatch")), "no mismatch logged at start"
    )
    ready = await world.bridge.get("/readyz")
    assert ready.status == 503
    assert "'other-cluster'" in (await ready.json())["reasons"]["master"]


async def test_reconcile_and_adopt_refuse_a_master_of_another_cluster(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """The CLI passes hold the database to its master too: a repair pass against another cluster would rename
    and deactivate that cluster's accounts under the mapped ids."""
    world = await start_world(aiohttp_server, aiohttp_client, tmp_path)
    ada = await create_user(world, "ada@example.com", "Ada")
    settings = world.app[SETTINGS]
    await world.store.rebind_master("production-cluster", "prod")
    before = await world.master.state()

    err = io.StringIO()
    assert await run_reconcile(settings, dry_run=False, repair=True, out=io.StringIO(), err=err) == 3
    assert err.getvalue().startswith(
        "refused: the master is cluster 'emulator-cluster'; this database belongs to cluster 'production-cluster'"
    )
    assert "scim-bridge db rebind-master" in err.getvalue()
    out = io.StringIO()
    assert await run_adopt(settings, out=out) == 3
    assert out.getvalue().startswith(
        "adoption failed: refused: the master is cluster 'emulator-cluster'; this database belongs to cluster "
        "'production-cluster'"
    )
    assert "scim-bridge db rebind-master" in out.getvalue()
    assert await world.master.state() == before
    record = await world.store.get_user_by_scim_id(ada["id"])
    assert record is not None
    assert record.tombstoned_at is None
