"""What is sold and what changes its price: packages (a price per currency, integer minor units)
and promo codes with every use of them."""

from __future__ import annotations

from piccolo.columns import JSON, BigInt, Boolean, DoublePrecision, Integer, Serial, Varchar
from piccolo.table import Table

__all__ = ["Package", "Promo", "PromoUse", "PromoUseState"]


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


class Promo(Table, tablename="hotspot_promo"):
    """A promo code: percent or fixed amount off, for some or all packages, within limits.

    `used` counts the uses held by unpaid orders and made by paid ones; it only grows through a
    conditional UPDATE (`used < max_uses`), so concurrent orders can never exceed max_uses.
    """

    id = Serial(primary_key=True)
    code = Varchar(length=32, unique=True)  # normalised: upper case letters and digits
    description = Varchar(length=200, default="")
    percent_bp = Integer(null=True, default=None)  # basis points off: 1000 = 10%
    amounts = JSON(default="{}")  # or a fixed amount off per currency: {"KES": 2000}
    package_ids = JSON(default="[]")  # [] = every package
    min_prices = JSON(default="{}")  # list price must be at least this: {"KES": 5000}
    valid_from = DoublePrecision(null=True, default=None)  # Unix time
    valid_until = DoublePrecision(null=True, default=None)  # Unix time, exclusive
    max_uses = Integer(null=True, default=None)
    per_phone = Integer(null=True, default=None)
    active = Boolean(default=True)
    used = Integer(default=0)
    created_at = DoublePrecision()
    updated_at = DoublePrecision()


class PromoUseState:
    HELD = "held"  # the order is not paid yet; the use counts against the limits
    USED = "used"  # the order was paid
    RELEASED = "released"  # the order's payment failed; the use no longer counts


class PromoUse(Table, tablename="hotspot_promo_use"):
    """One use of a promo code, recorded against the order it priced."""

    id = Serial(primary_key=True)
    promo_id = Integer(index=True)
    code = Varchar(length=32)
    order_id = Varchar(length=32, unique=True)
    phone = Varchar(length=16, null=True, default=None, index=True)
    discount = BigInt()  # minor units taken off
    currency = Varchar(length=3)
    state = Varchar(length=12, default=PromoUseState.HELD, index=True)
    created_at = DoublePrecision()
    updated_at = DoublePrecision()
