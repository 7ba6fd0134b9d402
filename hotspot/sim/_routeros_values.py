"""RouterOS value formats: what the router accepts on input and how it prints values back.

Rows are stored already normalised to the printed form (`true`, `1h2m3s`, `AA:BB:..`,
`2000000/5000000`), so a print is a copy and a query compares like with like.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Field",
    "FieldKind",
    "Trap",
    "compare_values",
    "format_bool",
    "format_duration",
    "format_id",
    "normalize",
    "parse_bitrate",
    "parse_bool",
    "parse_bytes",
    "parse_duration",
    "parse_id",
    "parse_mac",
    "parse_rate_limit",
    "parse_rate_pair",
    "version_tuple",
]

FieldKind = Literal[
    "str",
    "bool",
    "int",
    "bytes",
    "duration",
    "duration-none",
    "int-unlimited",
    "mac",
    "enum",
    "rate",
    "target",
]


class Trap(Exception):
    """A command failed: becomes `!trap =message=...` (+ `=category=`) followed by `!done`."""

    def __init__(self, message: str, category: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.category = category


@dataclass(frozen=True)
class Field:
    """One property of a menu item. `default` is the printed form; None means absent until set."""

    kind: FieldKind = "str"
    default: str | None = None
    readonly: bool = False
    choices: tuple[str, ...] = ()


_TRUE = {"yes", "true"}
_FALSE = {"no", "false"}


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def format_bool(value: bool) -> str:
    return "true" if value else "false"


_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|w|d|h|m|s)")
_CLOCK = re.compile(r"(?:(\d+)d\s*)?(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?")


def parse_duration(text: str) -> float:
    """Seconds from `1h2m3s`, `1w2d`, `90` (seconds), `00:01:30` or `1d02:00:00`."""
    value = text.strip().lower()
    if not value:
        raise ValueError("empty duration")
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    clock = _CLOCK.fullmatch(value)
    if clock:
        days, hours, minutes, seconds = clock.groups()
        return int(days or 0) * 86400.0 + int(hours) * 3600.0 + int(minutes) * 60.0 + float(seconds or 0)
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(value):
        if match.start() != pos:
            raise ValueError(f"not a duration: {text!r}")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(value):
        raise ValueError(f"not a duration: {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """The compact form RouterOS prints: `1w2d3h4m5s`, zero parts left out, `0s` for nothing."""
    whole = int(seconds + 1e-6)
    if whole <= 0:
        millis = round(seconds * 1000)
        return f"{millis}ms" if millis > 0 else "0s"
    parts: list[str] = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


_MAC_HEX = re.compile(r"[0-9a-f]{12}")


def parse_mac(text: str) -> str:
    """Upper-case colon form from `aa:bb:..`, `aa-bb-..`, `aabb.ccdd.eeff` or `aabbccddeeff`."""
    digits = re.sub(r"[:\-.\s]", "", text.strip().lower())
    if not _MAC_HEX.fullmatch(digits):
        raise ValueError(f"not a MAC address: {text!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2)).upper()


_BITRATE = re.compile(r"(\d+(?:\.\d+)?)([kKmMgG]?)")
_BIT_UNITS = {"": 1, "k": 1000, "m": 1_000_000, "g": 1_000_000_000}


def parse_bitrate(text: str) -> int:
    """Bits per second from `128k`, `2M`, `1.5M`, `1G` or a plain number (decimal units)."""
    match = _BITRATE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a rate: {text!r}")
    return int(float(match.group(1)) * _BIT_UNITS[match.group(2).lower()])


def parse_rate_pair(text: str) -> tuple[int, int]:
    """`rx/tx` (or one value for both) as two bit rates."""
    first, sep, second = text.strip().partition("/")
    rx = parse_bitrate(first)
    return rx, parse_bitrate(second) if sep else rx


def parse_rate_limit(text: str) -> tuple[int, int] | None:
    """The rx/tx rates of a profile rate-limit string (`rx[/tx] [burst...]`); None when empty.

    rx is what the router receives from the client (its upload), tx what it sends (download).
    """
    tokens = text.split()
    if not tokens:
        return None
    return parse_rate_pair(tokens[0])


_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_BYTES = re.compile(r"(\d+)([kKmMgGtT]?)[bB]?")


def parse_bytes(text: str) -> int:
    """Byte counts accept binary suffixes (`1G` = 1073741824), as the router's number parser does."""
    match = _BYTES.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a byte count: {text!r}")
    return int(match.group(1)) * _BYTE_UNITS[match.group(2).lower()]


def version_tuple(version: str) -> tuple[int, ...]:
    """(7, 16, 2) from `7.16.2 (stable)`; (0,) when the text has no version number."""
    match = re.match(r"(\d+(?:\.\d+)*)", version.strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)


def format_id(number: int) -> str:
    return f"*{number:X}"


def parse_id(text: str) -> int | None:
    """The number of an item id `*1F`; None when the text is not an id (it may be a name)."""
    if len(text) > 1 and text[0] == "*":
        try:
            return int(text[1:], 16)
        except ValueError:
            return None
    return None


def _normalize_target(text: str) -> str:
    parts: list[str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            parts.append(item)  # an interface name
        else:
            parts.append(f"{network.network_address}/{network.prefixlen}")
    if not parts:
        raise ValueError("empty target")
    return ",".join(parts)


def normalize(field: Field, text: str) -> str:
    """The printed form of an input value; ValueError when the router would refuse it."""
    kind = field.kind
    if kind == "str":
        return text
    if kind == "bool":
        return format_bool(parse_bool(text))
    if kind == "int":
        return str(int(text.strip()))
    if kind == "bytes":
        return str(parse_bytes(text))
    if kind == "duration":
        if text.strip().lower() in ("none", "unlimited"):
            return "0s"
        return format_duration(parse_duration(text))
    if kind == "duration-none":
        if text.strip().lower() in ("none", "unlimited", ""):
            return "none"
        return format_duration(parse_duration(text))
    if kind == "int-unlimited":
        if text.strip().lower() == "unlimited":
            return "unlimited"
        number = int(text.strip())
        if number < 1:
            raise ValueError("must be at least 1")
        return str(number)
    if kind == "mac":
        return parse_mac(text)
    if kind == "enum":
        if text not in field.choices:
            raise ValueError(f"{text!r} not in {field.choices}")
        return text
    if kind == "rate":
        rx, tx = parse_rate_pair(text)
        return f"{rx}/{tx}"
    if kind == "target":
        return _normalize_target(text)
    raise AssertionError(f"unhandled kind {kind}")


def _numeric(field: Field | None, text: str) -> float | None:
    if field is None:
        try:
            return float(int(text))
        except ValueError:
            return None
    try:
        if field.kind in ("int", "bytes"):
            return float(parse_bytes(text))
        if field.kind in ("duration", "duration-none"):
            return parse_duration(text)
    except ValueError:
        return None
    return None


def compare_values(field: Field | None, left: str, right: str) -> int:
    """Order two printed values for `?<` / `?>`: numbers and durations by value, the rest as text."""
    a, b = _numeric(field, left), _numeric(field, right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    return (left > right) - (left < right)
