"""TrustedProxies, parsed once, decides as the per-call parse of server.trusted_proxies did."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.config import ServerSettings, Settings
from bridge.web import proxies as proxies_module
from bridge.web.app import create_app
from bridge.web.keys import PUBLIC_URL, TRUSTED_PROXIES
from bridge.web.proxies import TrustedProxies, proxy_networks, unmapped


def _forms(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """An address as both families spell it: IPv4 also as IPv4-mapped IPv6, a mapped one also as IPv4."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address, ipaddress.IPv6Address(f"::ffff:{address}")]
    return [address] if address.ipv4_mapped is None else [address, address.ipv4_mapped]


def per_call_parse(entries: list[str], address: str | None) -> bool:
    """The decision as bridge/web/forwarded.py made it before the entries were parsed once, with an address
    trusted when either of its spellings is inside an entry (a dual-stack listener reports IPv4 peers mapped)."""
    if not entries:
        return False
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(
        form in ipaddress.ip_network(entry, strict=False) for entry in entries for form in _forms(peer)
    )


def _network(address: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int) -> str:
    return f"{address}/{prefix % (address.max_prefixlen + 1)}"


# Host bits set (strict=False), bare addresses, both families, and IPv4-mapped networks.
entries = st.lists(
    st.one_of(
        st.builds(_network, st.ip_addresses(), st.integers(0, 128)),
        st.ip_addresses().map(str),
        st.builds(lambda a, p: f"::ffff:{a}/{96 + p}", st.ip_addresses(v=4), st.integers(0, 32)),
        st.sampled_from(["::/0", "::/64", "::ffff:0:0/96"]),
    ),
    max_size=4,
)


def _mapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return f"::ffff:{address}"


addresses = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(_mapped),  # IPv4-mapped IPv6, what a dual-stack listener reports for IPv4
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


@pytest.mark.parametrize(
    ("entry", "networks"),
    [
        ("10.0.0.1", ["10.0.0.1/32"]),
        ("::ffff:10.0.0.0/104", ["10.0.0.0/8"]),
        ("::ffff:10.1.2.3", ["10.1.2.3/32"]),
        ("::/0", ["::/0", "0.0.0.0/0"]),
        ("2001:db8::/32", ["2001:db8::/32"]),
    ],
)
def test_an_entry_covering_mapped_addresses_is_compared_as_ipv4(entry: str, networks: list[str]) -> None:
    assert [str(network) for network in proxy_networks(entry)] == networks


def test_an_ipv4_entry_trusts_its_proxy_as_a_dual_stack_listener_reports_it() -> None:
    proxies = TrustedProxies.from_entries(["10.0.0.0/8"])
    assert proxies.trust("::ffff:10.0.0.1")
    assert proxies.trust("0:0:0:0:0:FFFF:10.0.0.1")
    assert proxies.trust("::ffff:a00:1")  # the same address with its tail in hex
    assert not proxies.trust("::ffff:192.0.2.1")
    assert not proxies.trust("::10.0.0.1")  # IPv4-compatible (deprecated), not mapped: another address


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::FFFF:203.0.113.7", "203.0.113.7"),
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8::7", "2001:db8::7"),
        ("::1", "::1"),
        ("unknown", "unknown"),
        ("not.an:address", "not.an:address"),
    ],
)
def test_the_client_key_is_the_ipv4_address_of_a_mapped_one(address: str, key: str) -> None:
    assert unmapped(address) == key


@given(st.ip_addresses(v=4))
def test_a_mapped_address_and_its_ipv4_address_are_one_key(address: ipaddress.IPv4Address) -> None:
    assert unmapped(f"::ffff:{address}") == unmapped(str(address)) == str(address)


@given(entries, addresses.filter(lambda address: address is not None))
def test_check_is_the_client_key_and_the_trust_from_one_parse(configured: list[str], address: str) -> None:
    """What client_address asks of each address it reads, as unmapped and trust answer it apart."""
    proxies = TrustedProxies.from_entries(configured)
    assert proxies.check(address) == (unmapped(address), proxies.trust(address))


def test_the_app_factory_parses_trusted_proxies_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One parse per app, shared by the public URL and the authentication middleware (it was one each)."""
    parsed: list[str] = []

    def counted(entry: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        parsed.append(entry)
        return proxy_networks(entry)

    monkeypatch.setattr(proxies_module, "proxy_networks", counted)
    app = create_app(Settings(server=ServerSettings(trusted_proxies=("10.0.0.0/8",))))
    assert parsed == ["10.0.0.0/8"]
    assert app[PUBLIC_URL].proxies is app[TRUSTED_PROXIES]
    assert app[TRUSTED_PROXIES].trust("10.1.2.3")
