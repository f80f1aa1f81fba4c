"""The processes under test: master emulator, bridge and scim2-server peer, each its own OS process on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import aiohttp

STARTUP_SECONDS: Final = 30.0
STOP_SECONDS: Final = 15.0
MASTER_PASSWORD: Final = "bench-admin-password"
BRIDGE_TOKEN: Final = "bench-bearer-token-0123456789abcdef"
PEER_TOKEN: Final = "bench-peer-token-0123456789abcdef"
FLOOR_TOKEN: Final = "bench-floor-token-0123456789abcdef"
# This checkout's root: the floor server runs its bench and bridge whatever directory it starts in.
ROOT: Final = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _executable(name: str) -> str:
    """A console script of this interpreter's environment (the venv), else from PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


@dataclass(slots=True)
class Proc:
    """One started server process, its base URL and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    log: IO[bytes]

    @property
    def pid(self) -> int:
        """The OS process id."""
        return self.process.pid

    def peak_rss_mb(self) -> float | None:
        """Peak resident set size (VmHWM from /proc) in MiB, or None where /proc is unavailable."""
        status = Path(f"/proc/{self.pid}/status")
        with contextlib.suppress(OSError):
            for line in status.read_text(encoding="ascii").splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used so far (/proc/<pid>/stat), or None without /proc."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{self.pid}/stat").read_text(encoding="ascii")
            # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
            fields = stat.rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return None

    def stop(self) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def start(
    name: str, argv: Sequence[str], url: str, workdir: Path, env: Mapping[str, str] | None = None
) -> Proc:
    """Start `argv` with its output in workdir/<name>.log; `env` is added to this process's environment."""
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - fixed argv of our own tools
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    return Proc(name, process, url, log_path, log)


async def wait_ready(
    proc: Proc, path: str, headers: dict[str, str] | None = None, *, seconds: float = STARTUP_SECONDS
) -> None:
    """Poll `path` until it answers below 500; fail early if the process exits."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}; see {proc.log_path}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(proc.url + path, headers=headers) as response:
                    if response.status < 500:
                        return
            await asyncio.sleep(0.1)  # polling a child's socket; there is no readiness signal to wait on
    raise RuntimeError(f"{proc.name} did not answer {path} within {seconds:.0f} s")


def bridge_config(workdir: Path, master_url: str) -> Path:
    """A throwaway bridge config: bearer auth, the emulator's admin, a fresh SQLite file."""
    path = workdir / "scim-bridge.yaml"
    path.write_text(
        f"""\
scim:
  enabled: true
  auth:
    type: bearer
    tokens:
      - {{name: bench, token: "{BRIDGE_TOKEN}"}}
master:
  url: "{master_url}"
  username: "admin"
  password: "{MASTER_PASSWORD}"
database:
  path: "{workdir / "bridge.db"}"
logging:
  format: json
  level: info
""",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


async def start_emulator(
    workdir: Path, *, wrapper: Sequence[str] = (), startup: float = STARTUP_SECONDS
) -> Proc:
    """`scim-bridge emulator` on a free port; `wrapper` runs it under another program (bench.instructions)."""
    port = free_port()
    argv = [
        *wrapper,
        _executable("scim-bridge"),
        "--log-level",
        "warning",
        "emulator",
        "--port",
        str(port),
        "--initial-password",
        MASTER_PASSWORD,
    ]
    proc = start("emulator", argv, f"http://127.0.0.1:{port}", workdir)
    await wait_ready(proc, "/api/v1/master", seconds=startup)
    return proc


async def start_bridge(
    workdir: Path,
    master_url: str,
    *,
    profile_to: Path | None = None,
    wrapper: Sequence[str] = (),
    startup: float = STARTUP_SECONDS,
) -> Proc:
    """`scim-bridge serve` on a free port against `master_url`; under pyinstrument when `profile_to` is set,
    under `wrapper` (e.g. valgrind, bench.instructions) when that is."""
    port = free_port()
    config = bridge_config(workdir, master_url)
    tail = ["serve", "-c", str(config), "--port", str(port)]
    if profile_to is None:
        argv = [*wrapper, _executable("scim-bridge"), *tail]
    else:
        argv = [
            sys.executable,
            "-m",
            "pyinstrument",
            "-r",
            "text",
            "-o",
            str(profile_to),
            "-m",
            "bridge",
            *tail,
        ]
    proc = start("bridge", argv, f"http://127.0.0.1:{port}", workdir)
    await wait_ready(proc, "/healthz", seconds=startup)
    return proc


async def start_peer(workdir: Path) -> Proc:
    """python-scim's reference server (`scim2-server`, in-memory storage) on a free port."""
    port = free_port()
    argv = [_executable("scim2-server"), "--port", str(port), "--bearer-token", PEER_TOKEN]
    proc = start("scim2-server", argv, f"http://127.0.0.1:{port}", workdir)
    await wait_ready(proc, "/v2/ServiceProviderConfig", {"Authorization": f"Bearer {PEER_TOKEN}"})
    return proc


def floor_config(workdir: Path, master_url: str) -> Path:
    """The floor server's JSON config (bench.floor_server.FloorConfig): the emulator's admin, a fresh SQLite file."""
    path = workdir / "floor.json"
    doc = {
        "master_url": master_url,
        "username": "admin",
        "password": MASTER_PASSWORD,
        "token": FLOOR_TOKEN,
        "database": str(workdir / "floor.db"),
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    path.chmod(0o600)
    return path


async def start_floor(
    workdir: Path, master_url: str, *, wrapper: Sequence[str] = (), startup: float = STARTUP_SECONDS
) -> Proc:
    """The floor server (bench.floor_server, a measuring instrument) on a free port against `master_url`;
    under `wrapper` (valgrind, bench.floor_instructions) when that is set."""
    port = free_port()
    config = floor_config(workdir, master_url)
    argv = [
        *wrapper,
        sys.executable,
        "-m",
        "bench.floor_server",
        "--config",
        str(config),
        "--port",
        str(port),
    ]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    proc = start("floor", argv, f"http://127.0.0.1:{port}", workdir, env={"PYTHONPATH": path})
    await wait_ready(proc, "/healthz", seconds=startup)
    return proc
