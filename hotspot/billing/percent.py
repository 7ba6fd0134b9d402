"""Percentages as exact basis points (1% = 100), so "12.5%" off is integer arithmetic."""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["basis_points", "describe_percent"]

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d{1,2})?)\s*%?\s*$")


def basis_points(value: int | float | str) -> int:
    """1000 from 10, "10%" or "10.00"; 1250 from "12.5%". Between 0.01% and 99.99%.

    A YAML float (12.5) is read through its shortest decimal spelling, so it stays exact."""
    if isinstance(value, bool):
        raise ValueError(f'not a percentage: {value!r} (use e.g. 10 or "12.5%")')
    match = _PERCENT.match(str(value))
    if match is None:
        raise ValueError(f'not a percentage: {value!r} (use e.g. 10 or "12.5%", at most 2 decimals)')
    points = int(Decimal(match[1]) * 100)
    if not 0 < points < 10_000:
        raise ValueError(f"a percentage off must be more than 0% and less than 100%, not {value!r}")
    return points


def describe_percent(points: int) -> str:
    """'10%' for 1000, '12.5%' for 1250."""
    text = str(Decimal(points) / 100)
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"
