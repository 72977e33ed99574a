"""Which network addresses a message may make the client fetch from: public ones only.

An image URL in a message is fetched by the process that runs the client, inside its network:
without this check a message could make a server-side app request its own loopback services,
the cloud metadata endpoint (169.254.169.254) or anything on its private network, and send back
whatever image-looking bytes it found. The check is made on addresses, never on spellings: a
host name is resolved, every address it resolves to is judged here, and the connection is made
to a judged address (see :mod:`r1v4._images._download`).

IPv4 is judged by a table of the special-purpose ranges (IANA's registry); IPv6 by the opposite
rule, since almost all of it is unallocated: only global unicast (``2000::/3``) is public, minus
its special ranges, and the forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible,
6to4, Teredo, NAT64) are judged by the IPv4 address they reach.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from typing import TypeAlias

__all__ = [
    "IPAddress",
    "Resolver",
    "literal_address",
    "local_name",
    "non_public",
    "system_resolver",
]

IPAddress: TypeAlias = "ipaddress.IPv4Address | ipaddress.IPv6Address"

Resolver: TypeAlias = Callable[[str, int], Sequence[str]]
"""``resolve(host, port)``: the IP addresses ``host`` resolves to, as text, in the order to try."""

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# The IPv4 special-purpose ranges that are not reachable on the public internet, with what a
# refusal calls them. Checked in order; none overlap.
_IPV4_RANGES: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified ('this network')"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local (cloud metadata)"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved (IETF protocol assignments)"),
    (_V4("192.0.2.0/24"), "reserved (documentation)"),
    (_V4("192.88.99.0/24"), "reserved (6to4 relay anycast)"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "reserved (benchmarking)"),
    (_V4("198.51.100.0/24"), "reserved (documentation)"),
    (_V4("203.0.113.0/24"), "reserved (documentation)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),  # with 255.255.255.255, the limited broadcast
)

_IPV6_NAMED: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("fc00::/7"), "unique-local (private)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (private)"),
    (_V6("ff00::/8"), "multicast"),
)
_IPV6_GLOBAL = _V6("2000::/3")
# Inside global unicast, ranges that reach no public host of their own.
_IPV6_GLOBAL_RESERVED: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("2001:2::/48"), "reserved (benchmarking)"),
    (_V6("2001:10::/28"), "reserved (ORCHID)"),
    (_V6("2001:20::/28"), "reserved (ORCHIDv2)"),
    (_V6("2001:db8::/32"), "reserved (documentation)"),
    (_V6("3fff::/20"), "reserved (documentation)"),
)
_IPV4_COMPATIBLE = _V6("::/96")
_NAT64 = _V6("64:ff9b::/96")
_NAT64_LOCAL = _V6("64:ff9b:1::/48")

# A host written as a number the way inet_aton reads it: 2130706433, 0x7f.1, 0177.0.0.1, 127.1.
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


def non_public(address: IPAddress) -> str | None:
    """What kind of non-public address ``address`` is (``"loopback"``, ``"private"``, ...),
    or ``None`` when it is a public one."""
    if isinstance(address, ipaddress.IPv4Address):
        return next((kind for net, kind in _IPV4_RANGES if address in net), None)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        form, v4 = embedded
        inner = non_public(v4)
        return None if inner is None else f"{form} form of a {inner} IPv4 address"
    named = next((kind for net, kind in _IPV6_NAMED if address in net), None)
    if named is not None:
        return named
    if address in _IPV4_COMPATIBLE:
        return "reserved (IPv4-compatible)"
    if address in _NAT64_LOCAL:
        return "reserved (local-use NAT64)"
    if address not in _IPV6_GLOBAL:
        return "reserved (not global unicast)"
    return next((kind for net, kind in _IPV6_GLOBAL_RESERVED if address in net), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, and the name of the form, if any."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: nor ::1
        return "IPv4-compatible", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address.teredo is not None:
        return "Teredo", address.teredo[1]  # the client's address: where the packets go
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells out, however it is written, or ``None`` for a name.

    Takes the bracketless IPv6 form (``::ffff:127.0.0.1``, with or without a zone), the dotted
    quad and the other forms an address may take in a URL, which the system resolver reads as
    numbers too: ``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``, and a trailing dot.
    """
    host = host.strip("[]")
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def local_name(host: str) -> bool:
    """Whether ``host`` is a name that always means this machine (RFC 6761: ``localhost``
    and every name under it), whatever the resolver says."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost") or name == "localhost.localdomain"


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives ``host`` (IPv4 and IPv6), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)
