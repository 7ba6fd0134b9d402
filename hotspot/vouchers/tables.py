"""Voucher batches, the vouchers in them, the devices that used each one, and every redeem attempt.

Times are UNIX seconds (float), as in the access tables, so comparisons are identical on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from piccolo.columns import JSON, BigInt, Boolean, DoublePrecision, ForeignKey, Integer, Serial, Varchar
from piccolo.table import Table

__all__ = ["Voucher", "VoucherAttempt", "VoucherBatch", "VoucherDevice", "VoucherState"]


class VoucherState:
    UNUSED = "unused"  # printed, never redeemed
    ACTIVE = "active"  # redeemed: its grant is running (or being set up)
    EXHAUSTED = "exhausted"  # its grant ran out of time or data
    EXPIRED = "expired"  # never redeemed before the batch's expiry date
    REVOKED = "revoked"  # an operator cancelled it (its devices were disconnected)
    ALL = ("unused", "active", "exhausted", "expired", "revoked")


class VoucherBatch(Table, tablename="hotspot_voucher_batch"):
    """One print run: the package's terms and price copied, so later edits to it change nothing."""

    id = Serial(primary_key=True)
    package_id = Integer(index=True)
    package_name = Varchar(length=64)
    terms = JSON(default="{}")  # seconds, bytes_total, down_bps, up_bps, devices at generation
    amount = BigInt()  # price in minor units, as printed on the cards
    currency = Varchar(length=3)
    quantity = Integer()  # how many codes (not "count": that is Table.count())
    prefix = Varchar(length=8, default="")
    code_length = Integer()  # random symbols after the prefix
    expires_at = DoublePrecision(null=True, default=None)  # unused vouchers stop working then
    devices_at_once = Integer(default=1)
    devices_total = Integer(null=True, default=None)  # distinct devices over the voucher's life
    bind_mac = Boolean(default=False)  # the first device is the only one ever allowed
    pin = Boolean(default=False)
    created_by = Varchar(length=64, default="")
    created_at = DoublePrecision()
    note = Varchar(length=300, default="")


class Voucher(Table, tablename="hotspot_voucher"):
    """One code. The code is stored normalised (upper case, no separators); the PIN only hashed."""

    id = Serial(primary_key=True)
    batch_id = ForeignKey(references=VoucherBatch, index=True)  # index name: not "hotspot_voucher_batch"
    code = Varchar(length=32, unique=True)
    pin_hash = Varchar(length=64, null=True, default=None, secret=True)
    state = Varchar(length=16, default=VoucherState.UNUSED, index=True)
    expires_at = DoublePrecision(null=True, default=None, index=True)  # the batch's, for the sweep
    first_used_at = DoublePrecision(null=True, default=None)
    bound_mac = Varchar(length=17, null=True, default=None)
    grant_id = Integer(null=True, default=None, index=True)
    devices_used = Integer(default=0)  # distinct MACs so far
    created_at = DoublePrecision()
    ended_at = DoublePrecision(null=True, default=None)
    end_reason = Varchar(length=32, null=True, default=None)


class VoucherDevice(Table, tablename="hotspot_voucher_device"):
    """A distinct device (MAC) that redeemed a voucher, and the order-like record it follows."""

    id = Serial(primary_key=True)
    voucher = ForeignKey(references=Voucher, index=True)
    key = Varchar(length=48, unique=True)  # "<voucher id>:<MAC>": one row per device, race-free
    mac = Varchar(length=17, index=True)
    ip = Varchar(length=45, null=True, default=None)
    order_id = Varchar(length=32, null=True, default=None)
    first_seen_at = DoublePrecision()
    last_seen_at = DoublePrecision()
    needs_login = Boolean(default=False)  # the box still has to log it in once the grant is live
    login_error = Varchar(length=300, null=True, default=None)


class VoucherAttempt(Table, tablename="hotspot_voucher_attempt"):
    """Every redeem attempt, accepted or refused and why (never the PIN).

    The redeem log's filters are indexed by migration 2026-11-30T10:28:08 (raw SQL: migrations
    only add): code_tried (equal, and by prefix), ip, source_ip, and (outcome, id)."""

    id = Serial(primary_key=True)
    code_tried = Varchar(length=32)  # normalised and cut to 32 characters (indexed: see below)
    voucher = Integer(null=True, default=None, index=True)  # when the code matched one
    outcome = Varchar(length=16)  # accepted | refused
    reason = Varchar(length=32, default="")
    mac = Varchar(length=17, null=True, default=None, index=True)
    ip = Varchar(length=45, null=True, default=None)
    source_ip = Varchar(length=45, null=True, default=None)  # who sent the request
    router = Varchar(length=64, null=True, default=None)
    at = DoublePrecision(index=True)
