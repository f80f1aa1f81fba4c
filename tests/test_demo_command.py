"""``scim-bridge demo`` as a newcomer runs it: the banner's curl line lists users, /healthz answers."""

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_banner_curl_line_lists_users(tmp_path: Path) -> None:
    shutil.copy(ROOT / "scim-bridge.yaml", tmp_path / "scim-bridge.yaml")
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "demo", "--port", "0"],
        cwd=tmp_path,
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
        user, password = words[3].split(":", 1)
        assert words[4].startswith("http://127.0.0.1:")
        request = urllib.request.Request(words[4])  # noqa: S310 - checked loopback http URL
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback URL printed by the demo
            listing = json.loads(response.read())
        assert listing["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
        assert listing["totalResults"] == 0
        health_url = base.group(1).rsplit("/scim/v2", 1)[0] + "/healthz"
        with urllib.request.urlopen(health_url, timeout=30) as response:  # noqa: S310 - loopback
            assert response.status == 200
        assert (tmp_path / "scim-bridge.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0
