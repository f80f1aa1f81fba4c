"""``server.trusted_proxies`` parsed once: the peers whose forwarding headers the bridge believes.

Behind nginx or an ingress every request asks whether its peer is one of them; parsing the entries
there cost each request a string-to-network parse per entry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The configured proxy networks; an empty set trusts nobody."""

    networks: tuple[_Network, ...] = ()

    @classmethod
    def from_entries(cls, entries: Sequence[str]) -> TrustedProxies:
        """Parse IP addresses and CIDR networks (host bits allowed, as config validation allows them)."""
        try:
            return cls(tuple(ipaddress.ip_network(entry, strict=False) for entry in entries))
        except ValueError as exc:
            raise ValueError(f"server.trusted_proxies: {exc}") from None

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trust(self, address: str | None) -> bool:
        """True when `address` is an IP inside one of the networks (an IPv4-mapped IPv6 one is not IPv4)."""
        if not self.networks:
            return False  # the common case, without parsing the address
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in network for network in self.networks)
