"""``scim-bridge serve`` whose database cannot be used at start-up: the store's own event (``store.unwritable``,
``store.corrupt``), which operators alert on from a running bridge, then the commands' operator line on stderr
and exit 3; no traceback, no path in the log line (the real command in a process of its own)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def _unopenable(db: Path) -> Path:
    return db.parent / "no-such-directory" / db.name


def _not_a_database(db: Path) -> Path:
    db.write_text("not a database, a text file of " + "words " * 200)
    return db


def _serve(tmp_path: Path, database: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "c.yaml"
    config.write_text(
        "scim: {auth: {type: basic, username: determined, password: password}}\n"
        "master: {url: 'http://127.0.0.1:9', token: abcdefghijklmnop}\n"
        f"database: {{path: '{database}'}}\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "bridge", "serve", "-c", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("make", "event", "fields", "said"),
    [
        pytest.param(
            _unopenable,
            "store.unwritable",
            {"condition": "cannot open", "error": "unable to open database file"},
            "StoreUnwritable: database unwritable (cannot open): unable to open database file",
            id="unopenable",
        ),
        pytest.param(
            _not_a_database,
            "store.corrupt",
            {"error": "file is not a database"},
            "StoreCorrupt: cannot open: file is not a database",
            id="not-a-database",
        ),
    ],
)
def test_a_database_start_up_cannot_use_is_logged_and_exits_3(
    tmp_path: Path, make: Callable[[Path], Path], event: str, fields: dict[str, str], said: str
) -> None:
    database = make(tmp_path / "bridge.db")
    result = _serve(tmp_path, database)
    assert result.returncode == 3, result.stderr
    assert result.stderr == f"the database {database} could not be used: {said}\n"
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    logged = [line for line in lines if line["event"] == event]
    assert len(logged) == 1
    assert {key: logged[0][key] for key in ("level", *fields)} == {"level": "error", **fields}
    assert "exception" not in logged[0]
    assert str(tmp_path) not in result.stdout
    assert "listening" not in [line["event"] for line in lines]
