"""The customers the admin sees: a list by phone number, and one customer's whole story.

Customers are not stored (hotspot.customers.directory): a customer is a phone that ordered.
The list walks the orders' phone index in phone order with a keyset cursor (the last phone
shown), so a page reads one index range and 50 customers' figures, whether the box knows a
hundred customers or a hundred thousand; there is no total count for the same reason. The
search box takes what an owner has at hand: a phone number (whole or its start, as typed:
0712..., 712..., 254712...) or a device's MAC (every phone that used that device).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hotspot.access.tables import Session
from hotspot.addresses import normalize_mac
from hotspot.contracts import Money
from hotspot.customers.blocks import BindingView, Blocks, BlockView
from hotspot.customers.tables import Binding, BlockKind, CodeState, MoveCode
from hotspot.db import Database
from hotspot.payments.phone import InvalidPhone, normalize_phone
from hotspot.payments.tables import Order, Payment

__all__ = [
    "CustomerDetail",
    "CustomerList",
    "CustomerQueryError",
    "CustomerRow",
    "DeviceRow",
    "Page",
    "PurchaseRow",
    "SessionRow",
    "phone_prefix",
]

MAX_LIMIT = 200
HISTORY = 50  # purchases and sessions on a customer's page, newest first
_CURSOR = re.compile(r"^254\d{9}$")
_PHONE_TYPED = re.compile(r"^\+?[\d\s()-]{3,20}$")


class CustomerQueryError(ValueError):
    """A search or cursor that cannot be used (the message names the field)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CustomerRow:
    phone: str
    devices: int
    purchases: int  # paid orders
    totals: tuple[Money, ...]  # paid, one per currency
    last_seen: float | None  # the latest order or session
    blocked: bool
    bound: bool


@dataclass(frozen=True)
class Page:
    rows: list[CustomerRow]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True)
class PurchaseRow:
    order_id: str
    package: str
    amount: Money
    state: str  # the order's: open | paid
    payment_id: str | None
    payment_state: str | None  # the latest attempt's
    gateway: str | None
    receipt: str | None
    mac: str | None
    created_at: float
    paid_at: float | None
    grant_id: int | None


@dataclass(frozen=True)
class SessionRow:
    id: int
    grant_id: int
    mac: str
    ip: str
    router: str
    started_at: float
    last_seen_at: float
    ended_at: float | None
    bytes_in: int
    bytes_out: int


@dataclass(frozen=True)
class DeviceRow:
    mac: str
    last_ip: str | None
    first_seen: float | None  # None: bound by the owner, never seen yet
    last_seen: float | None
    block: BlockView | None
    bound: bool


@dataclass(frozen=True)
class CustomerDetail:
    phone: str
    purchases: list[PurchaseRow]
    sessions: list[SessionRow]
    devices: list[DeviceRow]
    totals: tuple[Money, ...]
    paid_orders: int
    block: BlockView | None
    bindings: list[BindingView]
    blocks: list[BlockView] = field(default_factory=list)  # history, lifted ones too

    @property
    def known(self) -> bool:
        """Anything at all on this number: orders, a block or a binding."""
        return bool(self.purchases or self.block or self.bindings or self.blocks)


def phone_prefix(typed: str) -> str | None:
    """The stored form's start for what was typed: 0712 -> 254712, 712 -> 254712, +2547 -> 2547."""
    digits = re.sub(r"[\s()+-]", "", typed)
    if not re.fullmatch(r"[0-9]+", digits):  # not isdigit(): "²" and full-width digits pass it
        return None
    if digits.startswith("254"):
        return digits
    if digits.startswith("0"):
        return "254" + digits[1:]
    if digits[0] in "71":
        return "254" + digits
    return None


def _money_totals(rows: Sequence[dict[str, Any]]) -> tuple[Money, ...]:
    return tuple(
        Money(int(r["total"]), str(r["currency"])) for r in sorted(rows, key=lambda r: str(r["currency"]))
    )


