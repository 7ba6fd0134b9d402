"""Payments: start an attempt, hear about it, verify it, and turn a verified payment into access.

The rules (design.md, research/payments.md section 6):

* a callback is stored raw before it is read, then believed in nothing until the gateway's own
  `verify` agrees; a callback that names an unknown reference, the wrong amount or the wrong
  payer grants nothing and is recorded as a security event;
* every attempt is also settled by polling `verify` (the box usually has no public URL, so a
  callback may never come): a durable job per check, retried with backoff while the gateway
  cannot be reached;
* a payment is confirmed with a conditional UPDATE (`WHERE state IN ('pending','expired')`),
  and the confirmation, the order's grant (new, or the device's live grant extended) and the
  grant's apply job commit in one transaction: a crash leaves either nothing (the payment is
  still pending and is checked again) or everything (the job puts the grant on a router).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from hotspot.access.grants import GrantRequest, GrantService
from hotspot.access.tables import Grant, GrantState
from hotspot.config import PaymentSettings
from hotspot.contracts import (
    CallbackReport,
    GatewayResult,
    Money,
    PaymentConfirmed,
    PaymentGateway,
    PaymentRequest,
    PaymentStatus,
    SecurityEvent,
)
from hotspot.db import Database
from hotspot.jobs import JobContext, JobFailed, Jobs
from hotspot.payments.states import PaymentState, check_transition
from hotspot.payments.tables import Order, Payment, PaymentCallback

__all__ = ["CHECK", "SWEEP", "Payments", "new_id"]

log = logging.getLogger("hotspot.payments")
CHECK, SWEEP = "payments.check", "payments.sweep"
_OUTCOME = {
    PaymentStatus.FAILED: PaymentState.FAILED,
    PaymentStatus.CANCELLED: PaymentState.CANCELLED,
    PaymentStatus.EXPIRED: PaymentState.EXPIRED,
}
_STALE_CREATED_SECONDS = 120.0
URGENT_HEAD_START = 0.5  # s a confirmation's follow-ups wait for the grant to land on the router


def new_id(prefix: str) -> str:
    """An unguessable id: whoever holds an order id can follow that order."""
    return prefix + secrets.token_urlsafe(18)


class Payments:
    """The PaymentInbox of gateway plugins, and the state machine's only writer."""

    def __init__(
        self,
        db: Database,
        jobs: Jobs,
        grants: GrantService,
        gateways: dict[str, PaymentGateway],
        *,
        settings: PaymentSettings | None = None,
        callback_bases: dict[str, str] | None = None,
        emit: Callable[..., Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.grants = grants
        self.gateways = gateways
        self.settings = settings or PaymentSettings()
        self.callback_bases = callback_bases or {}  # gateway id -> public URL of its plugin's routes
        self.emit = emit
        self.clock = clock
        self.on_order_change: Callable[[str], Awaitable[None]] | None = None

    def register_jobs(self) -> None:
        self.jobs.register(CHECK, self._check_job)
        self.jobs.register(SWEEP, self._sweep_job, every=60.0)

    # --- starting ------------------------------------------------------------------------------

    async def start(self, order: dict[str, Any], gateway_id: str, phone: str | None) -> str:
        """Open a payment attempt for an order and ask the gateway to collect; returns its id.

        A gateway that refuses or cannot be reached leaves a failed attempt with a reason the
        portal can explain; it never raises for that."""
        gateway = self.gateways[gateway_id]
        now = self.clock()
        payment_id = new_id("p")
        async with self.db.write_lock():
            await Payment.insert(
                Payment(
                    id=payment_id,
                    order_id=order["id"],
                    gateway=gateway_id,
                    amount=order["amount"],
                    currency=order["currency"],
                    phone=phone,
                    mac=order["mac"],
                    state=PaymentState.CREATED,
                    created_at=now,
                    updated_at=now,
                )
            ).run()
        request = PaymentRequest(
            payment_id=payment_id,
            order_id=order["id"],
            amount=Money(int(order["amount"]), order["currency"]),
            description=order["package_name"],
            phone=phone,
            callback_url=self.callback_bases.get(gateway_id),
            metadata={"mac": order["mac"] or "", "package": order["package_name"]},
        )
        try:
            result = await gateway.initiate(request)
        except Exception as exc:
            log.warning("payment %s: %s could not be reached: %s", payment_id, gateway_id, exc)
            result = GatewayResult(
                PaymentStatus.FAILED, reason="error", message=f"could not reach {gateway.display_name}"
            )
        if result.status in (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED) and result.reference:
            # Even an instant "succeeded" is only believed once verify says so.
            await self._move(
                payment_id,
                PaymentState.CREATED,
                PaymentState.PENDING,
                result,
                reference=result.reference,
                next_check_at=now + self.settings.first_check_seconds,
                give_up_at=now + self.settings.timeout_seconds,
            )
            await self._schedule_check(payment_id, 0, self.settings.first_check_seconds)
        else:
            failed = GatewayResult(
                PaymentStatus.FAILED,
                reason=result.reason or "error",
                message=result.message or "the payment could not be started",
            )
            await self._move(payment_id, PaymentState.CREATED, PaymentState.FAILED, failed)
        await self._order_changed(order["id"])
        return payment_id

    # --- callbacks (PaymentInbox) --------------------------------------------------------------

    async def callback(self, report: CallbackReport) -> str:
        """Store the body first, then match it; only a verified check can confirm anything."""
        now = self.clock()
        async with self.db.write_lock():
            [row] = (
                await PaymentCallback.insert(
                    PaymentCallback(
                        gateway=report.gateway,
                        reference=(report.reference or "")[:100] or None,
                        body=report.raw.decode("utf-8", errors="replace"),
                        source_ip=report.source_ip,
                        received_at=now,
                    )
                )
                .returning(PaymentCallback.id)
                .run()
            )
        callback_id = int(row["id"])
        verdict, detail, payment_id = await self._judge(report)
        async with self.db.write_lock():
            await (
                PaymentCallback.update(
                    {
                        PaymentCallback.verdict: verdict,
                        PaymentCallback.detail: detail[:300],
                        PaymentCallback.payment_id: payment_id,
                    }
                )
                .where(PaymentCallback.id == callback_id)
                .run()
            )
        if verdict in ("rejected", "unknown_reference", "mismatch", "receipt_reused"):
            await self._suspicious(report, f"{verdict}: {detail}")
        log.info("callback #%s from %s: %s %s", callback_id, report.gateway, verdict, detail)
        return verdict

    async def _judge(self, report: CallbackReport) -> tuple[str, str, str | None]:
        if report.problem:
            return "rejected", report.problem, None
        if not report.reference or report.claimed is None:
            return "rejected", "no reference in the callback", None
        claimed = report.claimed
        # One round trip while the customer waits: the payment, and any other payment the
        # receipt the callback claims has already paid.
        rows = await Payment.raw(
            "SELECT p.*, (SELECT o.id FROM hotspot_payment AS o WHERE o.receipt = {} AND o.id != p.id"
            " LIMIT 1) AS receipt_paid FROM hotspot_payment AS p WHERE p.gateway = {} AND p.reference = {}"
            " LIMIT 1",
            claimed.receipt,
            report.gateway,
            report.reference,
        ).run()
        if not rows:
            rows = await self._adopt(report.gateway, report.reference, claimed)
            if not rows:
                return "unknown_reference", f"no payment has reference {report.reference!r}", None
        payment = dict(rows[0])
        other = payment.pop("receipt_paid", None)
        problem = self._mismatch(payment, claimed)
        if problem:
            return "mismatch", problem, payment["id"]
        if claimed.receipt and other is not None:
            return "receipt_reused", f"receipt {claimed.receipt} already paid {other}", payment["id"]
        if payment["state"] == PaymentState.SUCCEEDED:
            if claimed.receipt and not payment["receipt"]:
                async with self.db.write_lock():
                    await (
                        Payment.update({Payment.receipt: claimed.receipt})
                        .where((Payment.id == payment["id"]) & Payment.receipt.is_null())
                        .run()
                    )
            return "duplicate", "already confirmed", payment["id"]
        if payment["state"] not in (PaymentState.PENDING, PaymentState.EXPIRED):
            return "duplicate", f"payment already {payment['state']}", payment["id"]
        try:
            state = await self.check(payment["id"], claimed=claimed, payment=payment)
        except Exception as exc:  # the gateway is down: the scheduled checks will settle it
            return "accepted", f"verification deferred: {exc}", payment["id"]
        return "accepted", f"payment is {state}", payment["id"]

    async def _adopt(self, gateway: str, reference: str, claimed: GatewayResult) -> list[dict[str, Any]]:
        """A paid callback no payment knows: was it for a prompt whose answer the box lost?

        When the request to start a payment times out, the gateway may still have sent the
        prompt, and the customer paid it; the attempt was marked failed with no reference. The
        latest such attempt from the same phone, for the same amount and currency, within the time
        a prompt stays open, takes the callback's reference and goes back to pending; the STK
        Query that follows decides, as for any callback. Anything else stays unknown."""
        if claimed.status != PaymentStatus.SUCCEEDED or not claimed.payer or claimed.amount is None:
            return []
        now = self.clock()
        check_transition(PaymentState.FAILED, PaymentState.PENDING)
        async with self.db.write_lock():
            rows: list[dict[str, Any]] = await Payment.raw(
                "UPDATE hotspot_payment SET state = 'pending', reference = {}, reason = '', message = {},"
                " updated_at = {}, settled_at = NULL, next_check_at = {}, give_up_at = {}"
                " WHERE id = (SELECT id FROM hotspot_payment WHERE gateway = {} AND state = 'failed'"
                " AND reason = 'error' AND reference IS NULL AND phone = {} AND amount = {} AND currency = {}"
                " AND created_at >= {} ORDER BY created_at DESC LIMIT 1)"
                " AND state = 'failed' AND reference IS NULL RETURNING *",
                reference,
                "the start request got no answer, but the prompt was paid: adopted from its callback",
                now,
                now + self.settings.first_check_seconds,
                now + self.settings.timeout_seconds,
                gateway,
                claimed.payer,
                claimed.amount.amount,
                claimed.amount.currency,
                now - self.settings.timeout_seconds,
            ).run()
        if rows:
            log.warning(
                "payment %s adopted callback reference %s (its start had no answer)", rows[0]["id"], reference
            )
            await self._schedule_check(str(rows[0]["id"]), 0, self.settings.first_check_seconds)
        return rows

    @staticmethod
    def _mismatch(payment: dict[str, Any], claimed: GatewayResult) -> str:
        if claimed.status != PaymentStatus.SUCCEEDED:
            return ""
        expected = Money(int(payment["amount"]), payment["currency"])
        if claimed.amount is not None and claimed.amount != expected:
            return f"amount {claimed.amount} does not match {expected}"
        if claimed.payer and payment["phone"] and claimed.payer != payment["phone"]:
            return "payer does not match the phone the prompt was sent to"
        return ""

    async def _suspicious(self, report: CallbackReport, detail: str) -> None:
        if self.emit is None:
            return
        event = SecurityEvent(
            kind="payment_callback",
            detail=f"{report.gateway}: {detail}"[:300],
            severity="warning",
            at=datetime.now(UTC),
            ip=report.source_ip,
            subject=report.reference,
        )
        await self.emit("security_event", event=event)

    # --- verification --------------------------------------------------------------------------

    async def check(
        self,
        payment_id: str,
        *,
        claimed: GatewayResult | None = None,
        payment: dict[str, Any] | None = None,
    ) -> str:
        """Ask the gateway what became of a payment and act on it; returns the payment's state.

        `payment` is the row when the caller has just read it (a callback: one query less while
        the customer waits). Raises when the gateway cannot be asked (the check job turns that
        into a retry)."""
        if payment is None:
            payment = await self._get(payment_id)
        if payment["state"] not in (PaymentState.PENDING, PaymentState.EXPIRED):
            return str(payment["state"])
        gateway = self.gateways.get(payment["gateway"])
        if gateway is None:
            raise JobFailed(f"gateway {payment['gateway']!r} is not enabled; cannot verify {payment_id}")
        # Counted concurrently with the question itself: the count is for the admin, not a gate.
        counted = asyncio.ensure_future(self._count_check(payment_id))
        try:
            result = await gateway.verify(payment["reference"])
        finally:
            await counted
        if result.reference and result.reference != payment["reference"]:
            raise JobFailed(
                f"{payment['gateway']} answered for {result.reference}, not {payment['reference']}"
            )
        if result.status == PaymentStatus.SUCCEEDED:
            expected = Money(int(payment["amount"]), payment["currency"])
            if result.amount is not None and result.amount != expected:
                await self._move(
                    payment_id,
                    payment["state"],
                    PaymentState.FAILED,
                    GatewayResult(
                        PaymentStatus.FAILED,
                        reason="declined",
                        message=f"paid {result.amount}, expected {expected}",
                    ),
                )
                await self._suspicious(
                    CallbackReport(payment["gateway"], b"", None, payment["reference"], result),
                    f"verified amount {result.amount} does not match {expected}",
                )
                await self._order_changed(payment["order_id"])
                return PaymentState.FAILED
            trusted = claimed if claimed is not None and not self._mismatch(payment, claimed) else None
            receipt = result.receipt or (trusted.receipt if trusted else None)
            payer = result.payer or (trusted.payer if trusted else None)
            if await self.confirm(payment_id, receipt=receipt, payer=payer):
                return PaymentState.SUCCEEDED
            return str((await self._get(payment_id))["state"])
        if result.status == PaymentStatus.PENDING:
            if payment["state"] == PaymentState.PENDING and self.clock() >= (payment["give_up_at"] or 0):
                await self._move(
                    payment_id,
                    PaymentState.PENDING,
                    PaymentState.EXPIRED,
                    GatewayResult(
                        PaymentStatus.EXPIRED, reason="timeout", message="no answer from the customer in time"
                    ),
                )
                await self._order_changed(payment["order_id"])
                return PaymentState.EXPIRED
            return str(payment["state"])
        if payment["state"] == PaymentState.EXPIRED:
            return PaymentState.EXPIRED  # already closed for the customer; nothing new to say
        await self._move(payment_id, PaymentState.PENDING, _OUTCOME[result.status], result)
        await self._order_changed(payment["order_id"])
        return str(_OUTCOME[result.status])

    async def confirm(self, payment_id: str, *, receipt: str | None = None, payer: str | None = None) -> bool:
        """Mark a verified payment succeeded and give its order access, in one transaction.

        Returns False when another process (or an earlier callback) confirmed it first."""
        now = self.clock()
        async with self.db.transaction():
            if receipt:
                taken = await Payment.select(Payment.id).where(Payment.receipt == receipt).first().run()
                receipt = None if taken is not None else receipt
            won = await Payment.raw(
                "UPDATE hotspot_payment SET state = 'succeeded', receipt = {}, payer = COALESCE({}, payer),"
                " settled_at = {}, updated_at = {}, reason = '', next_check_at = NULL"
                " WHERE id = {} AND state IN ('pending', 'expired') RETURNING order_id, amount, currency,"
                " gateway, reference",
                receipt,
                payer,
                now,
                now,
                payment_id,
            ).run()
            if not won:
                return False
            paid = won[0]
            order = await Order.select().where(Order.id == paid["order_id"]).first().run()
            assert order is not None, f"payment {payment_id} has no order"
            grant_id = await self._grant_for(order)
            await (
                Order.update({Order.state: "paid", Order.paid_at: now, Order.grant_id: grant_id})
                .where(Order.id == order["id"])
                .run()
            )
        # The grant's apply job (urgent) runs now; the event and the status publish wait for it
        # (briefly), so they do not slow down the one thing the customer is waiting for.
        await self.jobs.urgent_settled(URGENT_HEAD_START)
        log.info(
            "payment %s confirmed (%s %s), order %s -> grant #%s",
            payment_id,
            paid["amount"],
            paid["currency"],
            order["id"],
            grant_id,
        )
        if self.emit is not None:
            await self.emit(
                "payment_confirmed",
                event=PaymentConfirmed(
                    payment_id=payment_id,
                    order_id=order["id"],
                    amount=Money(int(paid["amount"]), paid["currency"]),
                    gateway=paid["gateway"],
                    reference=paid["reference"] or "",
                    at=datetime.fromtimestamp(now, UTC),
                ),
            )
        await self._order_changed(order["id"])
        return True

    async def _grant_for(self, order: dict[str, Any]) -> int:
        """Extend the device's live grant (auto-extension), else open a new one."""
        terms = order["terms"] if isinstance(order["terms"], dict) else _json(order["terms"])
        live = None
        if order["mac"]:
            live = (
                await Grant.select()
                .where(
                    (Grant.mac == order["mac"])
                    & Grant.state.is_in(list(GrantState.LIVE))
                    & ((Grant.expires_at.is_null()) | (Grant.expires_at > self.clock()))
                )
                .order_by(Grant.id, ascending=False)
                .first()
                .run()
            )
        if live is None:
            return await self.grants.request(
                GrantRequest(
                    profile=order["package_name"],
                    seconds=terms["seconds"],
                    bytes_total=terms.get("bytes_total"),
                    down_bps=terms.get("down_bps"),
                    up_bps=terms.get("up_bps"),
                    devices=int(terms.get("devices") or 1),
                    mac=order["mac"],
                    ip=order["ip"],
                    router_hint=order["router"],
                    source="order",
                    source_ref=order["id"],
                )
            )
        grant_id = int(live["id"])
        capped = live["bytes_total"] is not None and terms.get("bytes_total")
        await self.grants.extend(
            grant_id,
            seconds=int(terms["seconds"]),
            bytes_total=int(terms["bytes_total"]) if capped else 0,
            devices=int(terms.get("devices") or 1),  # the better package's devices, as for speed
        )
        down, up = (
            _faster(live["down_bps"], terms.get("down_bps")),
            _faster(live["up_bps"], terms.get("up_bps")),
        )
        if (down, up) != (live["down_bps"], live["up_bps"]):
            await self.grants.change_speed(grant_id, down_bps=down, up_bps=up)
        return grant_id

    async def _count_check(self, payment_id: str) -> None:
        async with self.db.write_lock():
            await Payment.update({Payment.checks: Payment.checks + 1}).where(Payment.id == payment_id).run()

    # --- jobs ----------------------------------------------------------------------------------

    async def _schedule_check(self, payment_id: str, n: int, delay: float) -> None:
        await self.jobs.enqueue(
            CHECK, {"payment": payment_id, "n": n}, key=f"{CHECK}:{payment_id}:{n}", delay=delay
        )

    async def _check_job(self, ctx: JobContext) -> None:
        payment_id = str(ctx.payload["payment"])
        try:
            state = await self.check(payment_id)
        except JobFailed:
            raise
        except Exception as exc:
            raise JobFailed(f"could not verify {payment_id}: {type(exc).__name__}: {exc}") from None
        if state == PaymentState.PENDING:
            n = int(ctx.payload.get("n", 0)) + 1
            delay = min(self.settings.check_every_seconds * (1 + n // 6), 60.0)
            async with self.db.write_lock():
                await (
                    Payment.update({Payment.next_check_at: self.clock() + delay})
                    .where(Payment.id == payment_id)
                    .run()
                )
            await self._schedule_check(payment_id, n, delay)

    async def _sweep_job(self, ctx: JobContext) -> None:
        """Attempts interrupted before the gateway answered can never be verified: close them."""
        cutoff = self.clock() - _STALE_CREATED_SECONDS
        stale = (
            await Payment.select(Payment.id, Payment.order_id)
            .where((Payment.state == PaymentState.CREATED) & (Payment.created_at < cutoff))
            .run()
        )
        for row in stale:
            await self._move(
                row["id"],
                PaymentState.CREATED,
                PaymentState.FAILED,
                GatewayResult(
                    PaymentStatus.FAILED, reason="error", message="interrupted before the gateway answered"
                ),
            )
            await self._order_changed(row["order_id"])

    # --- helpers -------------------------------------------------------------------------------

    async def _get(self, payment_id: str) -> dict[str, Any]:
        row = await Payment.select().where(Payment.id == payment_id).first().run()
        if row is None:
            raise JobFailed(f"no payment {payment_id}")
        return dict(row)

    async def _move(
        self, payment_id: str, current: str, target: str, result: GatewayResult, **extra: Any
    ) -> bool:
        """One transition, applied only if the payment is still where we think it is."""
        check_transition(current, target)
        now = self.clock()
        values: dict[Any, Any] = {
            Payment.state: target,
            Payment.reason: result.reason if target != PaymentState.PENDING else "",
            Payment.message: (result.message or "")[:300],
            Payment.updated_at: now,
        }
        if target not in (PaymentState.PENDING,):
            values[Payment.settled_at] = now
            values[Payment.next_check_at] = None
        for key, value in extra.items():
            values[getattr(Payment, key)] = value
        async with self.db.write_lock():
            moved = (
                await Payment.update(values)
                .where((Payment.id == payment_id) & (Payment.state == current))
                .returning(Payment.id)
                .run()
            )
        return bool(moved)

    async def _order_changed(self, order_id: str) -> None:
        if self.on_order_change is not None:
            try:
                await self.on_order_change(order_id)
            except Exception:
                log.exception("could not publish the status of order %s", order_id)


def _faster(current: int | None, offered: int | None) -> int | None:
    """The better of two speeds, where None means unlimited."""
    if current is None or offered is None:
        return None
    return max(current, offered)


def _json(text: str) -> dict[str, Any]:
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}
