"""``scim-bridge demo`` as a newcomer runs it: the banner's curl line lists users, /healthz answers, and a
second demo in the same directory starts as clean as the first."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Demo:
    base_url: str
    curl: list[str]
    authorization: str


@contextmanager
def running_demo(workdir: Path) -> Iterator[Demo]:
    """`python -m bridge demo` in `workdir` with the shipped config; stopped with SIGINT (exit 0)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "demo", "--port", "0"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    try:
        banner: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line.startswith("{"):
                banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(banner)
        base = re.search(r"SCIM base URL:\s+(\S+)", text)
        curl = re.search(r"Try:\s+(curl .+)", text)
        assert base, text
        assert curl, text
        words = shlex.split(curl.group(1))
        assert words[:3] == ["curl", "-s", "-u"]
        authorization = "Basic " + base64.b64encode(words[3].encode()).decode()
        yield Demo(base.group(1), words, authorization)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0


def _call(demo: Demo, url: str, body: Mapping[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data)  # noqa: S310 - loopback http URL printed by the demo
    request.add_header("Authorization", demo.authorization)
    if data is not None:
        request.add_header("Content-Type", "application/scim+json")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback URL
        return response.status, json.loads(response.read())


def test_demo_banner_curl_line_lists_users(tmp_path: Path) -> None:
    shutil.copy(ROOT / "scim-bridge.yaml", tmp_path / "scim-bridge.yaml")
    with running_demo(tmp_path) as demo:
        assert demo.curl[4].startswith("http://127.0.0.1:")
        status, listing = _call(demo, demo.curl[4])
        assert status == 200
        assert listing["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
        assert listing["totalResults"] == 0
        health_url = demo.base_url.rsplit("/scim/v2", 1)[0] + "/healthz"
        with urllib.request.urlopen(health_url, timeout=30) as response:  # noqa: S310 - loopback
            assert response.status == 200


def test_a_second_demo_in_the_same_directory_starts_clean(tmp_path: Path) -> None:
    """The emulator's users live in memory; a mapping database left by the first demo would map the second
    emulator's fresh Determined ids to old SCIM users (the first create answered 500)."""
    shutil.copy(ROOT / "scim-bridge.yaml", tmp_path / "scim-bridge.yaml")
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "first.run"}
    for _ in range(2):
        with running_demo(tmp_path) as demo:
            status, listing = _call(demo, f"{demo.base_url}/Users")
            assert (status, listing["totalResults"]) == (200, 0)
            status, created = _call(demo, f"{demo.base_url}/Users", user)
            assert (status, created["userName"]) == (201, "first.run")
    assert not list(tmp_path.glob("*.db*"))
