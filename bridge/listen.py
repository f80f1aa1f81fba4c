"""The site a listener binds: ``::`` takes IPv4 clients too, as operators mean it on dual-stack hosts.

asyncio sets IPV6_V6ONLY on every IPv6 socket it binds, so ``web.TCPSite(runner, "::", port)`` answers IPv6
clients only: on a dual-stack Kubernetes pod an IPv4 client, or a kubelet probing the pod's IPv4 address, is
refused. For ``::`` the socket is made here with IPV6_V6ONLY off; IPv4 clients then arrive as IPv4-mapped
addresses (``::ffff:10.0.0.1``), which bridge/web/proxies.py compares and keys in their IPv4 form. Every other
host is bound as aiohttp binds it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl

from aiohttp import web


def _every_address(host: str) -> bool:
    """True for the IPv6 unspecified address, however it is written (``::``, ``0::0``)."""
    try:
        return ipaddress.ip_address(host) == ipaddress.IPv6Address(0)
    except ValueError:
        return False


def _dual_stack_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR as asyncio sets it on the listeners it binds: a restart rebinds while old
        # connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def site(
    runner: web.BaseRunner, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> web.BaseSite:
    """The site for `host`:`port` (port 0: a free one); the caller starts it."""
    if _every_address(host):
        return web.SockSite(runner, _dual_stack_socket(port), ssl_context=ssl_context)
    return web.TCPSite(runner, host, port, ssl_context=ssl_context)


def url(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port``, an IPv6 literal in brackets (RFC 3986 §3.2.2)."""
    return f"{scheme}://{authority(host, port)}"


def authority(host: str, port: int) -> str:
    """``host:port``, an IPv6 literal in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ListenFailed(Exception):
    """A listener could not bind its address: another process holds the port, the host is not one of this
    machine's addresses, or a port below 1024 without the privilege."""

    def __init__(self, name: str, host: str, port: int, error: OSError) -> None:
        # The OS's own words for the errno ("Address already in use"): the exception's text repeats the
        # address, in the event loop's own format.
        reason = os.strerror(error.errno) if error.errno else str(error)
        super().__init__(f"cannot listen on {authority(host, port)} ({name}): {reason}")
        self.name = name
        self.host = host
        self.port = port
        self.reason = reason


async def start_site(
    runner: web.BaseRunner, name: str, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> str:
    """Bind and start `runner`'s site for `host`:`port`; its URL (the bound port when 0 was asked for).

    Raises ListenFailed when the address cannot be bound; the runner stays the caller's to clean up."""
    try:
        await site(runner, host, port, ssl_context).start()
    except OSError as exc:
        raise ListenFailed(name, host, port, exc) from exc
    addresses = runner.addresses
    bound = int(addresses[-1][1]) if addresses else port
    return url("https" if ssl_context else "http", host, bound)
