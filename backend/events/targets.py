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
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return None
    if ip.is_global and not ip.is_multicast:
        return None
    return f"{ip} is not a public address"


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
    except OSError as exc:
        raise TargetRefused(f"{urlsplit(url).hostname} does not resolve ({exc})") from None
    for address in resolved:
        if (reason := refusal(address, allowed)) is not None:
            raise TargetRefused(reason)
    return resolved
