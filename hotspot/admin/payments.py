"""The payments the admin sees: every attempt with its order, callbacks and verdicts.

"Did my payment go through?" is the owner's most common question, so one payment shows the
whole trail: the order, each callback body exactly as received with the verdict it got, and how
many times the gateway was asked. Failed ones and those with a suspicious callback are flagged;
"re-verify now" asks the gateway again through the same path the checks use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hotspot.db import Database
from hotspot.payments.phone import InvalidPhone, normalize_phone
from hotspot.payments.service import Payments
from hotspot.payments.states import PaymentState
from hotspot.payments.tables import Order, Payment, PaymentCallback

__all__ = [
    "SUSPICIOUS_VERDICTS",
    "PaymentDetail",
    "PaymentFilter",
    "PaymentList",
    "PaymentPage",
    "PaymentQueryError",
    "PaymentRow",
]

MAX_LIMIT = 200
SUSPICIOUS_VERDICTS = ("rejected", "unknown_reference", "mismatch", "receipt_reused")
_CURSOR = re.compile(r"^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)_([A-Za-z0-9_-]{1,32})$")


class PaymentQueryError(ValueError):
    """A filter or cursor that cannot be used (the message names the field)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PaymentFilter:
    state: str | None = None
    gateway: str | None = None
    phone: str | None = None
    flagged: bool = False  # failed, or with a suspicious callback


@dataclass(frozen=True)
class PaymentRow:
    id: str
    order_id: str
    gateway: str
    state: str
    reason: str
    message: str
    amount: int
    currency: str
    phone: str | None
    mac: str | None
    package: str | None
    reference: str | None
    receipt: str | None
    checks: int
    created_at: float
    settled_at: float | None
    suspicious: int  # callbacks for it that were refused as suspicious

    @property
    def flagged(self) -> bool:
        return self.state == PaymentState.FAILED or self.suspicious > 0

    @property
    def cursor(self) -> str:
        return f"{self.created_at!r}_{self.id}"


@dataclass(frozen=True)
class PaymentPage:
    rows: list[PaymentRow]
    next_cursor: str | None


@dataclass(frozen=True)
class PaymentDetail:
    payment: PaymentRow
    order: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    other_attempts: list[PaymentRow] = field(default_factory=list)


_SUSPICIOUS_SQL = ", ".join(f"'{v}'" for v in SUSPICIOUS_VERDICTS)  # fixed words, not input
_SELECT = (
    "SELECT p.id, p.order_id, p.gateway, p.state, p.reason, p.message, p.amount, p.currency, p.phone,"  # noqa: S608
    " p.mac, o.package_name, p.reference, p.receipt, p.checks, p.created_at, p.settled_at,"
    " (SELECT COUNT(*) FROM hotspot_payment_callback c WHERE c.payment_id = p.id"
    f" AND c.verdict IN ({_SUSPICIOUS_SQL})) AS suspicious"
    " FROM hotspot_payment p LEFT JOIN hotspot_order o ON o.id = p.order_id"
)


def _row(r: dict[str, Any]) -> PaymentRow:
    return PaymentRow(
        id=str(r["id"]),
        order_id=str(r["order_id"]),
        gateway=str(r["gateway"]),
        state=str(r["state"]),
        reason=str(r["reason"] or ""),
        message=str(r["message"] or ""),
        amount=int(r["amount"]),
        currency=str(r["currency"]),
        phone=r["phone"],
        mac=r["mac"],
        package=r["package_name"],
        reference=r["reference"],
        receipt=r["receipt"],
        checks=int(r["checks"]),
        created_at=float(r["created_at"]),
        settled_at=None if r["settled_at"] is None else float(r["settled_at"]),
        suspicious=int(r["suspicious"]),
    )


class PaymentList:
    def __init__(self, db: Database, payments: Payments) -> None:
        self.db = db
        self.payments = payments

    async def page(
        self, filters: PaymentFilter | None = None, after: str | None = None, limit: int = 50
    ) -> PaymentPage:
        """Newest first, in keyset pages (created_at, id)."""
        f = filters or PaymentFilter()
        if not 1 <= limit <= MAX_LIMIT:
            raise PaymentQueryError(f"limit must be 1-{MAX_LIMIT}", "limit")
        where: list[str] = []
        args: list[Any] = []
        if f.state:
            if f.state not in {s.value for s in PaymentState}:
                raise PaymentQueryError(
                    f"state must be one of {', '.join(s.value for s in PaymentState)}", "state"
                )
            where.append("p.state = {}")
            args.append(f.state)
        if f.gateway:
            where.append("p.gateway = {}")
            args.append(f.gateway)
        if f.phone:
            try:
                where.append("p.phone = {}")
                args.append(normalize_phone(f.phone))
            except InvalidPhone as exc:
                raise PaymentQueryError(str(exc), "phone") from None
        if f.flagged:
            where.append(
                "(p.state = 'failed' OR EXISTS (SELECT 1 FROM hotspot_payment_callback c"  # noqa: S608
                f" WHERE c.payment_id = p.id AND c.verdict IN ({_SUSPICIOUS_SQL})))"
            )
        if after:
            match = _CURSOR.match(after)
            if match is None:
                raise PaymentQueryError("not a page cursor from this list", "after")
            created, payment_id = float(match.group(1)), match.group(2)
            where.append("(p.created_at < {} OR (p.created_at = {} AND p.id < {}))")
            args += [created, created, payment_id]
        sql = (
            _SELECT
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY p.created_at DESC, p.id DESC LIMIT {}"
        )
        rows = await Payment.raw(sql, *args, limit + 1).run()
        page = [_row(r) for r in rows[:limit]]
        return PaymentPage(page, page[-1].cursor if len(rows) > limit else None)

    async def in_flight(self, limit: int = 20) -> list[PaymentRow]:
        """Payments a customer is waiting on right now, for the live overview."""
        rows = await Payment.raw(
            _SELECT + " WHERE p.state IN ('created', 'pending') ORDER BY p.created_at DESC LIMIT {}", limit
        ).run()
        return [_row(r) for r in rows]

    async def detail(self, payment_id: str) -> PaymentDetail | None:
        rows = await Payment.raw(_SELECT + " WHERE p.id = {}", payment_id).run()
        if not rows:
            return None
        payment = _row(rows[0])
        order = await Order.select().where(Order.id == payment.order_id).first().run()
        callbacks = (
            await PaymentCallback.select()
            .where(
                (PaymentCallback.payment_id == payment_id)
                | ((PaymentCallback.reference == payment.reference) & PaymentCallback.payment_id.is_null())
                if payment.reference
                else PaymentCallback.payment_id == payment_id
            )
            .order_by(PaymentCallback.received_at)
            .run()
        )
        others = await Payment.raw(
            _SELECT + " WHERE p.order_id = {} AND p.id != {} ORDER BY p.created_at",
            payment.order_id,
            payment_id,
        ).run()
        return PaymentDetail(
            payment, dict(order or {}), [dict(c) for c in callbacks], [_row(r) for r in others]
        )

    async def reverify(self, payment_id: str) -> str:
        """Ask the gateway again now; returns the payment's state afterwards.

        Only a payment still open (pending, or expired while waiting) can change; a settled
        one answers its state without a call."""
        return await self.payments.check(payment_id)