class CustomerList:
    def __init__(self, db: Database, blocks: Blocks, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.blocks = blocks
        self.clock = clock

    # --- the list ------------------------------------------------------------------------------

    async def page(self, q: str | None = None, after: str | None = None, limit: int = 50) -> Page:
        """Customers in phone order from `after` (a phone), optionally those matching `q`."""
        if not 1 <= limit <= MAX_LIMIT:
            raise CustomerQueryError(f"limit must be 1-{MAX_LIMIT}", "limit")
        if after is not None and not _CURSOR.match(after):
            raise CustomerQueryError("not a page cursor from this list", "after")
        text = (q or "").strip()
        if not text:
            phones = await self._walk(None, after, limit + 1)
        else:
            mac = normalize_mac(text)
            if mac is not None:
                found = await self.phones_of_device(mac)
                phones = [p for p in found if after is None or p > after][: limit + 1]
            elif _PHONE_TYPED.match(text) and (prefix := phone_prefix(text)) is not None:
                phones = await self._walk(prefix, after, limit + 1)
                try:
                    whole = normalize_phone(text)
                except InvalidPhone:
                    whole = None
                if whole is not None and not phones and (after is None or whole > after):
                    detail_known = await self.blocks.current(
                        BlockKind.PHONE, whole
                    ) or await self.blocks.bindings(whole)
                    phones = [whole] if detail_known else []
            else:
                raise CustomerQueryError(
                    "Search by phone number (e.g. 0712 345 678) or device MAC (AA:BB:CC:DD:EE:FF).", "q"
                )
        rows = await self._rows(phones[:limit])
        return Page(rows, rows[-1].phone if len(phones) > limit else None)

    async def _walk(self, prefix: str | None, after: str | None, limit: int) -> list[str]:
        """Distinct phones in order along the orders' phone index: one range, `limit` phones."""
        where = ["phone IS NOT NULL"]
        args: list[Any] = []
        if prefix:
            end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            where.append("phone >= {} AND phone < {}")
            args += [prefix, end]
        if after:
            where.append("phone > {}")
            args.append(after)
        index = " INDEXED BY hotspot_order_phone" if self.db.is_sqlite else ""
        rows = await Order.raw(
            f"SELECT DISTINCT phone FROM hotspot_order{index} WHERE {' AND '.join(where)}"  # noqa: S608 (fixed SQL and placeholders only)
            " ORDER BY phone LIMIT {}",
            *args,
            limit,
        ).run()
        return [str(r["phone"]) for r in rows]

    async def phones_of_device(self, mac: str) -> list[str]:
        """Every phone that ordered on, had a session on, moved to or from, or is bound to `mac`."""
        found: set[str] = set()
        rows = await Order.select(Order.phone).where((Order.mac == mac) & Order.phone.is_not_null()).run()
        found.update(r["phone"] for r in rows)
        rows = await Order.raw(
            "SELECT DISTINCT o.phone FROM hotspot_session s JOIN hotspot_order o ON o.grant_id = s.grant"
            " WHERE s.mac = {} AND o.phone IS NOT NULL",
            mac,
        ).run()
        found.update(r["phone"] for r in rows)
        rows = await (
            MoveCode.select(MoveCode.phone)
            .where((MoveCode.state == CodeState.USED) & ((MoveCode.mac == mac) | (MoveCode.from_mac == mac)))
            .run()
        )
        found.update(r["phone"] for r in rows)
        rows = await Binding.select(Binding.phone).where(Binding.mac == mac).run()
        found.update(r["phone"] for r in rows)
        return sorted(found)

    async def _rows(self, phones: list[str]) -> list[CustomerRow]:
        """The figures of one page of customers: a handful of grouped queries over 50 phones."""
        if not phones:
            return []
        marks = ", ".join("{}" for _ in phones)
        paid = await Order.raw(
            "SELECT phone, currency, COUNT(*) AS n, SUM(amount) AS total FROM hotspot_order"  # noqa: S608
            f" WHERE phone IN ({marks}) AND state = 'paid' GROUP BY phone, currency",
            *phones,
        ).run()
        seen = await Order.raw(
            "SELECT phone, COUNT(DISTINCT mac) AS devices, MAX(created_at) AS last FROM hotspot_order"  # noqa: S608
            f" WHERE phone IN ({marks}) GROUP BY phone",
            *phones,
        ).run()
        online = await Order.raw(
            "SELECT o.phone, MAX(s.last_seen_at) AS last FROM hotspot_order o"  # noqa: S608
            f" JOIN hotspot_session s ON s.grant = o.grant_id WHERE o.phone IN ({marks}) GROUP BY o.phone",
            *phones,
        ).run()
        purchases: dict[str, int] = {}
        totals: dict[str, list[dict[str, Any]]] = {}
        for r in paid:
            purchases[r["phone"]] = purchases.get(r["phone"], 0) + int(r["n"])
            totals.setdefault(r["phone"], []).append(r)
        devices = {r["phone"]: int(r["devices"] or 0) for r in seen}
        last: dict[str, float] = {r["phone"]: float(r["last"]) for r in seen if r["last"] is not None}
        for r in online:
            if r["last"] is not None:
                last[r["phone"]] = max(last.get(r["phone"], 0.0), float(r["last"]))
        blocked = await self.blocks.in_force(BlockKind.PHONE, phones)
        bound = await self.blocks.bound_phones(phones)
        return [
            CustomerRow(
                phone=phone,
                devices=devices.get(phone, 0),
                purchases=purchases.get(phone, 0),
                totals=_money_totals(totals.get(phone, [])),
                last_seen=last.get(phone),
                blocked=phone in blocked,
                bound=phone in bound,
            )
            for phone in phones
        ]

    # --- one customer --------------------------------------------------------------------------

    async def detail(self, phone: str) -> CustomerDetail:
        """Purchases, sessions and devices of `phone` (normalised), newest first."""
        orders = [
            dict(r)
            for r in await Order.select()
            .where(Order.phone == phone)
            .order_by(Order.created_at, ascending=False)
            .limit(HISTORY)
            .run()
        ]
        payments: dict[str, dict[str, Any]] = {}
        if orders:
            attempts = await (
                Payment.select()
                .where(Payment.order_id.is_in([o["id"] for o in orders]))
                .order_by(Payment.created_at)
                .run()
            )
            for attempt in attempts:  # the latest attempt of each order wins
                payments[attempt["order_id"]] = dict(attempt)
        purchases = [self._purchase(o, payments.get(o["id"])) for o in orders]
        sessions = [
            SessionRow(
                id=int(r["id"]),
                grant_id=int(r["grant_id"]),
                mac=str(r["mac"]),
                ip=str(r["ip"]),
                router=str(r["router"]),
                started_at=float(r["started_at"]),
                last_seen_at=float(r["last_seen_at"]),
                ended_at=None if r["ended_at"] is None else float(r["ended_at"]),
                bytes_in=int(r["bytes_in"]),
                bytes_out=int(r["bytes_out"]),
            )
            for r in await Session.raw(
                "SELECT s.id, s.grant AS grant_id, s.mac, s.ip, s.router, s.started_at, s.last_seen_at,"
                " s.ended_at, s.bytes_in, s.bytes_out FROM hotspot_session s WHERE s.grant IN"
                " (SELECT grant_id FROM hotspot_order WHERE phone = {} AND grant_id IS NOT NULL)"
                " ORDER BY s.started_at DESC, s.id DESC LIMIT {}",
                phone,
                HISTORY,
            ).run()
        ]
        totals = await Order.raw(
            "SELECT currency, COUNT(*) AS n, SUM(amount) AS total FROM hotspot_order"
            " WHERE phone = {} AND state = 'paid' GROUP BY currency",
            phone,
        ).run()
        bindings = await self.blocks.bindings(phone)
        devices = await self._devices(phone, orders, sessions, {b.mac for b in bindings})
        return CustomerDetail(
            phone=phone,
            purchases=purchases,
            sessions=sessions,
            devices=devices,
            totals=_money_totals(totals),
            paid_orders=sum(int(r["n"]) for r in totals),
            block=await self.blocks.current(BlockKind.PHONE, phone),
            bindings=bindings,
            blocks=await self.blocks.history(phone, [d.mac for d in devices]),
        )

    @staticmethod
    def _purchase(order: dict[str, Any], payment: dict[str, Any] | None) -> PurchaseRow:
        return PurchaseRow(
            order_id=str(order["id"]),
            package=str(order["package_name"]),
            amount=Money(int(order["amount"]), str(order["currency"])),
            state=str(order["state"]),
            payment_id=payment["id"] if payment else None,
            payment_state=payment["state"] if payment else None,
            gateway=payment["gateway"] if payment else None,
            receipt=payment["receipt"] if payment else None,
            mac=order["mac"],
            created_at=float(order["created_at"]),
            paid_at=None if order["paid_at"] is None else float(order["paid_at"]),
            grant_id=None if order["grant_id"] is None else int(order["grant_id"]),
        )

    async def _devices(
        self, phone: str, orders: list[dict[str, Any]], sessions: list[SessionRow], bound: set[str]
    ) -> list[DeviceRow]:
        """Every device seen with the phone: its orders, its grants' sessions, its moves, and the
        devices it is bound to; the last IP from the newest session (else the newest order)."""
        seen: dict[str, list[float]] = {}
        ips: dict[str, tuple[float, str]] = {}

        def saw(mac: str | None, at: float, ip: str | None = None) -> None:
            if not mac:
                return
            span = seen.setdefault(mac, [at, at])
            span[0], span[1] = min(span[0], at), max(span[1], at)
            if ip and (mac not in ips or ips[mac][0] <= at):
                ips[mac] = (at, ip)

        for order in orders:
            saw(order["mac"], float(order["created_at"]), order["ip"])
        for session in sessions:
            saw(session.mac, session.started_at)
            saw(session.mac, session.last_seen_at, session.ip)
        moves = await (
            MoveCode.select(MoveCode.mac, MoveCode.from_mac, MoveCode.used_at, MoveCode.ip)
            .where((MoveCode.phone == phone) & (MoveCode.state == CodeState.USED))
            .run()
        )
        for move in moves:
            saw(move["from_mac"], float(move["used_at"]))
            saw(move["mac"], float(move["used_at"]), move["ip"])
        blocked = await self.blocks.in_force(BlockKind.MAC, seen.keys() | bound)
        devices = [
            DeviceRow(
                mac=mac,
                last_ip=ips[mac][1] if mac in ips else None,
                first_seen=seen[mac][0] if mac in seen else None,
                last_seen=seen[mac][1] if mac in seen else None,
                block=blocked.get(mac),
                bound=mac in bound,
            )
            for mac in seen.keys() | bound
        ]
        return sorted(devices, key=lambda d: (d.last_seen or 0.0, d.mac), reverse=True)
