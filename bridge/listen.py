"""The site a listener binds: ``::`` takes IPv4 clients too, as operators mean it on dual-stack hosts.

asyncio sets IPV6_V6ONLY on every IPv6 socket it binds, so ``web.TCPSite(runner, "::", port)`` answers IPv6
clients only: on a dual-stack Kubernetes pod an IPv4 client, or a kubelet probing the pod's IPv4 address, is
refused. For ``::`` the socket is made here with IPV6_V6ONLY off; IPv4 clients then arrive as IPv4-mapped
addresses (``::ffff:10.0.0.1``), which bridge/web/proxies.py compares and keys in their IPv4 form. Every other
host is bound as aiohttp binds it.
"""

from __future__ import annotations

import ipaddress
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
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
