"""What a server command does when a listener cannot bind: one event, one line, exit 4, no traceback.

A taken port is the usual cause (the previous process still shutting down, a second bridge on one host);
the exit status of its own tells a supervisor's restart loop from a bad configuration (2) or an unusable
database (3).
"""

from __future__ import annotations

from typing import Final, TextIO

import structlog

from bridge.listen import ListenFailed

EXIT_CANNOT_LISTEN: Final = 4

_log = structlog.get_logger("bridge.runner")


def cannot_listen(exc: ListenFailed, err: TextIO) -> int:
    """Log ``listen.failed``, print the operator's line on `err`; the exit status."""
    _log.error("listen.failed", name=exc.name, host=exc.host, port=exc.port, error=exc.reason)
    print(exc, file=err)
    return EXIT_CANNOT_LISTEN
