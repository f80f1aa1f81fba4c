"""Run one or more aiohttp applications until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from aiohttp import web

from bridge import listen
from bridge.tls import ReloadableServerContext

_log = structlog.get_logger("bridge.runner")


@dataclass(frozen=True, slots=True)
class Listener:
    """One application and the address it listens on."""

    app: web.Application
    host: str
    port: int
    ssl_context: ssl.SSLContext | None = None
    name: str = "bridge"


@dataclass(frozen=True, slots=True)
class Started:
    """A listener once bound: the port is known even when 0 was asked for."""

    name: str
    url: str


async def start(listener: Listener, shutdown_timeout: float) -> tuple[web.AppRunner, Started]:
    """Start one listener; the caller owns the runner and must clean it up.

    If the app's start-up or the bind fails (ListenFailed: the port is taken), the runner is cleaned up here
    before the error propagates: the cleanup contexts the start-up entered (the store, its writer thread,
    background tasks) exit as at a shutdown."""
    runner = web.AppRunner(listener.app, access_log=None, shutdown_timeout=shutdown_timeout)
    try:
        await runner.setup()
        url = await listen.start_site(
            runner, listener.name, listener.host, listener.port, listener.ssl_context
        )
    except BaseException:
        await asyncio.shield(runner.cleanup())
        raise
    return runner, Started(listener.name, url)


async def serve(
    listeners: Sequence[Listener],
    *,
    shutdown_timeout: float,
    on_started: Callable[[list[Started]], None] | None = None,
    stop: asyncio.Event | None = None,
    on_reload: Callable[[], None] | None = None,
) -> None:
    """Serve until a signal (or ``stop``); then stop accepting, drain in-flight requests, run cleanups.

    SIGHUP re-reads every listener's TLS certificate and key (for certificate renewal), then calls
    ``on_reload``.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def reload() -> None:
        for listener in listeners:
            if isinstance(listener.ssl_context, ReloadableServerContext):
                listener.ssl_context.reload()
        if on_reload is not None:
            on_reload()

    loop.add_signal_handler(signal.SIGHUP, reload)
    runners: list[web.AppRunner] = []
    try:
        started = []
        for listener in listeners:
            runner, info = await start(listener, shutdown_timeout)
            runners.append(runner)
            started.append(info)
            _log.info("listening", name=info.name, url=info.url)
        if on_started is not None:
            on_started(started)
        await stop.wait()
        _log.info("shutting_down")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        # Reverse order: the bridge stops before the emulator it depends on in demo mode.
        for runner in reversed(runners):
            await runner.cleanup()
        _log.info("stopped")
