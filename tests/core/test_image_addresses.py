"""Which addresses an image URL may be fetched from: every non-public class, however the host is
written (the judge of r1v4._images._addresses, unit by unit)."""

from __future__ import annotations

import ipaddress

import pytest

from r1v4._images._addresses import literal_address, local_name, non_public, system_resolver

ip = ipaddress.ip_address

NON_PUBLIC = [
    # IPv4
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local (cloud metadata)"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.255", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("192.88.99.1", "6to4 relay"),
    # IPv6
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fd00::1", "unique-local"),
    ("fc00::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%2", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("2001:2::1", "benchmarking"),
    ("100::1", "not global unicast"),
    ("4000::1", "not global unicast"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("::2", "IPv4-compatible"),  # ::0.0.0.2, 'this network'
    # IPv6 forms of IPv4 addresses: judged by the IPv4 address they reach
    ("::ffff:127.0.0.1", "IPv4-mapped form of a loopback"),
    ("::ffff:10.1.2.3", "IPv4-mapped form of a private"),
    ("::ffff:169.254.169.254", "IPv4-mapped form of a link-local (cloud metadata)"),
    ("::127.0.0.1", "IPv4-compatible form of a loopback"),
    ("2002:7f00:1::", "6to4 form of a loopback"),
    ("2002:a9fe:a9fe::1", "6to4 form of a link-local"),
    ("64:ff9b::7f00:1", "NAT64 form of a loopback"),
    ("64:ff9b::a00:1", "NAT64 form of a private"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo form of a reserved (documentation)"),
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",  # just below the CGNAT block
    "100.128.0.0",  # just above it
    "172.15.255.255",
    "172.32.0.0",
    "169.255.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81b::200e",
    "::ffff:8.8.8.8",  # the mapped form of a public address is that address
    "2002:808:808::1",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize(("address", "kind"), NON_PUBLIC, ids=[a for a, _ in NON_PUBLIC])
def test_every_non_public_class_is_named(address: str, kind: str) -> None:
    found = non_public(ip(address))
    assert found is not None and kind in found, found


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert non_public(ip(address)) is None


SPELLINGS = [
    ("127.0.0.1", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),  # a trailing dot
    ("2130706433", "127.0.0.1"),  # one decimal number
    ("0x7f000001", "127.0.0.1"),  # one hex number
    ("0x7f.1", "127.0.0.1"),  # hex, two parts
    ("0177.0.0.1", "127.0.0.1"),  # octal
    ("127.1", "127.0.0.1"),  # two parts
    ("0", "0.0.0.0"),
    ("0.0.0.0", "0.0.0.0"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),  # bracketed, as in a URL
    ("::ffff:7f00:1", "::ffff:7f00:1"),
    ("[::1]", "::1"),
    ("169.254.169.254", "169.254.169.254"),
    ("0xa9fea9fe", "169.254.169.254"),
]


@pytest.mark.parametrize(("host", "address"), SPELLINGS)
def test_every_spelling_of_an_address_is_read_as_that_address(host: str, address: str) -> None:
    assert literal_address(host) == ip(address)
    assert non_public(ip(address)) is not None


@pytest.mark.parametrize(
    "host", ["example.com", "localhost", "bad.cafe", "deadbeef", "1.2.3.4.5", "images.test"]
)
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        ("localhost.localdomain", True),
        ("localhost.example.com", False),
        ("mylocalhost", False),
        ("example.com", False),
    ],
)
def test_names_for_this_machine(host: str, local: bool) -> None:
    assert local_name(host) is local


def test_the_system_resolver_gives_each_address_once() -> None:
    found = system_resolver("localhost", 80)
    assert found and len(found) == len(set(found))
    assert all(non_public(ip(a)) == "loopback" for a in found)
