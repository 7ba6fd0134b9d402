"""Billing: what is sold (packages and their prices per currency)."""

from hotspot.billing.catalog import Catalog, PackageNotFound, PackageView

__all__ = ["Catalog", "PackageNotFound", "PackageView"]
