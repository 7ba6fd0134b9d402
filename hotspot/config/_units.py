"""The owner's spellings of time, data, speed and money ("1h", "2GB", "5M", "50 KES") as exact integers."""

from __future__ import annotations

import re
from datetime import date

from hotspot.contracts import Money

__all__ = ["FIRST_DAY", "LAST_DAY", "check_day", "parse_duration", "parse_money", "parse_rate", "parse_size"]

# The days an owner may pick for anything dated (discounts, promos, voucher expiry, blocks): a
# year like 9999 is a typo, and its midnight plus a day overflows datetime and Unix time.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*$", re.IGNORECASE)
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:bps|b/s|bit/s)?\s*$", re.IGNORECASE)
_DECIMAL_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def check_day(day: date) -> date:
    """`day` when it lies from FIRST_DAY to LAST_DAY; ValueError with the sentence to show."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"pick a day from {FIRST_DAY.year} to {LAST_DAY.year}, not {day.isoformat()}")
    return day


def parse_duration(value: int | str) -> int:
    """Seconds from 3600, "30m", "1h", "7d" or "2w"."""
    if isinstance(value, int):
        return value
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30m, 1h, 7d)")
    return int(match[1]) * _DURATION_UNITS[match[2].lower()]


def _scaled(match: re.Match[str]) -> int:
    return round(float(match[1]) * _DECIMAL_UNITS[match[2].lower()])


def parse_size(value: int | str) -> int:
    """Bytes from 500000000, "500MB" or "1.5GB" (decimal units, as data bundles count)."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"not a data size: {value!r} (use e.g. 500MB, 2GB)")
    return _scaled(match)


def parse_rate(value: int | str) -> int:
    """Bits per second from 2000000, "512k", "2M" or "2Mbps"."""
    if isinstance(value, int):
        return value
    match = _RATE.match(value)
    if not match:
        raise ValueError(f"not a speed: {value!r} (use e.g. 512k, 2M)")
    return _scaled(match)


def parse_money(value: str) -> Money:
    """Money from "50 KES", "KES 50", "1,500 UGX" or "0.40 USD": exact, in the currency's own minor
    units (ISO 4217: KES has 2 decimals, UGX none), never a float."""
    from hotspot.billing.currencies import parse_money as parse  # billing imports config: no cycle

    return parse(value)
