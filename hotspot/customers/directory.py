"""Who a customer is, without registration: a phone number and the devices seen with it.

Everything is read from what the box already keeps: the orders a phone paid for (with the
device's MAC their grant is on), the sessions their grants had on the routers, and the moves
of a grant from one device to another (hotspot.customers.tables).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotspot.access.tables import Grant, GrantState, Session
from hotspot.customers.tables import CodeState, MoveCode
from hotspot.payments.tables import Order

__all__ = ["Customer", "Device", "Directory", "LivePurchase"]

RECENT_ORDERS = 200  # a customer's history, newest first, as far back as the directory looks


@dataclass(frozen=True)
class Device:
    """A device seen with the phone: from an order bought on it, or a session under its grants."""

    mac: str
    first_seen: float
    last_seen: float


@dataclass(frozen=True)
class LivePurchase:
    """The phone's latest paid order whose grant still gives access."""

    order_id: str
    grant_id: int
    package: str
    mac: str | None  # the device the grant is on now
    expires_at: float | None


@dataclass(frozen=True)
class Customer:
    phone: str
    devices: tuple[Device, ...]  # most recently seen first
    paid_orders: int
    first_paid_at: float | None
    last_paid_at: float | None
    live: LivePurchase | None


class Directory:
    """Customers as the orders and sessions describe them."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    async def find(self, phone: str) -> Customer | None:
        """The customer paying from `phone` (normalised, 2547...), or None if it never paid."""
        orders = await (
            Order.select(Order.id, Order.mac, Order.grant_id, Order.paid_at, Order.created_at)
            .where((Order.phone == phone) & (Order.state == "paid"))
            .order_by(Order.paid_at, ascending=False)
            .limit(RECENT_ORDERS)
            .run()
        )
        if not orders:
            return None
        seen: dict[str, tuple[float, float]] = {}

        def saw(mac: str | None, at: float) -> None:
            if mac:
                first, last = seen.get(mac, (at, at))
                seen[mac] = (min(first, at), max(last, at))

        for order in orders:
            saw(order["mac"], float(order["paid_at"] or order["created_at"]))
        grant_ids = sorted({int(o["grant_id"]) for o in orders if o["grant_id"] is not None})
        if grant_ids:
            sessions = await (
                Session.select(Session.mac, Session.started_at, Session.last_seen_at)
                .where(Session.grant.is_in(grant_ids))
                .run()
            )
            for session in sessions:
                saw(session["mac"], float(session["started_at"]))
                saw(session["mac"], float(session["last_seen_at"]))
        moves = await (
            MoveCode.select(MoveCode.mac, MoveCode.from_mac, MoveCode.used_at)
            .where((MoveCode.phone == phone) & (MoveCode.state == CodeState.USED))
            .run()
        )
        for move in moves:  # the orders name the device a grant is on now; moves, where it was
            saw(move["from_mac"], float(move["used_at"]))
            saw(move["mac"], float(move["used_at"]))
        paid = [float(o["paid_at"]) for o in orders if o["paid_at"] is not None]
        devices = sorted(
            (Device(mac, first, last) for mac, (first, last) in seen.items()),
            key=lambda d: d.last_seen,
            reverse=True,
        )
        return Customer(
            phone=phone,
            devices=tuple(devices),
            paid_orders=len(orders),
            first_paid_at=min(paid) if paid else None,
            last_paid_at=max(paid) if paid else None,
            live=await self.live_purchase(phone),
        )

    async def live_purchase(self, phone: str) -> LivePurchase | None:
        """The latest paid order of `phone` whose grant still has time and data left."""
        orders = await (
            Order.select(Order.id, Order.grant_id, Order.package_name)
            .where((Order.phone == phone) & (Order.state == "paid") & Order.grant_id.is_not_null())
            .order_by(Order.paid_at, ascending=False)
            .limit(20)
            .run()
        )
        now = self.clock()
        for order in orders:
            grant = await Grant.select().where(Grant.id == order["grant_id"]).first().run()
            if grant is not None and _gives_access(grant, now):
                return LivePurchase(
                    order_id=order["id"],
                    grant_id=int(grant["id"]),
                    package=order["package_name"],
                    mac=grant["mac"],
                    expires_at=grant["expires_at"],
                )
        return None

    async def device_has_live_grant(self, mac: str, *, other_than: int | None = None) -> bool:
        """Is a grant (other than `other_than`) giving this device access right now?"""
        rows = await Grant.select().where((Grant.mac == mac) & Grant.state.is_in(list(GrantState.LIVE))).run()
        now = self.clock()
        return any(row["id"] != other_than and _gives_access(row, now) for row in rows)


def _gives_access(grant: dict[str, Any], now: float) -> bool:
    if grant["state"] not in GrantState.LIVE:
        return False
    if grant["expires_at"] is not None and grant["expires_at"] <= now:
        return False
    total = grant["bytes_total"]
    return total is None or int(grant["bytes_in"]) + int(grant["bytes_out"]) < int(total)
