"""``scim-bridge serve`` whose listener cannot bind (another process holds the port): one ``listen.failed``
event, the operator's line on stderr, exit 4, no traceback; the start-up's cleanups have run, so the store
was closed (its WAL checkpointed and removed). The real command in a process of its own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket listens on for the test's length."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def _serve(tmp_path: Path, port: int, metrics_port: int | None) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "c.yaml"
    metrics = "" if metrics_port is None else f"metrics: {{port: {metrics_port}}}\n"
    config.write_text(
        "scim: {auth: {type: basic, username: determined, password: password}}\n"
        "master: {url: 'http://127.0.0.1:9', token: abcdefghijklmnop}\n"
        f"database: {{path: '{tmp_path / 'bridge.db'}'}}\n" + metrics
    )
    return subprocess.run(
        [sys.executable, "-m", "bridge", "serve", "-c", str(config), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("which", ["bridge", "operator"])
def test_a_taken_port_is_logged_and_exits_4_after_the_cleanups(
    tmp_path: Path, taken_port: int, which: str
) -> None:
    # The main listener on the taken port, or the operator listener (metrics.port) on it.
    ports = (taken_port, None) if which == "bridge" else (0, taken_port)
    result = _serve(tmp_path, *ports)
    assert result.returncode == 4, result.stderr
    assert result.stderr == f"cannot listen on 127.0.0.1:{taken_port} ({which}): Address already in use\n"
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    failed = [line for line in lines if line["event"] == "listen.failed"]
    assert len(failed) == 1
    assert {key: failed[0][key] for key in ("level", "name", "host", "port", "error")} == {
        "level": "error",
        "name": which,
        "host": "127.0.0.1",
        "port": taken_port,
        "error": "Address already in use",
    }
    assert "exception" not in failed[0]
    assert [line for line in lines if line["event"] == "listening"] == []
    # The store was opened (and migrated) by the start-up, then closed by its cleanup: the last connection's
    # close checkpoints the WAL and removes it.
    assert (tmp_path / "bridge.db").exists()
    assert not (tmp_path / "bridge.db-wal").exists()
