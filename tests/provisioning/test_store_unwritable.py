"""A mapping database whose disk is full, or whose file cannot be opened for writing: operator-fixable
conditions, so the IdP hears 503 with Retry-After and a `detail` naming the condition (never a path), /readyz
reports it, the log says which once (store.unwritable) and once when it is mended (store.recovered), and no
write is lost or half-done: every user on the master is mapped, compensated or journalled.

Real parts: the bridge on a socket, the emulator over HTTP, SQLite on a real tmpfs filled to the last byte
(mounting needs CAP_SYS_ADMIN; tests run as root, where chmod stops no write), a read-only bind mount for a
file that cannot be opened for writing, and a connection opened ``mode=ro`` for SQLite's own read-only error.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bridge.store import StoreUnwritable, open_store
from bridge.store.store import _translate
from tests.conftest import LogReader
from tests.idp.harness import World, start_world
from tests.provisioning.faults import USERS_PATH, Rule, start_world_behind_proxy
from tests.provisioning.scim import call, filter_ids, user_body

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


def _mount(target: Path, *arguments: str) -> None:
    """Mount `arguments` (options, then the source) on `target`, or skip the test where this process may not (no mount binary, no CAP_SYS_ADMIN)."""
    target.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", *arguments, str(target)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


def _unmount(target: Path) -> None:
    # Lazy: the bridge's connections may still be closing; the kernel lets go once they are.
    subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def _read_only_view(source: Path, target: Path) -> None:
    """`source` again at `target`, read-only (a bind mount remounted ro): root cannot write through it either."""
    _mount(target, "--bind", str(source))
    remounted = subprocess.run(
        ["mount", "-o", "remount,bind,ro", str(target)], capture_output=True, check=False
    )
    if remounted.returncode != 0:
        _unmount(target)
        pytest.skip("cannot remount read-only here")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: room for the migrated database and some writes, small enough to fill at once."""
    disk = tmp_path / "disk"
    _mount(disk, "-t", "tmpfs", "-o", "size=2m", "tmpfs")
    yield disk
    _unmount(disk)


