"""The public base URL of the SCIM endpoint, for ``meta.location`` and ``Location`` (RFC 7644 §3.1).

``server.public_url`` wins. Otherwise proxy headers (RFC 7239 ``Forwarded``, then ``X-Forwarded-Proto``
and ``X-Forwarded-Host``) count only when the peer is in ``server.trusted_proxies``: from anyone else
they would let a client choose the URLs the bridge hands back to the IdP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from bridge.config import Settings
from bridge.web.proxies import TrustedProxies

# A host with an optional port, or a bracketed IPv6 literal: nothing that could smuggle a path or scheme.
_HOST: Final = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$"
)
_SCHEMES: Final = frozenset({"http", "https"})


def _first(value: str | None) -> str | None:
    """The first entry of a comma-separated header: the one the client-facing proxy wrote."""
    if not value:
        return None
    return value.split(",", 1)[0].strip() or None


def _forwarded_scheme_host(request: web.Request) -> tuple[str | None, str | None]:
    """Scheme and host from ``Forwarded`` (first element), else from the ``X-Forwarded-*`` pair."""
    if request.forwarded:
        element = request.forwarded[0]
        return element.get("proto"), element.get("host")
    return _first(request.headers.get("X-Forwarded-Proto")), _first(request.headers.get("X-Forwarded-Host"))


@dataclass(frozen=True, slots=True)
class PublicUrl:
    """What the public base URL depends on, from settings once per app (it is asked on every response)."""

    base_path: str
    public_url: str | None
    proxies: TrustedProxies

    @classmethod
    def from_settings(cls, settings: Settings, proxies: TrustedProxies) -> PublicUrl:
        """From the server settings and the app's parse of their ``trusted_proxies``."""
        base_path = settings.server.base_path.rstrip("/")
        public_url = settings.server.public_url
        return cls(
            base_path=base_path,
            public_url=public_url.rstrip("/") + base_path if public_url else None,
            proxies=proxies,
        )

    def base_url(self, request: web.Request) -> str:
        """``scheme://host[:port]<base_path>`` as the client sees it, without a trailing slash."""
        if self.public_url:
            return self.public_url
        scheme, host = request.scheme, request.host
        # The peer only when there are proxies to trust: without any, `trust` is False for every address.
        if self.proxies.networks and self.proxies.trust(request.remote):
            forwarded_scheme, forwarded_host = _forwarded_scheme_host(request)
            if forwarded_scheme and forwarded_scheme.lower() in _SCHEMES:
                scheme = forwarded_scheme.lower()
            if forwarded_host and _HOST.match(forwarded_host):
                host = forwarded_host
        return f"{scheme}://{host}{self.base_path}"
