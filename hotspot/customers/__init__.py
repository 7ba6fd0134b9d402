"""Customers: known by phone and devices, never registered; a one-time code sent to the phone
that paid moves its session to another device (service `Customers` on `Hotspot.customers`)."""

from hotspot.customers.directory import Customer, Device, Directory, LivePurchase
from hotspot.customers.service import CODE_DIGITS, Customers, MoveError, MoveRequest, SentCode

__all__ = [
    "CODE_DIGITS",
    "Customer",
    "Customers",
    "Device",
    "Directory",
    "LivePurchase",
    "MoveError",
    "MoveRequest",
    "SentCode",
]
