"""Payments: orders, payment attempts and their state machine, gateway callbacks, verification."""

from hotspot.payments.checkout import (
    BuyRequest,
    Checkout,
    CheckoutError,
    DeviceLogin,
    OrderStatus,
    PackageOffer,
    order_channel,
)
from hotspot.payments.service import Payments
from hotspot.payments.states import PaymentState

__all__ = [
    "BuyRequest",
    "Checkout",
    "CheckoutError",
    "DeviceLogin",
    "OrderStatus",
    "PackageOffer",
    "PaymentState",
    "Payments",
    "order_channel",
]
