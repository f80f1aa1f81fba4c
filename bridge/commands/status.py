"""``scim-bridge status``: fetch ``/status`` from a running instance and print a human summary."""

from __future__ import annotations

import argparse
import ssl
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp

from bridge.config import ConfigError, Settings, load_settings

EXIT_UNREACHABLE: Final = 1
EXIT_USAGE: Final = 2
_TIMEOUT: Final = 15.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``scim-bridge status``."""
    parser.add_argument("-c", "--config", help="config file, to find the listener and metrics.token")
    parser.add_argument("--url", help="base URL of the instance (default: derived from the config)")
    parser.add_argument("--token-file", help="file holding metrics.token (default: from the config)")
    parser.add_argument("--ca-file", help="CA bundle for the bridge's own TLS certificate")
    parser.add_argument("--insecure", action="store_true", help="do not verify the bridge's certificate")


def instance_url(settings: Settings) -> str:
    """Where /status is served: the operator port if configured, else the main listener."""
    if settings.metrics.port is not None:
        return f"http://{_connectable(settings.metrics.host)}:{settings.metrics.port}"
    scheme = "https" if settings.server.tls_cert else "http"
    return f"{scheme}://{_connectable(settings.server.host)}:{settings.server.port}"


def _connectable(host: str) -> str:
    # A wildcard listen address is reached through loopback, which /status trusts without a token.
    if host in ("0.0.0.0", "", "*"):  # noqa: S104 - compared, not bound
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


def format_status(body: Mapping[str, Any]) -> str:
    """Render the /status JSON as aligned lines for a terminal."""
    master = body.get("master") or {}
    if master.get("reachable"):
        reach = f"reachable (version {master.get('version') or 'unknown'})"
    else:
        reach = f"UNREACHABLE ({master.get('error') or 'unknown error'})"
    counts = body.get("counts") or {}
    count_text = ", ".join(f"{name} {value}" for name, value in sorted(counts.items())) or "not reported"
    checks = body.get("checks") or {}
    check_text = ", ".join(f"{name}: {state}" for name, state in sorted(checks.items())) or "none registered"
    interval = body.get("reconcile_interval") or 0
    last = body.get("last_reconcile") or ("never" if interval else "disabled (reconcile.interval is 0)")
    rows = [
        ("version", str(body.get("version"))),
        ("mode", str(body.get("mode"))),
        ("uptime", f"{_duration(float(body.get('uptime_seconds') or 0))} (since {body.get('started_at')})"),
        ("requests", str(body.get("requests_total"))),
        ("counts", count_text),
        ("pending intents", str(body.get("intents_pending"))),
        ("last reconcile", str(last)),
        ("master", f"{master.get('url')} {reach}"),
        ("readiness", check_text),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def _read_token(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


async def fetch_status(url: str, token: str | None, ssl_option: ssl.SSLContext | bool) -> Mapping[str, Any]:
    """GET ``<url>/status`` with the optional bearer token; raises on any non-200 answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = aiohttp.ClientTimeout(total=_TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url.rstrip("/") + "/status", headers=headers, ssl=ssl_option) as response,
    ):
        if response.status != 200:
            raise aiohttp.ClientResponseError(
                response.request_info, (), status=response.status, message=response.reason or ""
            )
        body = await response.json()
    if not isinstance(body, dict):
        raise ValueError("/status did not answer a JSON object")
    return body


async def run_status(args: argparse.Namespace) -> int:
    """The command: exit 0 with a summary, 1 if the instance cannot be asked, 2 on usage errors."""
    token: str | None = None
    url: str | None = args.url
    if args.config or not url:
        try:
            settings = load_settings(args.config)
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"config error: {problem}", file=sys.stderr)
            return EXIT_USAGE
        url = url or instance_url(settings)
        token = settings.metrics.token.reveal() if settings.metrics.token else None
    if args.token_file:
        token = _read_token(Path(args.token_file))
    ssl_option: ssl.SSLContext | bool = True
    if args.insecure:
        ssl_option = False
    elif args.ca_file:
        ssl_option = ssl.create_default_context(cafile=args.ca_file)
    try:
        body = await fetch_status(url, token, ssl_option)
    except aiohttp.ClientResponseError as exc:
        hint = " (set metrics.token or run on the bridge's host)" if exc.status == 401 else ""
        print(f"status: {url}/status answered {exc.status}{hint}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        print(f"status: cannot reach {url}: {type(exc).__name__}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(format_status(body))
    return 0
