"""What the image runs, without an engine: the installed CLI serves the baked config and the Dockerfile's
HEALTHCHECK command passes against it, as a real process on a real socket."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.ops.test_deploy import DEPLOY, _instructions


def _healthcheck_argv() -> list[str]:
    (health,) = [
        args for op, args in _instructions((DEPLOY / "Dockerfile").read_text()) if op == "HEALTHCHECK"
    ]
    argv = json.loads(health[health.index("CMD") + 3 :].strip())
    assert isinstance(argv, list)
    return [str(a) for a in argv]


def test_baked_config_serves_and_healthcheck_passes(tmp_path: Path) -> None:
    secrets = tmp_path / "run"
    secrets.mkdir()
    (secrets / "determined-token").write_text("v2.public.token\n")
    (secrets / "scim-basic-password").write_text("idp-password-123\n")
    config = (DEPLOY / "docker" / "scim-bridge.yaml").read_text()
    config = config.replace("/run/scim-bridge/", f"{secrets}/").replace("/run/secrets/", f"{secrets}/")
    config_path = tmp_path / "scim-bridge.yaml"
    config_path.write_text(config)
    env = {
        **os.environ,
        "SCIM_BRIDGE_CONFIG": str(config_path),
        # Only what a container changes: loopback instead of all interfaces, a free port, a tmp volume.
        "SCIM_BRIDGE_SERVER__HOST": "127.0.0.1",
        "SCIM_BRIDGE_SERVER__PORT": "0",
        "SCIM_BRIDGE_DATABASE__PATH": str(tmp_path / "scim-bridge.db"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    executable = str(Path(sys.executable).with_name("scim-bridge"))
    server = subprocess.Popen(
        [executable, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert server.stdout is not None
        url = None
        for line in server.stdout:
            event = json.loads(line)
            if event["event"] == "listening":
                url = event["url"]
                break
        assert url is not None
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        argv = _healthcheck_argv()
        python = str(Path(sys.executable))
        healthy = subprocess.run(
            [python, *argv[1:]],
            env={**env, "SCIM_BRIDGE_HEALTHCHECK_URL": f"{url}/healthz"},
            check=False,
            capture_output=True,
        )
        assert healthy.returncode == 0, healthy.stderr
        broken = subprocess.run(
            [python, *argv[1:]],
            env={**env, "SCIM_BRIDGE_HEALTHCHECK_URL": f"{url}/no-such-page"},
            check=False,
            capture_output=True,
        )
        assert broken.returncode != 0
    finally:
        server.send_signal(signal.SIGTERM)
        remaining, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert [json.loads(line)["event"] for line in remaining.splitlines()][-2:] == ["shutting_down", "stopped"]
    assert not list(tmp_path.rglob("__pycache__"))
