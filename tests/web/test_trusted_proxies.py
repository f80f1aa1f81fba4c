"""TrustedProxies, parsed once, decides as the per-call parse of server.trusted_proxies did."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.web.proxies import TrustedProxies


def per_call_parse(entries: list[str], address: str | None) -> bool:
    """The decision as bridge/web/forwarded.py made it before the entries were parsed once."""
    if not entries:
        return False
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(entry, strict=False) for entry in entries)


def _network(address: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int) -> str:
    return f"{address}/{prefix % (address.max_prefixlen + 1)}"


# Host bits set (strict=False), bare addresses, and both families.
entries = st.lists(
    st.one_of(
        st.builds(_network, st.ip_addresses(), st.integers(0, 128)),
        st.ip_addresses().map(str),
    ),
    max_size=4,
)


def _mapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return f"::ffff:{address}"


addresses = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(_mapped),  # IPv4-mapped IPv6: not in an IPv4 network, then as now
    st.sampled_from(["10.1.2.3", "127.0.0.1", "::1", "unknown", "", "10.0.0.0/8", "fe80::1%eth0"]),
    st.none(),
)


@given(entries, addresses)
def test_trust_matches_the_per_call_parse(configured: list[str], address: str | None) -> None:
    assert TrustedProxies.from_entries(configured).trust(address) == per_call_parse(configured, address)


@given(entries, st.data())
def test_addresses_inside_a_configured_network_are_trusted(
    configured: list[str], data: st.DataObject
) -> None:
    proxies = TrustedProxies.from_entries(configured)
    for network in proxies.networks:
        offset = data.draw(st.integers(0, network.num_addresses - 1))
        address = str(network.network_address + offset)
        assert proxies.trust(address)
        assert per_call_parse(configured, address)


def test_an_invalid_entry_is_refused_naming_the_key() -> None:
    with pytest.raises(ValueError, match=r"^server\.trusted_proxies: "):
        TrustedProxies.from_entries(["10.0.0.0/8", "nope"])
