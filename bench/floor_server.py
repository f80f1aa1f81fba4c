"""The floor server: a MEASURING INSTRUMENT for issue 9, not product code. Never deploy it.

It asks what the cheapest process costs that still keeps the constraints the issues put on every SCIM write,
so that the bridge's cost can be split into "the design's" and "the bridge's own". Per create it does only:

* aiohttp on uvloop (the bridge's framework and loop), the POST body parsed with orjson;
* the bearer token checked as bridge.auth does (sha256 of the presented token, hmac.compare_digest);
* a write-ahead intent committed to SQLite (WAL, synchronous=NORMAL as bridge.store sets it) BEFORE the
  master call;
* the master call, POST /api/v1/users, over the bridge's own transport (bridge.determined.transport);
* one SQLite commit of the mapping row and the intent's finish;
* a 201 JSON answer built with orjson, and one JSON log line.

PATCH of ``active`` (deactivate) is the same shape: the mapping read, an intent, PATCH /api/v1/users/{id},
one commit. ``GET /scim/v2/Users?filter=userName eq "x"`` (the lookup an IdP sends before each create) is
one indexed SELECT of the mapping table and a minimal ListResponse, with no master call. Nothing else: no
SCIM validation (a body that is not the expected shape gets a 400), no metrics, no audit, no retries, no
circuit breaker, no reconciliation of intents a crash leaves pending.

Commits are grouped per event-loop turn on the loop's thread: every intent that arrives in one turn shares
a transaction, and each caller hears back only after that COMMIT. No thread hand-over and the fewest
COMMITs a durable journal can have (bridge.store.writer groups on a thread of its own under concurrency).

Started by bench.processes.start_floor as ``python -m bench.floor_server --config FILE --port PORT``; FILE is
JSON (bench.processes.floor_config) with ``master_url``, ``username``, ``password``, ``token`` (the bearer
token clients present) and ``database``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import re
import signal
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson
import uvloop
from aiohttp import web

from bridge.determined.transport import MasterTransport

T = TypeVar("T")
Unit = Callable[[sqlite3.Connection], T]

USER_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR_SCHEMA: Final = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA: Final = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_JSON: Final = "application/scim+json"
# The bridge's defaults (bridge.config): master connections, connect timeout, request timeout.
MASTER_CONNECTIONS: Final = 16
CONNECT_SECONDS: Final = 5.0
REQUEST_SECONDS: Final = 30.0
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY,
    op TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    started REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    scim_id TEXT PRIMARY KEY,
    det_id INTEGER NOT NULL UNIQUE,
    -- userName is not caseExact (RFC 7643 §4.1.1): its unique index is NOCASE, as the bridge's is
    -- (0001_initial.sql), so the filter's case-insensitive eq is one search of that index.
    user_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    active INTEGER NOT NULL
);
"""
FIND_BY_NAME: Final = "SELECT scim_id, user_name, active FROM users WHERE user_name = ?"
# The one filter served: an attribute name and operator in any case (RFC 7644 §3.4.2.2), a JSON string value.
USERNAME_EQ: Final = re.compile(r'\s*username\s+eq\s+("(?:[^"\\]|\\.)*")\s*', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FloorConfig:
    """What the floor server needs: where the master is, its admin login, the bearer token, the SQLite file."""

    master_url: str
    username: str
    password: str
    token: str
    database: Path

    @staticmethod
    def load(path: Path) -> FloorConfig:
        """Read the JSON file bench.processes.floor_config writes."""
        doc = orjson.loads(path.read_bytes())
        return FloorConfig(
            master_url=str(doc["master_url"]),
            username=str(doc["username"]),
            password=str(doc["password"]),
            token=str(doc["token"]),
            database=Path(doc["database"]),
        )


def open_database(path: Path) -> sqlite3.Connection:
    """The one connection, with the pragmas bridge.store.connections sets on its writer."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(SCHEMA)
    return conn


@dataclass(slots=True)
class Journal:
    """Durable writes, one transaction per event-loop turn for every unit queued in that turn."""

    conn: sqlite3.Connection
    _queued: list[tuple[Unit[Any], asyncio.Future[Any]]] = field(default_factory=list)

    async def write(self, unit: Unit[T]) -> T:
        """Run `unit` in the current turn's transaction; return its value once that transaction is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if not self._queued:
            asyncio.get_running_loop().call_soon(self._commit)
        self._queued.append((unit, future))
        return await future

    def _commit(self) -> None:
        queued, self._queued = self._queued, []
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            values = [unit(conn) for unit, _ in queued]
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # An instrument, not a product: a failed group fails every caller in it (none is expected).
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for _, future in queued:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), value in zip(queued, values, strict=True):
            if not future.done():
                future.set_result(value)


