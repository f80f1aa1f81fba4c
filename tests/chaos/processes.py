"""The emulator and the bridge as real processes of our own CLI, started, SIGKILLed and restarted by the suite."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(slots=True)
class CliProcess:
    """One ``python -m bridge ...`` child; its output goes to a log file kept for post-mortems."""

    args: Sequence[str]
    log_path: Path
    health_url: str
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: int = 0
    env: dict[str, str] = field(default_factory=dict)

    async def start(self, *, ready_within: float = 30.0) -> None:
        """Start the child and wait until its health URL answers 200."""
        log = self.log_path.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bridge",
                *self.args,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **self.env},
            )
        finally:
            log.close()
        self.starts += 1
        await self.wait_ready(ready_within)

    async def wait_ready(self, within: float) -> None:
        """Poll the health URL until it answers 200; fail with the log tail if the child died or hung."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise AssertionError(
                        f"{self.args[0]} exited {self.process.returncode}: {self.log_tail()}"
                    )
                try:
                    async with session.get(self.health_url) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)  # polling a child process's readiness; nothing to await instead
        raise AssertionError(f"{self.args[0]} not ready within {within}s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush, exactly like an OOM kill or a power cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.kills += 1

    async def stop(self) -> None:
        """SIGTERM and wait (end of test)."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    async def reap(self) -> None:
        """Wait for a killed child to be gone."""
        assert self.process is not None
        await self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the child's output."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "<no log>"
        return "\n".join(text.splitlines()[-lines:])
