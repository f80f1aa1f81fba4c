"""``scim-bridge serve``: the bridge on its configured listener until a signal."""

from __future__ import annotations

import dataclasses
import gc
import sys
from typing import Final, TextIO

from bridge.commands.cannot_listen import cannot_listen
from bridge.commands.failure import unusable
from bridge.config import Settings
from bridge.listen import ListenFailed
from bridge.runner import Listener, serve
from bridge.store import StoreError
from bridge.tls import server_ssl_context
from bridge.web.app import create_app

# Container allocations (net of frees) between two collections of the youngest generation; CPython's default is
# 700. At 32 concurrent writes a collection ran every ~14 requests and traversed their live state (coroutine
# frames, records, request objects) each time: ~20 us of a create's CPU (gc.callbacks over 4,000 creates:
# 340 collections, 84 ms). At 5,000, most of that state has been freed by reference counting before a
# collection comes: 4 collections, 3 ms. Cyclic garbage waits longer for collection, a few thousand objects.
YOUNG_GC_THRESHOLD: Final = 5000
# As the other commands exit when the mapping database cannot be used (reconcile, db, adopt).
EXIT_UNUSABLE: Final = 3


def _started() -> None:
    # What is alive once serving starts (modules, settings, the app) stays alive: frozen, it is left out
    # of every later garbage collection instead of being traversed again and again under load.
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, oldest)


def with_listen(settings: Settings, host: str | None, port: int | None) -> Settings:
    """Apply --host/--port overrides from the command line."""
    server = settings.server
    return dataclasses.replace(
        settings,
        server=dataclasses.replace(
            server, host=host or server.host, port=server.port if port is None else port
        ),
    )


async def run_serve(
    settings: Settings, *, host: str | None, port: int | None, err: TextIO = sys.stderr
) -> int:
    """Serve until SIGTERM/SIGINT; exit 3 with the operator's line when start-up cannot use the database
    (unopenable, damaged, newer, locked past the busy timeout). The store has logged its event for it
    (store.unwritable, store.corrupt), which alerts as it would from a running bridge: no traceback.
    Exit 4 when a listener cannot bind (`cannot_listen`), after the start-up's cleanups have run."""
    settings = with_listen(settings, host, port)
    listener = Listener(
        create_app(settings), settings.server.host, settings.server.port, server_ssl_context(settings.server)
    )
    try:
        await serve(
            [listener], shutdown_timeout=settings.server.shutdown_timeout, on_started=lambda _: _started()
        )
    except StoreError as exc:
        print(unusable(exc, settings), file=err)
        return EXIT_UNUSABLE
    except ListenFailed as exc:
        return cannot_listen(exc, err)
    return 0
