"""Who is asking: the client's IP, trusting X-Forwarded-For only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection

__all__ = ["client_ip", "parse_networks"]

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def parse_networks(values: Iterable[str]) -> Networks:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _trusted(ip: str, trusted: Networks) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in trusted)


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The first untrusted hop from the right of X-Forwarded-For, else the socket peer."""
    peer = connection.client.host if connection.client else "unknown"
    trusted: Networks = getattr(connection.app.state, "trusted_proxies", ())
    if not _trusted(peer, trusted):
        return peer
    forwarded = connection.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer
