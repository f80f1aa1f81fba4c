"""The bridge terminates TLS itself and re-reads its certificate on SIGHUP (real sockets, openssl certs)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from bridge.runner import Listener, Started, serve
from bridge.tls import ReloadableServerContext, server_ssl_context
from bridge.web.app import create_app
from tests.ops.settings import make_settings


@dataclass(frozen=True)
class CertPair:
    """A self-signed certificate for 127.0.0.1 and its key."""

    cert: Path
    key: Path


def _make_pair(directory: Path, common_name: str) -> CertPair:
    directory.mkdir()
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", f"/CN={common_name}",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return CertPair(cert, key)


@pytest.fixture
def pairs(tmp_path: Path) -> tuple[CertPair, CertPair, CertPair]:
    """Two distinct certificates, and the live paths the bridge is configured with (holding the first)."""
    first = _make_pair(tmp_path / "first", "first.test")
    second = _make_pair(tmp_path / "second", "second.test")
    live = CertPair(tmp_path / "live-cert.pem", tmp_path / "live-key.pem")
    _install(first, live)
    return first, second, live


def _install(source: CertPair, live: CertPair) -> None:
    shutil.copyfile(source.cert, live.cert)
    shutil.copyfile(source.key, live.key)


def _corrupt(live: CertPair) -> None:
    live.cert.write_text("not a certificate\n")


def _client_context(*pairs: CertPair) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for pair in pairs:
        context.load_verify_locations(cafile=str(pair.cert))
    return context


async def _peer_common_name(host: str, port: int, context: ssl.SSLContext) -> str:
    _, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        cert = writer.get_extra_info("peercert")
    finally:
        writer.close()
        await writer.wait_closed()
    subject = dict(item for rdn in cert["subject"] for item in rdn)
    return str(subject["commonName"])


async def test_https_and_sighup_reload(tmp_path: Path, pairs: tuple[CertPair, CertPair, CertPair]) -> None:
    first, second, live = pairs
    settings = make_settings(tmp_path, server={"tls_cert": str(live.cert), "tls_key": str(live.key)})
    context = server_ssl_context(settings.server)
    assert isinstance(context, ReloadableServerContext)
    stop, listening, reloaded = asyncio.Event(), asyncio.Event(), asyncio.Event()
    started: list[Started] = []

    def on_started(infos: list[Started]) -> None:
        started.extend(infos)
        listening.set()

    server = asyncio.create_task(
        serve(
            [Listener(create_app(settings), "127.0.0.1", 0, context)],
            shutdown_timeout=2.0,
            on_started=on_started,
            stop=stop,
            on_reload=reloaded.set,
        )
    )
    try:
        await listening.wait()
        url = started[0].url
        assert url.startswith("https://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        trust_both = _client_context(first, second)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/healthz", ssl=_client_context(first)) as response:
                assert response.status == 200
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(f"{url}/healthz", ssl=_client_context(second))
        assert await _peer_common_name("127.0.0.1", port, trust_both) == "first.test"

        _install(second, live)
        with capture_logs() as logs:
            os.kill(os.getpid(), signal.SIGHUP)
            await reloaded.wait()
        assert [e["event"] for e in logs] == ["tls.reloaded"]
        assert await _peer_common_name("127.0.0.1", port, trust_both) == "second.test"

        # A broken file on the next reload leaves the working certificate in place.
        _corrupt(live)
        reloaded.clear()
        with capture_logs() as logs:
            os.kill(os.getpid(), signal.SIGHUP)
            await reloaded.wait()
        assert [(e["event"], e["log_level"]) for e in logs] == [("tls.reload_failed", "error")]
        assert await _peer_common_name("127.0.0.1", port, trust_both) == "second.test"
    finally:
        stop.set()
        await server


def test_no_tls_without_cert(tmp_path: Path) -> None:
    assert server_ssl_context(make_settings(tmp_path).server) is None


def test_context_refuses_old_protocols(pairs: tuple[CertPair, CertPair, CertPair], tmp_path: Path) -> None:
    live = pairs[2]
    settings = make_settings(tmp_path, server={"tls_cert": str(live.cert), "tls_key": str(live.key)})
    context = server_ssl_context(settings.server)
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def _cli_common_name(port: int, context: ssl.SSLContext) -> str:
    return asyncio.run(_peer_common_name("127.0.0.1", port, context))


def test_serve_command_reloads_on_sighup(tmp_path: Path, pairs: tuple[CertPair, CertPair, CertPair]) -> None:
    """`scim-bridge serve` as a real process: HTTPS from server.tls_cert/tls_key, re-read on SIGHUP."""
    first, second, live = pairs
    config = tmp_path / "scim-bridge.yaml"
    config.write_text(
        json.dumps(
            {
                "scim": {"auth": {"type": "basic", "username": "okta", "password": "okta-password-123"}},
                "master": {"url": "http://127.0.0.1:9", "token": "v2.public.t"},
                "server": {
                    "host": "127.0.0.1",
                    "port": 0,
                    "tls_cert": str(live.cert),
                    "tls_key": str(live.key),
                },
                "database": {"path": str(tmp_path / "bridge.db")},
            }
        )
    )
    executable = str(Path(sys.executable).with_name("scim-bridge"))
    server = subprocess.Popen(
        [executable, "serve", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert server.stdout is not None
        events = (json.loads(line) for line in server.stdout)
        url = next(e["url"] for e in events if e["event"] == "listening")
        assert url.startswith("https://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        trust_both = _client_context(first, second)
        assert _cli_common_name(port, trust_both) == "first.test"
        _install(second, live)
        server.send_signal(signal.SIGHUP)
        reloaded = next(e for e in events if e["event"].startswith("tls."))
        assert reloaded["event"] == "tls.reloaded"
        assert _cli_common_name(port, trust_both) == "second.test"
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0
