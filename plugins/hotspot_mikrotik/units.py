"""RouterOS value formats: durations (1w2d3h4m5s), rate limits (rx/tx = client up/down), MACs."""

from __future__ import annotations

import re

__all__ = ["format_duration", "format_rate", "normalise_mac", "parse_duration", "rate_limit"]

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d+)(w|d|h|ms|m|s)")


def parse_duration(value: object) -> int:
    """'1d2h3m4s' -> seconds; plain numbers are seconds; '' / None -> 0. Milliseconds are dropped."""
    if value is None or value == "":
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    if re.fullmatch(r"\d{1,2}:\d{2}:\d{2}", text):  # RouterOS 6 style 01:02:03
        h, m, s = (int(p) for p in text.split(":"))
        return h * 3600 + m * 60 + s
    total = 0
    for number, unit in _DURATION.findall(text):
        if unit != "ms":
            total += int(number) * _UNITS[unit]
    return total


def format_duration(seconds: int) -> str:
    """Seconds -> RouterOS's compact form ('0s' means no limit where RouterOS says so)."""
    if seconds <= 0:
        return "0s"
    out = ""
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out


def format_rate(bps: int) -> str:
    """Bits/s -> '5M', '512k' or '1500' (RouterOS units are powers of 1000)."""
    if bps >= 1_000_000 and bps % 1_000_000 == 0:
        return f"{bps // 1_000_000}M"
    if bps >= 1000 and bps % 1000 == 0:
        return f"{bps // 1000}k"
    return str(bps)


def rate_limit(down_bps: int | None, up_bps: int | None) -> str:
    """A profile rate-limit: rx/tx from the router's view, i.e. the client's upload/download."""
    if not down_bps and not up_bps:
        return ""
    return f"{format_rate(up_bps or 0)}/{format_rate(down_bps or 0)}"


def normalise_mac(mac: str) -> str:
    """Any common MAC spelling -> RouterOS's AA:BB:CC:DD:EE:FF."""
    digits = re.sub(r"[^0-9A-Fa-f]", "", mac)
    if len(digits) != 12:
        raise ValueError(f"not a MAC address: {mac!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2)).upper()
