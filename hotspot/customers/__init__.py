"""Customers: known by phone and devices, never registered; a one-time code sent to the phone
that paid moves its session to another device (service `Customers` on `Hotspot.customers`);
the owner may block a phone or a device, and bind a phone to its devices (`Customers.blocks`)."""

from hotspot.customers.blocks import BlockError, BlockOutcome, Blocks, BlockView, CustomerRefused
from hotspot.customers.directory import Customer, Device, Directory, LivePurchase
from hotspot.customers.service import CODE_DIGITS, Customers, MoveError, MoveRequest, SentCode

__all__ = [
    "CODE_DIGITS",
    "BlockError",
    "BlockOutcome",
    "BlockView",
    "Blocks",
    "Customer",
    "CustomerRefused",
    "Customers",
    "Device",
    "Directory",
    "LivePurchase",
    "MoveError",
    "MoveRequest",
    "SentCode",
]
