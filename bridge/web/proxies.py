"""``server.trusted_proxies`` parsed once: the peers whose forwarding headers the bridge believes.

Behind nginx or an ingress every request asks whether its peer is one of them; parsing the entries
there cost each request a string-to-network parse per entry.

A dual-stack listener (``::``) reports an IPv4 client as an IPv4-mapped IPv6 address (``::ffff:10.0.0.1``),
and a proxy on one may write that form into X-Forwarded-For. Addresses are compared, and used as the failed
attempts' key, in their IPv4 form, so an IPv4 entry trusts its proxy on either listener and one client is one
key whichever way it arrived.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAPPED: Final = ipaddress.IPv6Network("::ffff:0:0/96")
_ALL_IPV4: Final = ipaddress.IPv4Network("0.0.0.0/0")
_MAPPED_PREFIX: Final = "::ffff:"


def parse_address(address: str) -> _Address | None:
    """The IP `address` names, an IPv4-mapped one as IPv4; None for anything else (``unknown``, a name)."""
    if address.startswith(_MAPPED_PREFIX):
        tail = address[len(_MAPPED_PREFIX) :]
        if "." in tail and ":" not in tail:
            # How sockets (inet_ntop) write a mapped peer: its IPv4 tail is the address, parsed in a third of the
            # time an IPv6 parse and its ipv4_mapped take. Other spellings take the general way below.
            address = tail
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def unmapped(address: str) -> str:
    """`address` with an IPv4-mapped IPv6 address written as IPv4, anything else as it came: the client key.

    Only a text with both a colon and a dot can be a mapped address as sockets and proxies write it, so the
    common IPv4 or IPv6 peer costs two scans of a short string, not a parse."""
    if ":" not in address or "." not in address:
        return address
    ip = parse_address(address)
    return address if ip is None else str(ip)


def proxy_networks(entry: str) -> tuple[_Network, ...]:
    """The networks one ``server.trusted_proxies`` entry stands for, host bits allowed (ValueError if none).

    Addresses are compared in IPv4 form (above), so an entry inside ``::ffff:0:0/96`` becomes that IPv4
    network, and one holding the whole mapped range (``::/0``) keeps trusting every IPv4 peer too."""
    network = ipaddress.ip_network(entry, strict=False)
    if isinstance(network, ipaddress.IPv4Network):
        return (network,)
    if network.subnet_of(_MAPPED):
        mapped = ipaddress.IPv4Address(int(network.network_address) & 0xFFFF_FFFF)
        return (ipaddress.IPv4Network((mapped, network.prefixlen - 96)),)
    if network.supernet_of(_MAPPED):
        return (network, _ALL_IPV4)
    return (network,)


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The configured proxy networks; an empty set trusts nobody."""

    networks: tuple[_Network, ...] = ()

    @classmethod
    def from_entries(cls, entries: Sequence[str]) -> TrustedProxies:
        """Parse IP addresses and CIDR networks (host bits allowed, as config validation allows them)."""
        try:
            return cls(tuple(network for entry in entries for network in proxy_networks(entry)))
        except ValueError as exc:
            raise ValueError(f"server.trusted_proxies: {exc}") from None

    def __bool__(self) -> bool:
        return bool(self.networks)

    def check(self, address: str) -> tuple[str, bool]:
        """`address` as the client key (`unmapped`) and whether it is inside one of the networks, from one parse:
        a request from a proxy asks both of its peer and of each X-Forwarded-For hop it reads."""
        if not self.networks:
            return unmapped(address), False
        ip = parse_address(address)
        if ip is None:
            return address, False
        # The key `unmapped` makes: only a text with a colon and a dot is written as the address it parsed to.
        key = str(ip) if ":" in address and "." in address else address
        return key, any(ip in network for network in self.networks)

    def trust(self, address: str | None) -> bool:
        """True when `address` is an IP inside one of the networks (an IPv4-mapped one as its IPv4 address)."""
        if not self.networks:
            return False  # the common case, without parsing the address
        return self.check(address or "")[1]