def _fill(disk: Path) -> Path:
    """Take every free byte of `disk` with one file; deleting it frees them."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle, pytest.raises(OSError, match="No space left") as full:
        _write_forever(handle)
    assert full.value.errno == errno.ENOSPC
    return filler


def _write_forever(handle: BinaryIO) -> None:
    while True:
        handle.write(b"\0" * 4096)


async def _active_unaccounted(world: World, names: list[str]) -> list[str]:
    """Names active on the master whose user the store does not map, while no intent is left pending for
    resolution to decide: a write lost between master and store."""
    if await world.store.pending_intents():
        return []
    master = (await world.master.state()).users
    unaccounted = []
    for name in names:
        user = master.get(name)
        if user is not None and user.active:
            record = await world.store.get_user_by_user_name(name)
            if record is None or record.det_id != user.id:
                unaccounted.append(name)
    return unaccounted


async def test_a_full_disk_is_a_503_naming_it_and_readiness_comes_back_when_space_does(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    small_disk: Path,
    captured_logs: LogReader,
) -> None:
    world = await start_world(aiohttp_server, aiohttp_client, small_disk)
    first = await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))
    assert first.status == 201, await first.text()
    filler = _fill(small_disk)

    names: list[str] = []
    statuses: list[int] = []
    unavailable = None
    while len(names) < 100 and statuses.count(503) < 3:
        names.append(f"user{len(names)}@example.com")
        answer = await call(world, "POST", "/Users", user_body(names[-1], "Some One"))
        statuses.append(answer.status)
        if answer.status == 503:
            unavailable = answer
            body = await answer.json()
    assert unavailable is not None, statuses
    # Before the wall, writes went through; at it, at most one write that reached the master failed to be
    # recorded (500, compensated or journalled, as any store failure after the master); then 503s.
    assert set(statuses) <= {201, 500, 503}, statuses
    assert statuses.count(500) <= 1, statuses
    assert unavailable.headers["Retry-After"] == "30"
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == "503"
    assert body["detail"] == (
        "The mapping database cannot be written (disk full); the operator must fix it. Retry later."
    )
    assert str(small_disk) not in await unavailable.text()
    ready = await world.bridge.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["reasons"] == {"database": "StoreUnwritable (disk full)"}
    # Reads need no space.
    assert (await call(world, "GET", '/Users?filter=userName eq "ada@example.com"')).status == 200

    filler.unlink()
    ready = await world.bridge.get("/readyz")
    assert ready.status == 200, await ready.text()
    again = await call(world, "POST", "/Users", user_body("grace@example.com", "Grace"))
    assert again.status == 201, await again.text()

    logs = captured_logs()
    transitions = [
        (e["event"], e.get("condition"))
        for e in logs
        if e["event"] in ("store.unwritable", "store.recovered", "store.failed")
    ]
    assert transitions == [("store.unwritable", "disk full"), ("store.recovered", "disk full")]
    unwritable = next(e for e in logs if e["event"] == "store.unwritable")
    assert (unwritable["level"], unwritable["error"]) == ("error", "database or disk is full")
    assert [e for e in logs if e["event"] == "unhandled_error"] == []
    # Each refused request's audit line is a warning naming the condition, not another traceback on that disk.
    assert [e for e in logs if e["event"] in ("audit.write_failed", "intent.finish_failed")] == []
    refused = [e for e in logs if e["event"] == "audit.write_refused"]
    assert len(refused) >= statuses.count(503), statuses
    assert {(e["level"], e["reason"]) for e in refused} == {("warning", "disk full")}
    assert all("exception" not in e for e in refused)
    assert await _active_unaccounted(world, names) == []


async def test_a_disk_filling_while_the_master_writes_leaves_the_user_compensated_or_journalled(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    small_disk: Path,
    captured_logs: LogReader,
) -> None:
    """The intent is recorded, the master creates the user, then the store cannot record it: as for any store
    failure after the master, the user is deactivated (compensated) and the intent left pending when even
    marking it rolled back fails, so resolution decides it once the disk has room. The IdP hears the full
    disk's 503 (retry later), not a 500; its retry once the disk has room settles the user, which its
    userName filter then finds."""
    world, proxy = await start_world_behind_proxy(aiohttp_server, aiohttp_client, small_disk)
    assert (await call(world, "POST", "/Users", user_body("ada@example.com", "Ada"))).status == 201
    filled: list[Path] = []

    async def fill() -> None:
        filled.append(_fill(small_disk))

    # The master has created the user (its answer held at the proxy) when the disk fills: the store write after
    # it is refused, whatever the machine's load.
    proxy.rules.append(Rule("POST", USERS_PATH, meanwhile=fill))
    answer = await call(world, "POST", "/Users", user_body("grace@example.com", "Grace"))
    [filler] = filled
    assert answer.status == 503, await answer.text()
    assert answer.headers["Retry-After"] == "30"
    assert "cannot be written (disk full)" in (await answer.json())["detail"]
    grace = (await world.master.state()).users["grace@example.com"]
    assert not grace.active  # compensated
    assert await world.store.get_user_by_user_name("grace@example.com") is None
    assert [i.operation for i in await world.store.pending_intents()] == ["create"]
    events = [e["event"] for e in captured_logs()]
    assert "master.compensated" in events
    assert events.count("store.unwritable") == 1

    filler.unlink()
    ready = await world.bridge.get("/readyz")
    assert ready.status == 200, await ready.text()
    assert "store.recovered" in [e["event"] for e in captured_logs()]
    # The retry settles the first attempt (its user mapped and reactivated) and hears 409, as any create of a
    # name the bridge maps; the IdP's userName filter then finds that user (Okta's import filters first).
    retried = await call(world, "POST", "/Users", user_body("grace@example.com", "Grace"))
    assert retried.status == 409, await retried.text()
    [found] = await filter_ids(world, "Users", "userName", "grace@example.com")
    assert (await (await call(world, "GET", f"/Users/{found}")).json())["active"] is True
    assert (await world.master.state()).users["grace@example.com"].active
    assert await world.store.pending_intents() == []


async def test_a_database_that_cannot_be_opened_for_writing_is_unwritable_not_a_failure(
    tmp_path: Path, captured_logs: LogReader
) -> None:
    """A read-only mount (a restore onto a volume mounted ro, a kernel's remount after I/O errors): SQLite
    cannot open the WAL database's shared-memory file beside it."""
    data = tmp_path / "data"
    data.mkdir()
    store = await open_store(data / "bridge.db")
    await store.close()
    readonly = tmp_path / "readonly"
    _read_only_view(data, readonly)
    try:
        with pytest.raises(StoreUnwritable) as raised:
            await open_store(readonly / "bridge.db")
    finally:
        _unmount(readonly)
    assert raised.value.condition == "cannot open"
    assert str(readonly) not in str(raised.value)
    assert [e for e in captured_logs() if e["event"] in ("store.failed", "store.corrupt")] == []


def test_sqlite_read_only_error_is_unwritable(tmp_path: Path) -> None:
    """SQLITE_READONLY as SQLite raises it, from a real connection that may not write."""
    path = tmp_path / "bridge.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    readonly = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            readonly.execute("INSERT INTO t VALUES (1)")
    finally:
        readonly.close()
    error = _translate(raised.value)
    assert isinstance(error, StoreUnwritable)
    assert error.condition == "read-only"
