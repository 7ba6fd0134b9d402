"""A device's MAC and IP as a router, a form or an API call gives them, in one stored form.

Why one place: the portal reads them from the router's redirect, a voucher redeem and the
admin's block and binding forms from people; each must store the same spelling, or a device
blocked as 02-ab-... would not be the device that buys as 02:AB:...
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["normalize_mac", "parse_ip"]

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")  # fullmatch: "$" would let "\n" through
_MAC_COLONS = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
_MAC_SEPARATED = re.compile(r"[0-9A-Fa-f]{2}([:-]?)(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}")  # or bare hex
_MAC_DOTTED = re.compile(r"[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}")


def normalize_mac(value: str | None, *, dotted: bool = False) -> str | None:
    """01:23:45:67:89:AB from 01-23-45-67-89-ab or 0123456789AB (and, with `dotted`, the router
    redirect's other spelling 0123.4567.89ab); None if not a MAC."""
    if not value:
        return None
    text = value.strip()
    if _MAC_COLONS.fullmatch(text):  # what MikroTik sends: only the case to fix
        return text.upper()
    if _MAC_SEPARATED.fullmatch(text) or (dotted and _MAC_DOTTED.fullmatch(text)):
        digits = re.sub(r"[^0-9A-Fa-f]", "", text).upper()
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    return None


def parse_ip(value: str | None) -> str | None:
    """An IPv4 or IPv6 address as `ipaddress` writes it; None if not one."""
    if not value or len(value) > 45:
        return None
    if _IPV4.fullmatch(value):  # already as ipaddress writes it: skip the 4 us of parsing
        return value
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None
