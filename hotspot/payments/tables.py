"""Orders, the payment attempts made for them, and every gateway callback exactly as received."""

from __future__ import annotations

from piccolo.columns import JSON, BigInt, DoublePrecision, Integer, Serial, Text, Varchar
from piccolo.table import Table

__all__ = ["Order", "Payment", "PaymentCallback"]


class Order(Table, tablename="hotspot_order"):
    """A customer's purchase of a package; its terms are copied so later edits change nothing."""

    id = Varchar(length=32, primary_key=True)  # unguessable: it is the customer's only key
    package_id = Integer(index=True)
    package_name = Varchar(length=64)
    terms = JSON(default="{}")  # seconds, bytes_total, down_bps, up_bps, devices at purchase
    amount = BigInt()  # minor units, after any promo
    currency = Varchar(length=3)
    promo_code = Varchar(length=32, null=True, default=None)
    list_amount = BigInt(null=True, default=None)  # the list price before discounts, same currency
    discount_detail = JSON(null=True, default=None)  # billing.pricing.Quote.detail(): rules, promo, rounding
    phone = Varchar(length=16, null=True, default=None, index=True)
    mac = Varchar(length=17, null=True, default=None, index=True)
    ip = Varchar(length=45, null=True, default=None)
    router = Varchar(length=64, null=True, default=None)  # the router the customer is behind
    link_login_only = Varchar(length=300, null=True, default=None)
    link_orig = Varchar(length=500, null=True, default=None)
    state = Varchar(length=16, default="open", index=True)  # open | paid
    grant_id = Integer(null=True, default=None, index=True)
    created_at = DoublePrecision()
    paid_at = DoublePrecision(null=True, default=None)


class Payment(Table, tablename="hotspot_payment"):
    """One attempt to pay an order through one gateway (see payments.states)."""

    id = Varchar(length=32, primary_key=True)
    order_id = Varchar(length=32, index=True)
    gateway = Varchar(length=32)
    amount = BigInt()
    currency = Varchar(length=3)
    phone = Varchar(length=16, null=True, default=None, index=True)
    mac = Varchar(length=17, null=True, default=None, index=True)
    state = Varchar(length=16, default="created", index=True)
    reason = Varchar(length=32, default="")  # why it did not succeed (contracts.FailureReason)
    message = Varchar(length=300, default="")  # the gateway's own words, for the admin
    reference = Varchar(length=100, null=True, default=None, unique=True)  # e.g. CheckoutRequestID
    receipt = Varchar(length=100, null=True, default=None, unique=True)  # e.g. MpesaReceiptNumber
    payer = Varchar(length=32, null=True, default=None)
    checks = Integer(default=0)  # verify calls so far
    next_check_at = DoublePrecision(null=True, default=None, index=True)
    give_up_at = DoublePrecision(null=True, default=None)
    created_at = DoublePrecision(index=True)
    updated_at = DoublePrecision()
    settled_at = DoublePrecision(null=True, default=None)


class PaymentCallback(Table, tablename="hotspot_payment_callback"):
    """A webhook body as received, stored before it is read; the verdict is filled in after."""

    id = Serial(primary_key=True)
    gateway = Varchar(length=32)
    reference = Varchar(length=100, null=True, default=None, index=True)
    payment_id = Varchar(length=32, null=True, default=None, index=True)
    body = Text()
    source_ip = Varchar(length=45, null=True, default=None)
    received_at = DoublePrecision(index=True)
    verdict = Varchar(length=24, default="received")
    detail = Varchar(length=300, default="")
