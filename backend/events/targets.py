"""Where webhooks may go. A subscriber URL is chosen by an administrator, and the worker that posts to
it runs inside our network: without a rule, a URL naming a loopback, private or link-local address
(the database host, a cloud metadata service at 169.254.169.254) would have the worker probe our own
network, and the delivery log would report what answered.

The rule (`DeliveryPolicy.refuse_private_targets`, on by default in production): every address a
target's host resolves to must be public, unless it lies in a network the operator listed
(`TONGBAN_EVENTS_PRIVATE_NETWORKS`). It is checked when a subscriber is registered or changed, and
again at every delivery on the addresses the worker then connects to — so a name that later resolves
inside (DNS rebinding) is not contacted either. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(ValueError):
    """The target's host is, or resolves to, an address webhooks may not go to."""


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.8.0.0/16, fd00:1::/64` → networks; ValueError on anything else."""
    return tuple(ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip())


def refusal(address: str, allowed: Iterable[Network]) -> str | None:
    """Why webhooks may not go to `address`, or None when it is public or in an allowed network."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope id names no other address
    if isinstance(ip, ipaddress.IPv6Address) and (inside := _carried_ipv4(ip)) is not None:
        ip = inside
    if any(ip in network for network in allowed):
        return None
    if ip.is_global and not ip.is_multicast:
        return None
    return f"{ip} is not a public address"


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052's well-known prefix


def _carried_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches through a translator or tunnel: IPv4-mapped or -compatible,
    NAT64, 6to4, or Teredo's client. Judged by that address, `64:ff9b::a9fe:a9fe` is the metadata service."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):  # NAT64, or IPv4-compatible (::a.b.c.d, not ::1)
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


async def addresses(url: str) -> list[str]:
    """The addresses the URL's host resolves to, in the resolver's order of preference."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


async def allowed_addresses(url: str, allowed: Iterable[Network]) -> list[str]:
    """The target's addresses, or `TargetRefused` when any of them may not be contacted (a name that
    resolves both outside and inside is refused as a whole)."""
    allowed = tuple(allowed)
    try:
        resolved = await addresses(url)
    except (OSError, ValueError) as exc:  # ValueError: a port out of range, a label the resolver cannot encode
        raise TargetRefused(f"{urlsplit(url).hostname} does not resolve ({exc})") from None
    for address in resolved:
        if (reason := refusal(address, allowed)) is not None:
            raise TargetRefused(reason)
    return resolved