def _intent(op: str, target: str) -> Unit[int]:
    def unit(conn: sqlite3.Connection) -> int:
        cursor = conn.execute(
            "INSERT INTO intents (op, target, state, started) VALUES (?, ?, 'pending', ?)",
            (op, target, time.time()),
        )
        return int(cursor.lastrowid or 0)

    return unit


def _finish_create(intent: int, scim_id: str, det_id: int, user_name: str) -> Unit[None]:
    def unit(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO users (scim_id, det_id, user_name, active) VALUES (?, ?, ?, 1)",
            (scim_id, det_id, user_name),
        )
        conn.execute("UPDATE intents SET state = 'done' WHERE id = ?", (intent,))

    return unit


def _finish_deactivate(intent: int, scim_id: str) -> Unit[None]:
    def unit(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE users SET active = 0 WHERE scim_id = ?", (scim_id,))
        conn.execute("UPDATE intents SET state = 'done' WHERE id = ?", (intent,))

    return unit


def _failed(intent: int) -> Unit[None]:
    def unit(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE intents SET state = 'failed' WHERE id = ?", (intent,))

    return unit


def error(status: int, detail: str, scim_type: str | None = None) -> web.Response:
    """An RFC 7644 §3.12 error answer."""
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type is not None:
        body["scimType"] = scim_type
    return web.Response(status=status, body=orjson.dumps(body), content_type=SCIM_JSON)


def _user(scim_id: str, user_name: str, active: bool) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "id": scim_id,
        "userName": user_name,
        "active": active,
        "meta": {"resourceType": "User", "location": f"/scim/v2/Users/{scim_id}"},
    }


def _user_answer(status: int, scim_id: str, user_name: str, active: bool) -> web.Response:
    body = orjson.dumps(_user(scim_id, user_name, active))
    return web.Response(status=status, body=body, content_type=SCIM_JSON)


class Floor:
    """The handlers, the master transport and session, the journal and the token's digest."""

    def __init__(self, config: FloorConfig, conn: sqlite3.Connection, transport: MasterTransport) -> None:
        self._config = config
        self._conn = conn
        self._journal = Journal(conn)
        self._transport = transport
        self._token_digest = hashlib.sha256(config.token.encode()).digest()
        self._master_auth = ""

    async def login(self) -> None:
        """Open the master session every call presents (POST /api/v1/auth/login)."""
        body = orjson.dumps({"username": self._config.username, "password": self._config.password})
        status, answer, _, _ = await self._master("POST", "/api/v1/auth/login", body)
        if status != 200:
            raise RuntimeError(f"master login answered {status}")
        self._master_auth = f"Bearer {orjson.loads(answer)['token']}"

    async def _master(self, method: str, path: str, body: bytes) -> tuple[int, bytes, str | None, str | None]:
        deadline = asyncio.get_running_loop().time() + REQUEST_SECONDS
        return await self._transport.request(
            method,
            path,
            authorization=self._master_auth or None,
            body=body,
            read_timeout=REQUEST_SECONDS,
            deadline=deadline,
            repeatable=False,
        )

    def _authenticated(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        presented = hashlib.sha256(token.encode()).digest()
        return scheme.lower() == "bearer" and hmac.compare_digest(presented, self._token_digest)

    async def find(self, request: web.Request) -> web.Response:
        """GET /scim/v2/Users?filter=userName eq "x": the mapping row by its unique index, as a ListResponse."""
        if not self._authenticated(request):
            return error(401, "authentication required")
        wanted = USERNAME_EQ.fullmatch(request.query.get("filter", ""))
        if wanted is None:
            return error(400, 'only the filter userName eq "..." is served', "invalidFilter")
        try:
            user_name = str(orjson.loads(wanted.group(1)))
        except orjson.JSONDecodeError:
            return error(400, "the filter's value is not a JSON string", "invalidFilter")
        # Read on the loop's thread between the journal's transactions, as deactivate's mapping read is.
        rows = self._conn.execute(FIND_BY_NAME, (user_name,)).fetchall()
        body = {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(rows),
            "startIndex": 1,
            "itemsPerPage": len(rows),
            "Resources": [_user(str(r[0]), str(r[1]), bool(r[2])) for r in rows],
        }
        return web.Response(body=orjson.dumps(body), content_type=SCIM_JSON)

    async def create(self, request: web.Request) -> web.Response:
        """POST /scim/v2/Users: intent, master POST, mapping + finish, 201."""
        if not self._authenticated(request):
            return error(401, "authentication required")
        try:
            doc = orjson.loads(await request.read())
            user_name = str(doc["userName"])
            display_name = str(doc.get("displayName") or user_name)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return error(400, "expected a JSON object with a userName")
        scim_id = str(uuid.uuid4())
        intent = await self._journal.write(_intent("create", scim_id))
        native = {
            "user": {
                "username": user_name,
                "admin": False,
                "active": True,
                "remote": True,
                "displayName": display_name,
            },
            "password": "",
            "isHashed": False,
        }
        status, answer, _, _ = await self._master("POST", "/api/v1/users", orjson.dumps(native))
        if status != 200:
            await self._journal.write(_failed(intent))
            return error(409 if status == 409 else 502, f"master answered {status}")
        det_id = int(orjson.loads(answer)["user"]["id"])
        await self._journal.write(_finish_create(intent, scim_id, det_id, user_name))
        return _user_answer(201, scim_id, user_name, True)

    async def deactivate(self, request: web.Request) -> web.Response:
        """PATCH /scim/v2/Users/{id} with one replace of `active` to false: intent, master PATCH, finish, 200."""
        if not self._authenticated(request):
            return error(401, "authentication required")
        scim_id = request.match_info["id"]
        try:
            (operation,) = orjson.loads(await request.read())["Operations"]
            wanted = operation["path"] == "active" and operation["value"] is False
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            wanted = False
        if not wanted:
            return error(400, "only one replace of active with false is served")
        row = self._conn.execute(
            "SELECT det_id, user_name FROM users WHERE scim_id = ?", (scim_id,)
        ).fetchone()
        if row is None:
            return error(404, "no such user")
        det_id, user_name = int(row[0]), str(row[1])
        intent = await self._journal.write(_intent("deactivate", scim_id))
        status, _, _, _ = await self._master("PATCH", f"/api/v1/users/{det_id}", b'{"active":false}')
        if status != 200:
            await self._journal.write(_failed(intent))
            return error(502, f"master answered {status}")
        await self._journal.write(_finish_deactivate(intent, scim_id))
        return _user_answer(200, scim_id, user_name, False)


def _log_line(fields: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(fields) + b"\n")
    sys.stdout.buffer.flush()


@web.middleware
async def request_line(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """One JSON line per request, written after the answer as the bridge writes its request line."""
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        return response
    finally:
        fields = {
            "timestamp": time.time(),
            "level": "info",
            "event": "request",
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": int((time.perf_counter() - started) * 100_000 + 0.5) / 100,
        }
        asyncio.get_running_loop().call_soon(_log_line, fields)


async def healthz(_: web.Request) -> web.Response:
    """What bench.processes.wait_ready polls."""
    return web.Response(text="ok")


async def serve(config: FloorConfig, port: int) -> None:
    """Log in to the master, listen on 127.0.0.1:`port` until SIGTERM."""
    conn = open_database(config.database)
    transport = MasterTransport(
        config.master_url, ssl_context=None, connect_timeout=CONNECT_SECONDS, limit=MASTER_CONNECTIONS
    )
    floor = Floor(config, conn, transport)
    await floor.login()
    app = web.Application(middlewares=[request_line])
    app.router.add_get("/scim/v2/Users", floor.find)
    app.router.add_post("/scim/v2/Users", floor.create)
    app.router.add_patch("/scim/v2/Users/{id}", floor.deactivate)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await stop.wait()
    finally:
        await runner.cleanup()
        await transport.close()
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the floor server process."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor_server", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    config = FloorConfig.load(args.config)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(config, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
