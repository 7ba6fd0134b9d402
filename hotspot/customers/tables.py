"""What the customers domain keeps: the one-time codes sent to phones (and the moves they
allowed), the owner's blocks on a phone or a device, and the devices a phone is bound to.

Customers themselves are not stored: a customer is a phone number and the devices seen with it,
read from orders and sessions (hotspot.customers.directory). Times are UNIX seconds (float), as
in the other tables.
"""

from __future__ import annotations

from piccolo.columns import DoublePrecision, Integer, Serial, Varchar
from piccolo.table import Table

__all__ = ["Binding", "Block", "BlockKind", "CodeState", "MoveCode"]


class CodeState:
    SENT = "sent"  # waiting for the customer to type it
    USED = "used"  # typed right: the grant was moved
    FAILED = "failed"  # too many wrong tries: it no longer works
    EXPIRED = "expired"  # not typed in time
    REPLACED = "replaced"  # a newer code was sent for the same phone and device
    UNSENT = "unsent"  # no notifier accepted it
    REFUSED = "refused"  # no code: the number has no live package (kept to rate-limit asking)
    LIMITED = "limited"  # no code: over a rate limit (marks that the owner was told this hour)


class MoveCode(Table, tablename="hotspot_move_code"):
    """A 6-digit code sent to a phone so a device may take over that phone's paid access.

    The code itself is never stored: `code_hash` is an HMAC keyed by the box's secret key (a
    6-digit code would fall to any offline search if it were only hashed)."""

    id = Serial(primary_key=True)
    challenge = Varchar(length=48, unique=True)  # the browser's handle on it (its session keeps it)
    phone = Varchar(length=16, index=True)
    mac = Varchar(length=17, index=True)  # the device that asked: only it may use the code
    ip = Varchar(length=45)
    source_ip = Varchar(length=45, null=True, default=None, index=True)
    code_hash = Varchar(length=64)
    state = Varchar(length=16, default=CodeState.SENT, index=True)
    attempts = Integer(default=0)
    created_at = DoublePrecision(index=True)
    expires_at = DoublePrecision()
    used_at = DoublePrecision(null=True, default=None)
    grant_id = Integer(null=True, default=None)  # what was moved ...
    from_mac = Varchar(length=17, null=True, default=None)  # ... from which device


class BlockKind:
    PHONE = "phone"  # normalised, 2547XXXXXXXX
    MAC = "mac"  # upper case with colons, AA:BB:CC:DD:EE:FF
    ALL = ("phone", "mac")


class Block(Table, tablename="hotspot_customer_block"):
    """The owner stopping a phone or a device: no purchase, redeem or move, its grants suspended.

    Rows are never deleted: lifting a block (or its expiry, once swept) fills `lifted_at`, so
    the customer's page keeps the history. A block is in force while `lifted_at` is NULL and
    `expires_at` is NULL or still ahead. A unique index on (kind, value) where `lifted_at` is NULL
    (migration 2026-11-30T10:21:54) allows one open row per subject."""

    id = Serial(primary_key=True)
    kind = Varchar(length=8)  # BlockKind
    value = Varchar(length=17, index=True)
    reason = Varchar(length=200)  # for the admins; never shown to the customer
    created_by = Varchar(length=64)  # the admin's actor name
    created_at = DoublePrecision()
    expires_at = DoublePrecision(null=True, default=None)
    lifted_at = DoublePrecision(null=True, default=None, index=True)
    lifted_by = Varchar(length=64, null=True, default=None)  # None with lifted_at: it expired


class Binding(Table, tablename="hotspot_customer_binding"):
    """A device a phone's purchases may be used from; a phone with none is not bound.
    (phone, mac) is unique (an index made by migration 2026-11-30T10:21:54)."""

    id = Serial(primary_key=True)
    phone = Varchar(length=16, index=True)
    mac = Varchar(length=17)
    created_by = Varchar(length=64)
    created_at = DoublePrecision()
