"""Billing: what is sold (packages, prices per currency) and what changes a price (promos, discounts)."""

from hotspot.billing.catalog import Catalog, PackageNotFound, PackageView
from hotspot.billing.currencies import Currencies, format_money
from hotspot.billing.discounts import Discounts
from hotspot.billing.pricing import Pricing, PricingError, Quote
from hotspot.billing.promos import PromoGuard, Promos

__all__ = [
    "Catalog",
    "Currencies",
    "Discounts",
    "PackageNotFound",
    "PackageView",
    "Pricing",
    "PricingError",
    "PromoGuard",
    "Promos",
    "Quote",
    "format_money",
]
