"""Grants (the access an order or voucher gives) and sessions (a device online under one).

Times are UNIX seconds (float) so comparisons are identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from piccolo.columns import BigInt, DoublePrecision, ForeignKey, Integer, Serial, Varchar
from piccolo.table import Table

__all__ = ["Grant", "GrantState", "Session"]


class GrantState:
    PENDING = "pending"  # recorded, not yet confirmed by a router
    ACTIVE = "active"  # a router has the user; the customer may be online
    ENDED = "ended"  # time or data ran out
    REVOKED = "revoked"  # an operator (or a refund) took it away
    SUSPENDED = "suspended"  # off the router while its customer is blocked; may be resumed
    LIVE = ("pending", "active")


class Grant(Table, tablename="hotspot_grant"):
    """Access to put on a router, kept until a router confirms it (and after, for usage)."""

    id = Serial(primary_key=True)
    username = Varchar(length=64, unique=True)
    password = Varchar(length=64, secret=True)  # left out of select() unless asked for
    source = Varchar(length=16, default="admin")  # order | voucher | admin
    source_ref = Varchar(length=64, null=True, default=None, index=True)
    profile = Varchar(length=64)
    seconds = Integer(null=True, default=None)  # allowed time from first activation
    bytes_total = BigInt(null=True, default=None)  # data cap, in and out together
    down_bps = BigInt(null=True, default=None)
    up_bps = BigInt(null=True, default=None)
    devices = Integer(default=1)
    mac = Varchar(length=17, null=True, default=None, index=True)  # bound device
    ip = Varchar(length=45, null=True, default=None)  # where to log the device in
    router_hint = Varchar(length=64, null=True, default=None)  # the router the customer is behind
    site = Varchar(length=64, null=True, default=None)
    router = Varchar(length=64, null=True, default=None, index=True)  # where it was applied
    state = Varchar(length=16, default=GrantState.PENDING, index=True)
    version = Integer(default=1)  # bumped by every change that must reach the router
    applied_version = Integer(default=0)
    created_at = DoublePrecision()
    applied_at = DoublePrecision(null=True, default=None)
    expires_at = DoublePrecision(null=True, default=None, index=True)
    ended_at = DoublePrecision(null=True, default=None)
    end_reason = Varchar(length=32, null=True, default=None)
    last_error = Varchar(length=300, null=True, default=None)
    uptime_seconds = BigInt(default=0)
    bytes_in = BigInt(default=0)  # from the client (upload)
    bytes_out = BigInt(default=0)  # to the client (download)


class Session(Table, tablename="hotspot_session"):
    """One device online under a grant on one router, as usage sync saw it."""

    id = Serial(primary_key=True)
    grant = ForeignKey(references=Grant, index=True)
    router = Varchar(length=64, index=True)
    router_session_id = Varchar(length=32)  # RouterOS .id, e.g. *1A (reused after a reboot)
    mac = Varchar(length=17, index=True)
    ip = Varchar(length=45)
    started_at = DoublePrecision()
    last_seen_at = DoublePrecision()
    ended_at = DoublePrecision(null=True, default=None, index=True)
    uptime_seconds = BigInt(default=0)
    bytes_in = BigInt(default=0)
    bytes_out = BigInt(default=0)
    # Speed over the last sync interval (bits/s), for the admin's "current speed" column.
    rate_in_bps = BigInt(default=0)
    rate_out_bps = BigInt(default=0)
