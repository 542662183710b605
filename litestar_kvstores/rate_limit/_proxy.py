"""The client's address behind reverse proxies, taken from ``X-Forwarded-For`` only when a trusted proxy sent it."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar.connection import Request

__all__ = ("forwarded_for_identifier",)

UNKNOWN_CLIENT = "127.0.0.1"
"""What Litestar's ``get_remote_address`` answers for a connection without a peer address; the same here."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(trusted_proxies: Iterable[str]) -> tuple[Network, ...]:
    if isinstance(trusted_proxies, str):
        raise TypeError("trusted_proxies must be a list of addresses or networks, not a single str")
    networks = []
    for entry in trusted_proxies:
        if not isinstance(entry, str):
            raise TypeError(f"trusted_proxies holds addresses or networks as str, not {type(entry).__name__}")
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def forwarded_for_identifier(
    trusted_proxies: Iterable[str], header: str = "X-Forwarded-For"
) -> Callable[[Request[Any, Any, Any]], str]:
    """Return an ``identifier_for_request`` that sees through trusted reverse proxies.

    The returned callable answers the connection's peer address, unless that peer is one of ``trusted_proxies``:
    then it reads ``header`` (every occurrence, comma-separated hops, the nearest hop last) from the right, skips
    the hops that are trusted proxies too, and answers the first one that is not. A client that is not a trusted
    proxy can therefore never choose its identifier by sending the header itself. Addresses are normalized
    (``::FFFF:1.2.3.4`` and ``::ffff:1.2.3.4`` are one client); a hop that is not an address is answered as written.

    Args:
        trusted_proxies: Addresses or networks (``"10.0.0.0/8"``, ``"::1"``) of the proxies in front of the app.
        header: The header the proxies append the client's address to.

    Raises:
        TypeError: ``trusted_proxies`` is a single ``str`` or holds something other than ``str``.
        ValueError: an entry is not an IP address or network (named in the message).
    """
    networks = _networks(trusted_proxies)

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in networks)

    def identifier(request: Request[Any, Any, Any]) -> str:
        peer = request.client.host if request.client else None
        if peer is None:
            return UNKNOWN_CLIENT
        address = _address(peer)
        if not is_trusted(address):
            return str(address) if address is not None else peer
        hops = [hop.strip() for value in request.headers.getall(header, []) for hop in value.split(",")]
        client = str(address)
        for hop in reversed([hop for hop in hops if hop]):
            hop_address = _address(hop)
            if not is_trusted(hop_address):
                return str(hop_address) if hop_address is not None else hop
            client = str(hop_address)
        return client  # every hop is a trusted proxy: the farthest one is the client

    return identifier
