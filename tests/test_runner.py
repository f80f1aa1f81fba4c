"""Graceful shutdown: a stop signal lets in-flight requests finish, then cleanups run."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bridge.listen import ListenFailed
from bridge.runner import Listener, Started, serve, start
from tests.polling import until


async def test_stop_drains_in_flight_request_then_runs_cleanup() -> None:
    events: list[str] = []
    release = asyncio.Event()
    handler_started = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        events.append("handler started")
        handler_started.set()
        await release.wait()
        return web.Response(text="finished")

    async def resource(_: web.Application) -> AsyncIterator[None]:
        yield
        events.append("cleanup")

    async def fast(_: web.Request) -> web.Response:
        return web.Response(text="fast")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/fast", fast)
    app.cleanup_ctx.append(resource)
    stop = asyncio.Event()
    started: list[Started] = []
    listening = asyncio.Event()

    def on_started(infos: list[Started]) -> None:
        started.extend(infos)
        listening.set()

    server = asyncio.create_task(
        serve([Listener(app, "127.0.0.1", 0)], shutdown_timeout=5, on_started=on_started, stop=stop)
    )
    await listening.wait()
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"{started[0].url}/slow"))
        await handler_started.wait()
        stop.set()
        # The listener closes while the slow request is still in flight: new connections are refused.
        async with aiohttp.ClientSession() as fresh:

            async def refused() -> bool:
                try:
                    async with fresh.get(f"{started[0].url}/fast", headers={"Connection": "close"}):
                        return False
                except aiohttp.ClientConnectionError:
                    return True

            await until(refused, "the listener still accepted connections after stop", polls=200)
        release.set()
        response = await request
        assert response.status == 200
        assert await response.text() == "finished"
    await server
    assert events == ["handler started", "cleanup"]


def test_sigterm_stops_the_serve_process_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "scim: {auth: {type: basic, username: determined, password: password}}\n"
        "master: {url: 'http://127.0.0.1:9', token: abcdefghijklmnop}\n"
        f"database: {{path: '{tmp_path / 'b.db'}'}}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "serve", "-c", str(config), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if '"listening"' in line:
            break
    assert '"listening"' in line
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert '"stopped"' in out
    assert "Traceback" not in err


async def test_a_listener_that_cannot_bind_cleans_up_its_app_and_names_the_address() -> None:
    events: list[str] = []

    async def resource(_: web.Application) -> AsyncIterator[None]:
        events.append("start-up")
        yield
        events.append("cleanup")

    app = web.Application()
    app.cleanup_ctx.append(resource)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        with pytest.raises(ListenFailed) as raised:
            await start(Listener(app, "127.0.0.1", port, name="bridge"), shutdown_timeout=5)
    assert events == ["start-up", "cleanup"]
    assert (raised.value.name, raised.value.host, raised.value.port) == ("bridge", "127.0.0.1", port)
    assert str(raised.value) == f"cannot listen on 127.0.0.1:{port} (bridge): Address already in use"


async def test_an_app_whose_start_up_fails_is_cleaned_up() -> None:
    events: list[str] = []

    async def opened(_: web.Application) -> AsyncIterator[None]:
        events.append("opened")
        yield
        events.append("closed")

    async def failing(_: web.Application) -> AsyncIterator[None]:
        if not events:
            yield
        raise RuntimeError("start-up failed")

    app = web.Application()
    app.cleanup_ctx.extend([opened, failing])
    with pytest.raises(RuntimeError, match="start-up failed"):
        await start(Listener(app, "127.0.0.1", 0), shutdown_timeout=5)
    assert events == ["opened", "closed"]
