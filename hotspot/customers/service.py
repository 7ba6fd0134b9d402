"""Moving a paid session to another device with a one-time code sent to the phone that paid.

"Already paid on another phone or laptop?": the customer types the number that paid, a 6-digit
code goes to that phone through the notifier plugins, and typing it on the new device moves
that phone's live grant (its latest paid order's) there: `GrantService.move` binds the new MAC,
logs it in and disconnects the old device, as a durable job. The orders of that grant follow
the device (their MAC, IP and router login links), so the portal greets the new device with
the session and the old one with the shop; the code's row keeps where the grant was moved from.

Guessing: a code is 6 random digits, works for `otp_ttl_minutes`, only on the device that asked
for it, and dies after `otp_attempts` wrong tries; a phone gets at most `otp_per_phone_per_hour`
codes, so at the defaults (5 tries, 3 codes an hour) a guesser has 15 tries an hour at 1 in a
million each. A device (and the address it calls from) may ask for `otp_per_device_per_hour`
codes: nobody can flood a stranger's phone with SMS. Codes are stored as an HMAC keyed by the
box's secret key. A code worn out by wrong tries, and each first refusal of a rate limit, raise
a security event.

A blocked phone or device, or a device the phone is not bound to (hotspot.customers.blocks),
gets no code and moves nothing: checked when the code is asked for and again when it is used.

The code is sent while the customer waits (bounded), never queued as a job: a job's payload
would keep the code in clear, and a code arriving after its five minutes is no use.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from hotspot.access.grants import GrantNotFound, GrantService
from hotspot.config._settings import CustomerSettings
from hotspot.contracts import Notification, Notifier, SecurityEvent
from hotspot.customers.blocks import Blocks
from hotspot.customers.directory import Directory, LivePurchase
from hotspot.customers.tables import CodeState, MoveCode
from hotspot.db import Database
from hotspot.errors import Refused
from hotspot.locks import Locks
from hotspot.payments.phone import InvalidPhone, mask_phone, normalize_phone
from hotspot.payments.tables import Order

__all__ = ["CODE_DIGITS", "Customers", "MoveError", "MoveRequest", "SentCode"]

log = logging.getLogger("hotspot.customers")
CODE_DIGITS = 6
SEND_TIMEOUT_SECONDS = 30.0
SOURCE_FACTOR = 4  # one address may ask for this many times a device's codes (NAT, shared WiFi)
_DIGITS = re.compile(r"\D+")
Severity = Literal["info", "warning", "critical"]


class MoveError(Refused):
    """A move the customer can act on: `field` names the input to blame, `retry_after` (s)
    comes with rate limits (HTTP 429)."""


@dataclass(frozen=True)
class MoveRequest:
    """The device asking (MAC and IP from the router's redirect), where the request came from,
    and the router's login links the new device's orders should carry."""

    mac: str | None
    ip: str | None
    source_ip: str | None = None
    router: str | None = None
    link_login_only: str | None = None
    link_orig: str | None = None


@dataclass(frozen=True)
class SentCode:
    """A code on its way: the browser keeps `challenge` and shows `phone` (masked)."""

    challenge: str
    phone: str
    expires_at: float


class Customers:
    """Customers by phone (`directory`), and moving a phone's paid session to another device."""

    def __init__(
        self,
        db: Database,
        grants: GrantService,
        notifiers: Mapping[str, Notifier],
        settings: CustomerSettings,
        *,
        locks: Locks,
        secret: str,
        business: str = "",
        emit: Callable[..., Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.grants = grants
        self.notifiers = notifiers
        self.settings = settings
        self.locks = locks
        self.business = business
        self.emit = emit
        self.clock = clock
        self.directory = Directory(clock=lambda: self.clock())
        self.blocks = Blocks(db, grants, locks=locks, clock=lambda: self.clock())
        self._key = hashlib.sha256(f"hotspot:move-code:{secret}".encode()).digest()

    @property
    def otp_enabled(self) -> bool:
        """Offered when configured so (by default: when a notifier can carry the code)."""
        wanted = self.settings.otp_enabled
        return bool(self.notifiers) if wanted is None else wanted and bool(self.notifiers)

    def _hash(self, challenge: str, code: str) -> str:
        return hmac.new(self._key, f"{challenge}:{code}".encode(), hashlib.sha256).hexdigest()

    # --- sending a code ----------------------------------------------------------------------

    async def send_move_code(self, phone: str, request: MoveRequest) -> SentCode:
        """Send a code to `phone` if it has a live paid package; MoveError when not."""
        if not self.otp_enabled:
            raise MoveError("Moving a package to another device is not available here.", reason="disabled")
        number = _phone(phone)
        mac, ip = _device(request)
        await self._admit(number, mac)
        await self._check_rates(number, mac, ip, request.source_ip)
        live = await self.directory.live_purchase(number)
        refusal = None
        if live is None:
            refusal = MoveError(
                f"We found no active package paid from {mask_phone(number)}. Check the number, "
                "or buy a package for this device.",
                reason="no_package",
                field="phone",
                status_code=404,
            )
        elif live.mac == mac:
            refusal = MoveError(
                "Your package is already on this device.",
                reason="already_here",
                field="phone",
                status_code=409,
            )
        if refusal is not None:  # counted against the device: asking about numbers is limited too
            await self._record(number, mac, ip, request.source_ip, CodeState.REFUSED)
            raise refusal
        now = self.clock()
        challenge = secrets.token_urlsafe(24)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        async with self.db.write_lock():
            await (
                MoveCode.update({MoveCode.state: CodeState.REPLACED})
                .where(
                    (MoveCode.phone == number) & (MoveCode.mac == mac) & (MoveCode.state == CodeState.SENT)
                )
                .run()
            )
            [row] = await (
                MoveCode.insert(
                    MoveCode(
                        challenge=challenge,
                        phone=number,
                        mac=mac,
                        ip=ip,
                        source_ip=(request.source_ip or "")[:45] or None,
                        code_hash=self._hash(challenge, code),
                        state=CodeState.SENT,
                        created_at=now,
                        expires_at=now + self.settings.otp_ttl_minutes * 60,
                    )
                )
                .returning(MoveCode.id)
                .run()
            )
        if not await self._deliver(number, code):
            async with self.db.write_lock():
                await (
                    MoveCode.update({MoveCode.state: CodeState.UNSENT}).where(MoveCode.id == row["id"]).run()
                )
            raise MoveError(
                "We couldn't send the code right now. Please try again in a minute, or ask at the counter.",
                reason="not_sent",
                status_code=503,
            )
        log.info("move code sent to %s for device %s", mask_phone(number), mac)
        return SentCode(challenge, mask_phone(number) or "", now + self.settings.otp_ttl_minutes * 60)

    async def _deliver(self, phone: str, code: str) -> bool:
        minutes = self.settings.otp_ttl_minutes
        where = f"{self.business} WiFi" if self.business else "the WiFi"
        notification = Notification(
            subject=f"{where} code",
            body=(
                f"{code} is your code to move your {where} package to a new device. It works for "
                f"{minutes} minutes. Didn't ask for it? Ignore this message."
            ),
            kind="customer_move_code",
            to=(f"+{phone}",),
        )
        for notifier_id, notifier in self.notifiers.items():
            try:
                async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                    await notifier.send(notification)
            except Exception as exc:  # the next notifier may do; the message never holds the code
                log.warning("notifier %r could not send a move code: %s", notifier_id, type(exc).__name__)
                continue
            return True
        return False

    async def _check_rates(self, phone: str, mac: str, ip: str, source: str | None) -> None:
        """Refuse over a limit, saying when to retry; the first refusal in a window is a
        security event (a LIMITED row marks it, and counts towards nothing)."""
        since = self.clock() - 3600
        counted = MoveCode.state != CodeState.LIMITED
        limits: list[tuple[Any, Any, str, int, str]] = [
            (  # codes the phone was sent: asking about a number costs its owner nothing
                MoveCode.phone == phone,
                counted & (MoveCode.state != CodeState.REFUSED),
                "phone",
                self.settings.otp_per_phone_per_hour,
                "this number",
            ),
            (MoveCode.mac == mac, counted, "device", self.settings.otp_per_device_per_hour, "this device"),
        ]
        if source:
            limits.append(
                (
                    MoveCode.source_ip == source,
                    counted,
                    "address",
                    self.settings.otp_per_device_per_hour * SOURCE_FACTOR,
                    "this network address",
                )
            )
        for subject, which, kind, limit, words in limits:
            rows = await (
                MoveCode.select(MoveCode.created_at)
                .where(subject & which & (MoveCode.created_at > since))
                .order_by(MoveCode.created_at)
                .run()
            )
            if len(rows) < limit:
                continue
            told = (
                await MoveCode.exists()
                .where(subject & (MoveCode.state == CodeState.LIMITED) & (MoveCode.created_at > since))
                .run()
            )
            await self._record(phone, mac, ip, source, CodeState.LIMITED)
            if not told:
                await self._event(
                    "move_code_flood",
                    f"{limit} move codes asked for by one {kind} within an hour "
                    f"(phone {mask_phone(phone)}, device {mac}): more are refused for now",
                    "warning",
                    source,
                    mac,
                )
            wait = max(math.ceil(float(rows[0]["created_at"]) + 3600 - self.clock()), 1)
            raise MoveError(
                f"Too many codes were asked for {words}. Try again in {_minutes(wait)}.",
                reason="rate_limited",
                field="phone" if kind == "phone" else None,
                status_code=429,
                retry_after=wait,
            )

    async def _record(self, phone: str, mac: str, ip: str, source: str | None, state: str) -> None:
        """A row without a code: a refusal that still counts (REFUSED) or marks a window (LIMITED)."""
        now = self.clock()
        async with self.db.write_lock():
            await MoveCode.insert(
                MoveCode(
                    challenge=secrets.token_urlsafe(24),
                    phone=phone,
                    mac=mac,
                    ip=ip,
                    source_ip=(source or "")[:45] or None,
                    code_hash="",
                    state=state,
                    created_at=now,
                    expires_at=now,
                )
            ).run()

    # --- using it ------------------------------------------------------------------------------

    async def move_here(self, challenge: str, code: str, request: MoveRequest) -> str:
        """Check the code typed on the device that asked for it and move the phone's live grant
        there; returns the order id the device now follows (the grant's latest paid order)."""
        mac, ip = _device(request)
        row = await MoveCode.select().where(MoveCode.challenge == challenge).first().run()
        if row is None or row["mac"] != mac:
            raise MoveError("Ask for a code on this device first.", reason="no_code", status_code=404)
        typed = _DIGITS.sub("", code or "")
        if len(typed) != CODE_DIGITS:
            raise MoveError(
                f"Enter the {CODE_DIGITS}-digit code from the SMS.", reason="malformed", field="code"
            )
        await self._usable(row)
        async with self.db.write_lock():
            counted = await MoveCode.raw(
                "UPDATE hotspot_move_code SET attempts = attempts + 1"
                " WHERE id = {} AND state = 'sent' AND attempts < {} RETURNING attempts",
                row["id"],
                self.settings.otp_attempts,
            ).run()
        if not counted:
            await self._usable(await MoveCode.select().where(MoveCode.id == row["id"]).first().run())
            raise MoveError("Ask for a new code.", reason="failed", field="code", status_code=409)
        attempts = int(counted[0]["attempts"])
        if not hmac.compare_digest(self._hash(challenge, typed), row["code_hash"]):
            left = self.settings.otp_attempts - attempts
            if left > 0:
                raise MoveError(
                    f"That code is not right. {left} {'try' if left == 1 else 'tries'} left.",
                    reason="wrong_code",
                    field="code",
                )
            async with self.db.write_lock():
                await (
                    MoveCode.update({MoveCode.state: CodeState.FAILED}).where(MoveCode.id == row["id"]).run()
                )
            await self._event(
                "move_code_guessing",
                f"{attempts} wrong codes typed for {mask_phone(row['phone'])} from device {mac}: "
                "the code no longer works",
                "warning",
                request.source_ip,
                mac,
            )
            raise MoveError(
                "Too many wrong codes. Ask for a new code.", reason="failed", field="code", status_code=409
            )
        async with self.locks.hold(f"customers:move:{row['phone']}", ttl=60, wait=30):
            return await self._move(row, request, mac, ip)

    async def _usable(self, row: dict[str, Any] | None) -> None:
        if row is None:
            raise MoveError("Ask for a code on this device first.", reason="no_code", status_code=404)
        state = row["state"]
        if state == CodeState.SENT and row["expires_at"] <= self.clock():
            async with self.db.write_lock():
                await (
                    MoveCode.update({MoveCode.state: CodeState.EXPIRED})
                    .where((MoveCode.id == row["id"]) & (MoveCode.state == CodeState.SENT))
                    .run()
                )
            state = CodeState.EXPIRED
        if state == CodeState.SENT:
            return
        message, reason = {
            CodeState.EXPIRED: (
                f"This code has expired (codes work for {self.settings.otp_ttl_minutes} minutes). "
                "Ask for a new one.",
                "expired",
            ),
            CodeState.USED: ("This code was already used.", "used"),
            CodeState.FAILED: ("Too many wrong codes. Ask for a new code.", "failed"),
            CodeState.REPLACED: ("A newer code was sent: use the latest SMS.", "replaced"),
        }.get(state, ("Ask for a new code.", "failed"))
        raise MoveError(message, reason=reason, field="code", status_code=409)

    async def _admit(self, phone: str, mac: str) -> None:
        """A blocked phone or device, or a device the phone is not bound to, moves nothing."""
        refused = await self.blocks.refusal(phone, mac)
        if refused is not None:
            raise MoveError(refused.message, reason=refused.reason, field=refused.field, status_code=403)

    async def _move(self, row: dict[str, Any], request: MoveRequest, mac: str, ip: str) -> str:
        await self._admit(row["phone"], mac)  # blocked or bound since the code was sent
        live = await self.directory.live_purchase(row["phone"])
        if live is None:
            raise MoveError(
                "The package paid from this number has ended. Buy a package for this device.",
                reason="no_package",
                status_code=409,
            )
        if live.mac != mac:
            await self._check_device(mac, live)
            try:
                await self.grants.move(live.grant_id, mac, ip)
            except GrantNotFound:
                raise MoveError(
                    "The package paid from this number has ended. Buy a package for this device.",
                    reason="no_package",
                    status_code=409,
                ) from None
        now = self.clock()
        values: dict[Any, Any] = {Order.mac: mac, Order.ip: ip}
        for column, value in (
            (Order.router, request.router),
            (Order.link_login_only, request.link_login_only),
            (Order.link_orig, request.link_orig),
        ):
            if value:
                values[column] = value
        async with self.db.transaction():
            await (
                Order.update(values).where((Order.grant_id == live.grant_id) & (Order.state == "paid")).run()
            )
            await (
                MoveCode.update(
                    {
                        MoveCode.state: CodeState.USED,
                        MoveCode.used_at: now,
                        MoveCode.grant_id: live.grant_id,
                        MoveCode.from_mac: live.mac,
                    }
                )
                .where(MoveCode.id == row["id"])
                .run()
            )
        log.info("grant #%s moved from %s to %s by a code sent to its phone", live.grant_id, live.mac, mac)
        return live.order_id

    async def _check_device(self, mac: str, live: LivePurchase) -> None:
        """A device already online on a package of its own keeps it: two packages on one device
        would run side by side, one of them wasted."""
        if await self.directory.device_has_live_grant(mac, other_than=live.grant_id):
            raise MoveError(
                "This device is already online with its own package.", reason="device_busy", status_code=409
            )

    async def _event(self, kind: str, detail: str, severity: Severity, ip: str | None, mac: str) -> None:
        if self.emit is None:
            return
        event = SecurityEvent(
            kind=kind,
            detail=detail[:300],
            severity=severity,
            at=datetime.fromtimestamp(self.clock(), UTC),
            ip=ip,
            subject=mac,
        )
        try:
            await self.emit("security_event", event=event)
        except Exception:  # the notifier's trouble must never decide a move
            log.exception("could not announce security event %s", kind)


def _phone(raw: str) -> str:
    if not (raw or "").strip():
        raise MoveError(
            "Enter the phone number that paid, e.g. 0712 345 678", reason="invalid_input", field="phone"
        )
    try:
        return normalize_phone(raw)
    except InvalidPhone as exc:
        raise MoveError(str(exc), reason="invalid_input", field="phone") from None


def _device(request: MoveRequest) -> tuple[str, str]:
    if not request.mac or not request.ip:
        raise MoveError(
            "This page doesn't know which device you're on. Open it from the WiFi login page "
            "(it opens by itself when you join the WiFi) and try again.",
            reason="no_device",
        )
    return request.mac, request.ip


def _minutes(seconds: int) -> str:
    minutes = max(-(-seconds // 60), 1)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
