"""``scim-bridge serve``: the bridge on its configured listener until a signal."""

from __future__ import annotations

import dataclasses
import gc

from bridge.config import Settings
from bridge.runner import Listener, serve
from bridge.tls import server_ssl_context
from bridge.web.app import create_app


def with_listen(settings: Settings, host: str | None, port: int | None) -> Settings:
    """Apply --host/--port overrides from the command line."""
    server = settings.server
    return dataclasses.replace(
        settings,
        server=dataclasses.replace(
            server, host=host or server.host, port=server.port if port is None else port
        ),
    )


async def run_serve(settings: Settings, *, host: str | None, port: int | None) -> int:
    """Serve until SIGTERM/SIGINT."""
    settings = with_listen(settings, host, port)
    listener = Listener(
        create_app(settings), settings.server.host, settings.server.port, server_ssl_context(settings.server)
    )
    # What is alive once serving starts (modules, settings, the app) stays alive: frozen, it is left out
    # of every later garbage collection instead of being traversed again and again under load.
    await serve(
        [listener], shutdown_timeout=settings.server.shutdown_timeout, on_started=lambda _: gc.freeze()
    )
    return 0
