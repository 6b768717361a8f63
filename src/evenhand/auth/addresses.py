"""Which address a request comes from, believing ``X-Forwarded-For`` only from the proxies we run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network
UNKNOWN = "unknown"


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address: the peer itself, unless the peer is a trusted proxy; then ``X-Forwarded-For`` is
    read from the right (the hop that proxy saw) leftwards, past further trusted proxies, to the first address
    none of ours vouches for. Anything a client wrote further left is its own claim and is ignored, and so is
    the whole header when the peer is not ours."""
    current = _parse(peer)
    if current is None:
        return peer or UNKNOWN
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        if not _trusted(current, trusted):
            break
        previous = _parse(hop)
        if previous is None:  # garbage where an address should be: stop at the last hop we can vouch for
            break
        current = previous
    return str(current)


def _parse(value: str | None) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address((value or "").strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1, on a dual-stack socket
    return address


def _trusted(address: IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)
