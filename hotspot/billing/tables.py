"""What is sold: packages with a price per currency (integer minor units)."""

from __future__ import annotations

from piccolo.columns import JSON, BigInt, Boolean, DoublePrecision, Integer, Serial, Varchar
from piccolo.table import Table

__all__ = ["Package"]


class Package(Table, tablename="hotspot_package"):
    """A package: how long, how much data, how fast, how many devices, and its prices."""

    id = Serial(primary_key=True)
    name = Varchar(length=64, unique=True)
    description = Varchar(length=300, default="")
    prices = JSON(default="{}")  # {"KES": 5000}: ISO 4217 code -> integer minor units
    seconds = Integer()  # access time from first login
    bytes_total = BigInt(null=True, default=None)  # data cap, download and upload together
    down_bps = BigInt(null=True, default=None)
    up_bps = BigInt(null=True, default=None)
    devices = Integer(default=1)
    visible = Boolean(default=True)
    sort_order = Integer(default=0)
    created_at = DoublePrecision()
    updated_at = DoublePrecision()
