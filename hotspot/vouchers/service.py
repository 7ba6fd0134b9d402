"""Vouchers: print codes for a package, redeem them on devices, follow each one to its end.

Decisions:

* A redeem answers `OrderStatus`, the portal's order shape, because every redeeming device
  gets an order row of its own (`hotspot_order`, id "v...", state "voucher", no payment, its
  grant set at once; amount is the printed price, for display: revenue counts paid orders).
  So the portal's order page, its live updates (grant changes publish on `order:<id>`), the
  returning-device greeting (`Checkout.for_device`) and the router login hand-off all work for
  vouchers unchanged. All devices on one code share the voucher's one grant.
* A voucher only one device may ever use (MAC binding, or a total of one device) gets a grant
  bound to that MAC: the router enforces it, and the grant's own job logs the device in. A
  shared voucher's grant is not bound; the box logs each device in under it
  (`RouterDriver.login`) and the router's shared-users (= `grant.devices`) is the limit at once.
  A device logged in while the grant is not on a router yet waits for it (`grant_changed`,
  with a durable job as the fallback). When the router refuses a login for another reason, the
  device's order loses its IP, which makes `OrderStatus.login` hand the browser the router's
  own login page with the grant's credentials.
* States follow the grant: `grant_changed` (GrantService.on_change) moves them as soon as a
  grant changes, a recurring sweep catches anything missed (expiry of unused codes, a lost
  hook), and every read settles the row first, so the answer is right either way.
* The PIN is stored as an HMAC keyed by the box's secret key: a 6-digit PIN would fall to
  any offline search if it were only salted, so a database dump alone must not be enough.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from litestar.stores.base import Store

from hotspot.access.grants import GrantRequest, GrantService
from hotspot.access.tables import GrantState, Session
from hotspot.addresses import normalize_mac, parse_ip
from hotspot.billing import Catalog, PackageView
from hotspot.contracts import Money
from hotspot.db import Database
from hotspot.errors import RouterRefused, RouterUnreachable
from hotspot.jobs import JobContext, JobFailed, Jobs
from hotspot.locks import Locks
from hotspot.payments.checkout import Checkout, CheckoutError, OrderStatus
from hotspot.payments.service import new_id
from hotspot.payments.tables import Order
from hotspot.routers.pool import NoRouterAvailable, RouterPool
from hotspot.vouchers.codes import (
    DEFAULT_LENGTH,
    MAX_LENGTH,
    MIN_LENGTH,
    check_prefix,
    display_code,
    has_only_code_symbols,
    new_codes,
    new_pin,
    normalise_code,
)
from hotspot.vouchers.guard import GuardLimits, RedeemGuard, Who
from hotspot.vouchers.states import check_transition
from hotspot.vouchers.tables import Voucher, VoucherAttempt, VoucherBatch, VoucherDevice, VoucherState

__all__ = [
    "LOGIN",
    "MAX_BATCH",
    "SWEEP",
    "Batch",
    "BatchSpec",
    "GeneratedBatch",
    "IssuedVoucher",
    "RedeemRequest",
    "VoucherError",
    "VoucherHistory",
    "VoucherView",
    "Vouchers",
    "expiry_timestamp",
]

log = logging.getLogger("hotspot.vouchers")
LOGIN, SWEEP = "vouchers.login", "vouchers.sweep"
MAX_BATCH = 100_000
MAX_DEVICES = 100
CHUNK = 1000  # rows per INSERT: 7 values each stays far under SQLite's 32,766 bound parameters
LOGIN_FALLBACK_SECONDS = 30.0  # the durable retry, should the grant's change never be heard


class VoucherError(CheckoutError):
    """A voucher request refused: `reason` is machine-readable, `field` names the input to blame.

    A CheckoutError, so the portal renders it like a purchase it cannot make; `retry_after`
    (seconds) is set when the caller is locked out or over a rate limit (HTTP 429)."""


# --- what goes in and comes out -----------------------------------------------------------------


@dataclass(frozen=True)
class BatchSpec:
    """What to print: which package, how many, and the rules every code of the batch follows."""

    package: str  # the package's name
    count: int
    prefix: str = ""
    length: int = DEFAULT_LENGTH
    expires_at: float | None = None  # unused codes stop working then (UNIX time)
    devices: int | None = None  # at once; default: the package's
    devices_total: int | None = None  # distinct devices over the voucher's life; None: no limit
    bind_mac: bool = False
    pin: bool = False
    currency: str | None = None  # the price printed; default: the business currency
    created_by: str = ""
    note: str = ""


@dataclass(frozen=True)
class Batch:
    """A batch as printed and listed."""

    id: int
    package_id: int
    package: str
    seconds: int
    bytes_total: int | None
    down_bps: int | None
    up_bps: int | None
    price: Money
    count: int
    prefix: str
    code_length: int
    expires_at: float | None
    devices_at_once: int
    devices_total: int | None
    bind_mac: bool
    pin: bool
    created_by: str
    created_at: float
    note: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Batch:
        terms = _terms(row["terms"])
        return cls(
            id=int(row["id"]),
            package_id=int(row["package_id"]),
            package=row["package_name"],
            seconds=int(terms.get("seconds") or 0),
            bytes_total=terms.get("bytes_total"),
            down_bps=terms.get("down_bps"),
            up_bps=terms.get("up_bps"),
            price=Money(int(row["amount"]), row["currency"]),
            count=int(row["quantity"]),
            prefix=row["prefix"] or "",
            code_length=int(row["code_length"]),
            expires_at=row["expires_at"],
            devices_at_once=int(row["devices_at_once"]),
            devices_total=row["devices_total"],
            bind_mac=bool(row["bind_mac"]),
            pin=bool(row["pin"]),
            created_by=row["created_by"] or "",
            created_at=float(row["created_at"]),
            note=row["note"] or "",
        )

    def display(self, code: str) -> str:
        return display_code(code, len(self.prefix))


@dataclass(frozen=True)
class IssuedVoucher:
    """A code as generated; the PIN exists in clear only here, before it is hashed."""

    code: str
    pin: str | None = None


@dataclass(frozen=True)
class GeneratedBatch:
    batch: Batch
    vouchers: list[IssuedVoucher]


@dataclass(frozen=True)
class VoucherView:
    """One voucher as the admin (and the CLI) sees it."""

    id: int
    code: str
    display: str
    batch_id: int
    state: str
    package: str
    price: Money
    expires_at: float | None
    first_used_at: float | None
    bound_mac: str | None
    grant_id: int | None
    devices_used: int
    devices_at_once: int
    devices_total: int | None
    ended_at: float | None
    end_reason: str | None


@dataclass(frozen=True)
class VoucherHistory:
    """Everything that happened to a voucher: its devices, their sessions, usage, every attempt."""

    voucher: VoucherView
    devices: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    bytes_in: int
    bytes_out: int
    seconds_online: int
    attempts: list[dict[str, Any]]


@dataclass(frozen=True)
class RedeemRequest:
    """A code typed or scanned on a device, with where the device is (from the router's redirect)."""

    code: str
    pin: str | None = None
    mac: str | None = None
    ip: str | None = None
    router: str | None = None
    link_login_only: str | None = None
    link_orig: str | None = None
    source_ip: str | None = None  # the address the request came from (rate limits)


@dataclass
class _Device:
    """What a redeem decided about the device, written once the voucher's row is settled."""

    needs_login: bool = False
    login_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- the service ------------------------------------------------------------------------------


class Vouchers:
    """Generate, redeem, revoke and report on vouchers."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        grants: GrantService,
        checkout: Checkout,
        jobs: Jobs,
        pool: RouterPool,
        *,
        store: Store,
        locks: Locks,
        pin_secret: str,
        currency: str,
        limits: GuardLimits | None = None,
        emit: Callable[..., Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.grants = grants
        self.checkout = checkout
        self.jobs = jobs
        self.pool = pool
        self.locks = locks
        self.currency = currency
        self.emit = emit
        self.clock = clock
        self._pin_key = hashlib.sha256(f"hotspot:voucher-pin:{pin_secret}".encode()).digest()
        self.guard = RedeemGuard(store, locks, limits=limits, clock=lambda: self.clock(), emit=self._emit)

    async def _emit(self, hook: str, **kwargs: Any) -> Any:
        if self.emit is not None:
            return await self.emit(hook, **kwargs)
        return None

    def register_jobs(self) -> None:
        self.jobs.register(LOGIN, self._login_job, max_attempts=8)
        self.jobs.register(SWEEP, self._sweep_job, every=300.0)

    def _pin_hash(self, code: str, pin: str) -> str:
        return hmac.new(self._pin_key, f"{code}:{pin}".encode(), hashlib.sha256).hexdigest()

    # --- generating ----------------------------------------------------------------------------

    async def generate(self, spec: BatchSpec) -> GeneratedBatch:
        """Create a batch of codes for a package; returns it with every code (and PIN, once)."""
        package = await self._package(spec.package)
        currency = (spec.currency or self.currency).strip().upper()
        if currency not in package.prices:
            sold = ", ".join(sorted(package.prices)) or "no currency"
            raise VoucherError(
                f"{package.name} has no price in {currency} (it is priced in {sold})",
                reason="invalid_input",
                field="currency",
            )
        price = package.prices[currency]
        if not 1 <= spec.count <= MAX_BATCH:
            raise VoucherError(f"Count must be 1-{MAX_BATCH:,}", reason="invalid_input", field="count")
        if not MIN_LENGTH <= spec.length <= MAX_LENGTH:
            raise VoucherError(
                f"Code length must be {MIN_LENGTH}-{MAX_LENGTH} (shorter codes can be guessed)",
                reason="invalid_input",
                field="length",
            )
        try:
            prefix = check_prefix(spec.prefix)
        except ValueError as exc:
            raise VoucherError(f"The prefix {exc}", reason="invalid_input", field="prefix") from None
        at_once = package.devices if spec.devices is None else spec.devices
        if not 1 <= at_once <= MAX_DEVICES:
            raise VoucherError(
                f"Devices at once must be 1-{MAX_DEVICES}", reason="invalid_input", field="devices"
            )
        total = spec.devices_total
        if total is not None and not at_once <= total <= 10_000:
            raise VoucherError(
                f"Devices in total must be at least the devices at once ({at_once}) and at most 10,000",
                reason="invalid_input",
                field="devices_total",
            )
        if spec.bind_mac and (at_once > 1 or (total or 1) > 1):
            raise VoucherError(
                "A voucher bound to its first device serves that one device only: "
                "leave devices (at once and in total) at 1",
                reason="invalid_input",
                field="bind_mac",
            )
        now = self.clock()
        if spec.expires_at is not None and spec.expires_at <= now:
            raise VoucherError("The expiry date is already past", reason="invalid_input", field="expires")
        terms = {
            "seconds": package.seconds,
            "bytes_total": package.bytes_total,
            "down_bps": package.down_bps,
            "up_bps": package.up_bps,
            "devices": at_once,
        }
        codes = new_codes(spec.count, length=spec.length, prefix=prefix)
        pins = [new_pin() for _ in codes] if spec.pin else [None] * len(codes)
        async with self.db.transaction():
            [row] = (
                await VoucherBatch.insert(
                    VoucherBatch(
                        package_id=package.id,
                        package_name=package.name,
                        terms=json.dumps(terms),
                        amount=price.amount,
                        currency=price.currency,
                        quantity=spec.count,
                        prefix=prefix,
                        code_length=spec.length,
                        expires_at=spec.expires_at,
                        devices_at_once=at_once,
                        devices_total=total,
                        bind_mac=spec.bind_mac,
                        pin=spec.pin,
                        created_by=spec.created_by[:64],
                        created_at=now,
                        note=spec.note[:300],
                    )
                )
                .returning(VoucherBatch.id)
                .run()
            )
            batch_id = int(row["id"])
            codes = await self._insert_codes(batch_id, codes, pins, spec, prefix, now)
        batch = await self.batch(batch_id)
        log.info("voucher batch #%s: %s x %s", batch_id, spec.count, package.name)
        return GeneratedBatch(batch, [IssuedVoucher(c, p) for c, p in zip(codes, pins, strict=True)])

    async def _package(self, name: str) -> PackageView:
        packages = await self.catalog.all()
        wanted = name.strip()
        found = next((p for p in packages if p.name == wanted), None) or next(
            (p for p in packages if p.name.casefold() == wanted.casefold()), None
        )
        if found is None:
            names = ", ".join(repr(p.name) for p in packages) or "none yet"
            raise VoucherError(
                f"No package called {wanted!r} (packages: {names})", reason="invalid_input", field="package"
            )
        return found

    async def _insert_codes(
        self,
        batch_id: int,
        codes: list[str],
        pins: Sequence[str | None],
        spec: BatchSpec,
        prefix: str,
        now: float,
    ) -> list[str]:
        """Insert the codes in bulk; a code someone else already holds is drawn again."""
        codes = list(codes)
        todo = list(range(len(codes)))
        for _ in range(5):
            stored: set[str] = set()
            for start in range(0, len(todo), CHUNK):
                chunk = todo[start : start + CHUNK]
                values: list[Any] = []
                for i in chunk:
                    pin = pins[i]
                    pin_hash = self._pin_hash(codes[i], pin) if pin is not None else None
                    values.extend((batch_id, codes[i], pin_hash, spec.expires_at, now))
                rows = await Voucher.raw(
                    "INSERT INTO hotspot_voucher (batch_id, code, pin_hash, state, expires_at, devices_used,"  # noqa: S608
                    " created_at) VALUES "
                    + ", ".join("({}, {}, {}, 'unused', {}, 0, {})" for _ in chunk)
                    + " ON CONFLICT (code) DO NOTHING RETURNING code",
                    *values,
                ).run()
                stored.update(r["code"] for r in rows)
            todo = [i for i in todo if codes[i] not in stored]
            if not todo:
                return codes
            fresh = new_codes(len(todo), length=spec.length, prefix=prefix, avoid=codes)
            for i, code in zip(todo, fresh, strict=True):
                codes[i] = code
        raise VoucherError(
            "Could not draw enough unused codes: use a longer code length or another prefix",
            reason="invalid_input",
            field="length",
        )

    # --- reading -------------------------------------------------------------------------------

    async def batch(self, batch_id: int) -> Batch:
        row = await VoucherBatch.select().where(VoucherBatch.id == batch_id).first().run()
        if row is None:
            raise VoucherError(f"No voucher batch #{batch_id}", reason="not_found", status_code=404)
        return Batch.from_row(dict(row))

    async def batches(self, limit: int = 100, *, before_id: int | None = None) -> list[Batch]:
        """Newest first; `before_id` gives the next keyset page (batches older than that one)."""
        query = VoucherBatch.select()
        if before_id is not None:
            query = query.where(VoucherBatch.id < before_id)
        rows = await query.order_by(VoucherBatch.id, ascending=False).limit(limit).run()
        return [Batch.from_row(dict(r)) for r in rows]

    async def state_counts(self, batch_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """How many vouchers of each batch are in each state (after settling expiries)."""
        if not batch_ids:
            return {}
        await self.sweep(batch_ids)
        marks = ", ".join("{}" for _ in batch_ids)
        rows = await Voucher.raw(
            "SELECT batch_id, state, COUNT(*) AS n FROM hotspot_voucher"  # noqa: S608
            f" WHERE batch_id IN ({marks}) GROUP BY batch_id, state",
            *batch_ids,
        ).run()
        counts: dict[int, dict[str, int]] = {int(i): dict.fromkeys(VoucherState.ALL, 0) for i in batch_ids}
        for row in rows:
            counts[int(row["batch_id"])][row["state"]] = int(row["n"])
        return counts

    async def batch_vouchers(
        self,
        batch_id: int,
        *,
        state: str | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[VoucherView]:
        """A batch's vouchers in the order they were generated (settled states): all of them, or
        one keyset page (`after_id`, `limit`), optionally only those in one `state`."""
        batch = await self.batch(batch_id)
        await self.sweep([batch_id])
        query = Voucher.select().where(Voucher.batch_id == batch_id)
        if state is not None:
            query = query.where(Voucher.state == state)
        if after_id is not None:
            query = query.where(Voucher.id > after_id)
        query = query.order_by(Voucher.id)
        if limit is not None:
            query = query.limit(limit)
        return [self._view(dict(r), batch) for r in await query.run()]

    async def get(self, code: str) -> VoucherView:
        """One voucher by its code (as typed: separators and case do not matter)."""
        row = await self._row(code)
        await self._settle(row)
        return self._view(row, await self.batch(int(row["batch_id"])))

    async def _row(self, code: str) -> dict[str, Any]:
        normal = normalise_code(code)
        row = await Voucher.select().where(Voucher.code == normal).first().run() if normal else None
        if row is None:
            raise VoucherError(f"No voucher {code!r}", reason="not_found", field="code", status_code=404)
        return dict(row)

    def _view(self, row: dict[str, Any], batch: Batch) -> VoucherView:
        return VoucherView(
            id=int(row["id"]),
            code=row["code"],
            display=batch.display(row["code"]),
            batch_id=batch.id,
            state=row["state"],
            package=batch.package,
            price=batch.price,
            expires_at=row["expires_at"],
            first_used_at=row["first_used_at"],
            bound_mac=row["bound_mac"],
            grant_id=row["grant_id"],
            devices_used=int(row["devices_used"]),
            devices_at_once=batch.devices_at_once,
            devices_total=batch.devices_total,
            ended_at=row["ended_at"],
            end_reason=row["end_reason"],
        )

    async def history(self, code: str) -> VoucherHistory:
        """A voucher's devices, its sessions with usage (bytes in/out, time online) and its attempts."""
        voucher = await self.get(code)
        devices = (
            await VoucherDevice.select(
                VoucherDevice.mac,
                VoucherDevice.ip,
                VoucherDevice.order_id,
                VoucherDevice.first_seen_at,
                VoucherDevice.last_seen_at,
                VoucherDevice.login_error,
            )
            .where(VoucherDevice.voucher == voucher.id)
            .order_by(VoucherDevice.id)
            .run()
        )
        sessions: list[dict[str, Any]] = []
        bytes_in = bytes_out = seconds = 0
        if voucher.grant_id is not None:
            sessions = [
                dict(r)
                for r in await Session.select(
                    Session.mac,
                    Session.ip,
                    Session.router,
                    Session.started_at,
                    Session.last_seen_at,
                    Session.ended_at,
                    Session.uptime_seconds,
                    Session.bytes_in,
                    Session.bytes_out,
                )
                .where(Session.grant == voucher.grant_id)
                .order_by(Session.started_at)
                .run()
            ]
            # The grant's totals include sessions that ended between two syncs (router counters).
            grant = await self.grants.get(voucher.grant_id)
            bytes_in, bytes_out = int(grant["bytes_in"]), int(grant["bytes_out"])
            seconds = int(grant["uptime_seconds"])
        attempts = (
            await VoucherAttempt.select(
                VoucherAttempt.at,
                VoucherAttempt.outcome,
                VoucherAttempt.reason,
                VoucherAttempt.mac,
                VoucherAttempt.ip,
                VoucherAttempt.source_ip,
                VoucherAttempt.router,
            )
            .where(VoucherAttempt.voucher == voucher.id)
            .order_by(VoucherAttempt.id)
            .run()
        )
        return VoucherHistory(
            voucher=voucher,
            devices=[dict(d) for d in devices],
            sessions=sessions,
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            seconds_online=seconds,
            attempts=[dict(a) for a in attempts],
        )

    # --- states --------------------------------------------------------------------------------

    async def _move(self, row: dict[str, Any], target: str, reason: str | None = None) -> bool:
        """One transition, applied only if the voucher is still where `row` says; updates `row`."""
        current = row["state"]
        check_transition(current, target)
        now = self.clock()
        values: dict[Any, Any] = {Voucher.state: target}
        if target == VoucherState.ACTIVE:
            values.update({Voucher.ended_at: None, Voucher.end_reason: None})
        else:
            values.update({Voucher.ended_at: now, Voucher.end_reason: (reason or target)[:32]})
        async with self.db.write_lock():
            moved = (
                await Voucher.update(values)
                .where((Voucher.id == row["id"]) & (Voucher.state == current))
                .returning(Voucher.id)
                .run()
            )
        if moved:
            row["state"] = target
            row["ended_at"] = values.get(Voucher.ended_at)
            row["end_reason"] = values.get(Voucher.end_reason)
            log.info("voucher #%s: %s -> %s (%s)", row["id"], current, target, reason or "-")
            return True
        fresh = await Voucher.select().where(Voucher.id == row["id"]).first().run()
        if fresh is not None:
            row.update(dict(fresh))
        return False

    async def _settle(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """Bring the row's state up to date with the clock and its grant; returns the grant."""
        now = self.clock()
        state = row["state"]
        if state == VoucherState.UNUSED and row["expires_at"] is not None and row["expires_at"] <= now:
            await self._move(row, VoucherState.EXPIRED, "expiry")
            return None
        if row["grant_id"] is None or state not in (VoucherState.ACTIVE, VoucherState.EXHAUSTED):
            return None
        grant = await self.grants.get(int(row["grant_id"]), with_password=True)
        if grant["state"] == GrantState.REVOKED:
            await self._move(row, VoucherState.REVOKED, grant["end_reason"] or "grant revoked")
        elif _used_up(grant, now) is not None:
            if state == VoucherState.ACTIVE:
                await self._move(row, VoucherState.EXHAUSTED, _used_up(grant, now))
        elif state == VoucherState.EXHAUSTED:  # topped up since: it lives again
            await self._move(row, VoucherState.ACTIVE)
        return grant

    async def grant_changed(self, grant_id: int) -> None:
        """Follow a voucher's grant (GrantService.on_change): state, and devices waiting to log in."""
        found = await Voucher.select().where(Voucher.grant_id == grant_id).first().run()
        if found is None:
            return
        row = dict(found)
        grant = await self._settle(row)
        if grant is None or row["state"] != VoucherState.ACTIVE:
            return
        if grant["state"] == GrantState.ACTIVE and grant["applied_version"] > 0 and grant["router"]:
            waiting = (
                await VoucherDevice.select(VoucherDevice.id)
                .where((VoucherDevice.voucher == row["id"]) & VoucherDevice.needs_login.eq(True))
                .run()
            )
            for device in waiting:
                await self.jobs.enqueue(
                    LOGIN,
                    {"device": int(device["id"])},
                    key=f"{LOGIN}:{device['id']}:v{grant['applied_version']}",
                    urgent=True,
                )

    async def sweep(self, batch_ids: Sequence[int] | None = None) -> None:
        """Settle vouchers in a few statements: expiry, and grants that ended, were revoked or
        were topped up (in case a grant change was not heard, e.g. in another process).

        The job settles the whole table; a page view passes its `batch_ids` and settles only
        those batches, writing (and so taking SQLite's write lock) only when one of their rows
        is due. Each statement starts from the voucher's indexed state (never from the
        ever-growing set of ended grants) and reads each voucher's grant by its primary key."""
        if batch_ids is not None and not batch_ids:
            return
        steps = _settling(self.clock(), batch_ids)
        if batch_ids is not None:
            due = " OR ".join(f"({where})" for _, _, where, _ in steps)
            found = await Voucher.raw(
                f"SELECT id FROM hotspot_voucher WHERE {due} LIMIT 1",  # noqa: S608
                *[arg for _, _, _, where_args in steps for arg in where_args],
            ).run()
            if not found:
                return
        async with self.db.write_lock():
            for assign, assign_args, where, where_args in steps:
                await Voucher.raw(
                    f"UPDATE hotspot_voucher SET {assign} WHERE {where}",  # noqa: S608
                    *assign_args,
                    *where_args,
                ).run()

    async def _sweep_job(self, ctx: JobContext) -> None:
        await self.sweep()

    # --- revoking ------------------------------------------------------------------------------

    async def revoke(self, code: str, reason: str = "revoked") -> VoucherView:
        """Cancel a voucher: it never works again, and its devices are disconnected (durably)."""
        row = await self._revoke_row(await self._row(code), reason)
        return self._view(row, await self.batch(int(row["batch_id"])))

    async def _revoke_row(self, row: dict[str, Any], reason: str) -> dict[str, Any]:
        """Revoke one voucher under its lock, from its state read inside the lock."""
        async with self.locks.hold(f"voucher:{row['id']}", ttl=60, wait=30):
            fresh = await Voucher.select().where(Voucher.id == row["id"]).first().run()
            row = dict(fresh) if fresh is not None else row
            await self._settle(row)
            if row["state"] != VoucherState.REVOKED:
                await self._move(row, VoucherState.REVOKED, reason)
            if row["grant_id"] is not None:
                grant = await self.grants.get(int(row["grant_id"]))
                if grant["state"] in GrantState.LIVE:
                    await self.grants.revoke(int(row["grant_id"]), "voucher revoked")
        return row

    async def revoke_batch(
        self,
        batch_id: int,
        *,
        unused_only: bool = False,
        audit: Callable[[int], Awaitable[None]] | None = None,
    ) -> int:
        """Cancel every voucher of a batch that is not cancelled yet (or only the unused ones, so
        customers already online keep what they have); returns how many.

        The unused codes (they have no grant) go in one conditional UPDATE, so a code redeemed a
        moment before keeps its state; the others are revoked one by one under their lock.
        `audit` gets how many are to be revoked, in the transaction of that UPDATE."""
        await self.batch(batch_id)
        await self.sweep([batch_id])  # a code past its date is expired first, not revoked as unused
        now = self.clock()
        async with self.db.transaction():
            unused = await Voucher.raw(
                "UPDATE hotspot_voucher SET state = 'revoked', ended_at = {}, end_reason = 'revoked'"
                " WHERE batch_id = {} AND state = 'unused' RETURNING id",
                now,
                batch_id,
            ).run()
            others: list[dict[str, Any]] = []
            if not unused_only:
                others = list(
                    await Voucher.select()
                    .where((Voucher.batch_id == batch_id) & (Voucher.state != VoucherState.REVOKED))
                    .order_by(Voucher.id)
                    .run()
                )
            if audit is not None:
                await audit(len(unused) + len(others))
        if unused:
            log.info("voucher batch #%s: %s unused code(s) revoked", batch_id, len(unused))
        revoked = len(unused)
        for row in others:  # redeemed ones: their grants are revoked too, each under its lock
            if (await self._revoke_row(dict(row), "revoked"))["state"] == VoucherState.REVOKED:
                revoked += 1
        return revoked

    # --- redeeming -----------------------------------------------------------------------------

    async def redeem(self, request: RedeemRequest) -> OrderStatus:
        """Put the device online on a voucher; answers the portal's order status for this device.

        Raises VoucherError (with `reason`, and `field` when an input is to blame) when refused."""
        code = normalise_code(request.code or "")
        mac = normalize_mac(request.mac)
        ip = parse_ip(request.ip)
        who = Who(mac, ip, (request.source_ip or "").strip() or None)
        refusal = await self.guard.admit(who)
        if refusal is not None:
            await self._attempt(code, None, "refused", refusal.reason, who, request.router)
            wait = _wait_words(refusal.retry_after)
            if refusal.reason == "locked_out":
                message = f"Too many wrong codes from this device. Try again in {wait}."
            elif refusal.kind == "everyone":
                message = f"Too many vouchers are being tried right now. Try again in {wait}."
            else:
                message = f"Too many tries from this device. Try again in {wait}."
            raise VoucherError(
                message, reason=refusal.reason, status_code=429, retry_after=refusal.retry_after
            )
        try:
            self._check_input(request, code, mac, ip)
            try:  # a device the owner blocked may not redeem: the same gate as a purchase
                await self.checkout.admit(None, mac)
            except VoucherError:
                raise
            except CheckoutError as exc:
                raise VoucherError(
                    exc.message, reason=exc.reason or "refused", status_code=exc.status_code
                ) from None
        except VoucherError as exc:
            await self._attempt(code, None, "refused", exc.reason or "refused", who, request.router)
            raise
        found = await Voucher.select().where(Voucher.code == code).first().run()
        if found is None:
            await self._attempt(code, None, "refused", "unknown_code", who, request.router)
            await self.guard.failed(who)
            raise VoucherError(
                "That voucher code is not valid. Check it and try again.", reason="unknown_code", field="code"
            )
        row = dict(found)
        batch = await self.batch(int(row["batch_id"]))
        if batch.pin:
            pin = (request.pin or "").strip()
            if not pin:
                await self._attempt(code, row["id"], "refused", "pin_required", who, request.router)
                raise VoucherError(
                    "This voucher has a PIN: enter it too.", reason="pin_required", field="pin"
                )
            if not hmac.compare_digest(self._pin_hash(code, pin), row["pin_hash"] or ""):
                await self._attempt(code, row["id"], "refused", "wrong_pin", who, request.router)
                await self.guard.failed(who)
                raise VoucherError("The PIN does not match this voucher.", reason="wrong_pin", field="pin")
        assert mac is not None and ip is not None  # _check_input
        try:
            async with self.locks.hold(f"voucher:{row['id']}", ttl=60, wait=30):
                fresh = await Voucher.select().where(Voucher.id == row["id"]).first().run()
                row = dict(fresh) if fresh is not None else row  # another redeem may have just used it
                order_id = await self._redeem_locked(row, batch, request, mac, ip)
        except VoucherError as exc:
            await self._attempt(code, row["id"], "refused", exc.reason or "refused", who, request.router)
            raise
        await self._attempt(code, row["id"], "accepted", "", who, request.router)
        return await self.checkout.status(order_id)

    @staticmethod
    def _check_input(request: RedeemRequest, code: str, mac: str | None, ip: str | None) -> None:
        if not code:
            raise VoucherError("Enter the voucher code.", reason="invalid_input", field="code")
        if len(code) > 32 or not has_only_code_symbols(code):
            raise VoucherError(
                "Voucher codes use only letters and the digits 2-9 (never 0, O, 1, I or L). "
                "Check the code and try again.",
                reason="malformed_code",
                field="code",
            )
        if mac is None:
            raise VoucherError(
                "Not a MAC address (e.g. 01:23:45:67:89:AB).", reason="invalid_input", field="mac"
            )
        if ip is None:
            raise VoucherError("Not an IP address (e.g. 10.5.50.23).", reason="invalid_input", field="ip")
        if request.pin is not None and len(request.pin) > 16:
            raise VoucherError("The PIN is too long.", reason="invalid_input", field="pin")

    async def _redeem_locked(
        self, row: dict[str, Any], batch: Batch, request: RedeemRequest, mac: str, ip: str
    ) -> str:
        grant = await self._settle(row)
        state = row["state"]
        if state == VoucherState.REVOKED:
            raise VoucherError(
                "This voucher has been cancelled. Please ask at the counter.",
                reason="revoked",
                field="code",
                status_code=409,
            )
        if state == VoucherState.EXPIRED:
            raise VoucherError(
                "This voucher expired before it was used.", reason="expired", field="code", status_code=409
            )
        if state == VoucherState.EXHAUSTED:
            raise VoucherError(
                "This voucher has been used up.", reason="exhausted", field="code", status_code=409
            )
        devices = [
            dict(d) for d in await VoucherDevice.select().where(VoucherDevice.voucher == row["id"]).run()
        ]
        mine = next((d for d in devices if d["mac"] == mac), None)
        if mine is None:
            if batch.bind_mac and (devices or row["bound_mac"]):
                raise VoucherError(
                    "This voucher is locked to the device that first used it. "
                    "Use that device, or buy a package for this one.",
                    reason="bound_to_other_device",
                    field="code",
                    status_code=403,
                )
            if batch.devices_total is not None and len(devices) >= batch.devices_total:
                raise VoucherError(
                    f"This voucher has already been used on {len(devices)} "
                    f"device{'s' if len(devices) != 1 else ''}, its limit.",
                    reason="devices_total_reached",
                    field="code",
                    status_code=409,
                )
        if state == VoucherState.UNUSED:
            return await self._first_use(row, batch, request, mac, ip)
        assert grant is not None, f"active voucher #{row['id']} has no grant"
        decided = await self._log_in(grant, mac, ip)
        return await self._record_device(row, batch, request, mac, ip, mine, decided)

    async def _first_use(
        self, row: dict[str, Any], batch: Batch, request: RedeemRequest, mac: str, ip: str
    ) -> str:
        """The first redeem: the grant, the voucher's move to active, the device and its order, at once."""
        single = batch.bind_mac or batch.devices_total == 1
        now = self.clock()
        async with self.db.transaction():
            grant_id = await self.grants.request(
                GrantRequest(
                    profile=batch.package,
                    seconds=batch.seconds,
                    bytes_total=batch.bytes_total,
                    down_bps=batch.down_bps,
                    up_bps=batch.up_bps,
                    devices=batch.devices_at_once,
                    mac=mac if single else None,  # bound on the router, which logs it in too
                    ip=ip if single else None,
                    router_hint=(request.router or "").strip() or None,
                    source="voucher",
                    source_ref=str(row["id"]),
                )
            )
            won = await Voucher.raw(
                "UPDATE hotspot_voucher SET state = 'active', first_used_at = {}, grant_id = {},"
                " bound_mac = {} WHERE id = {} AND state = 'unused' RETURNING id",
                now,
                grant_id,
                mac if batch.bind_mac else None,
                row["id"],
            ).run()
            if not won:  # rolls the grant back too
                raise VoucherError(
                    "This voucher was just used. Try again.", reason="busy", field="code", status_code=409
                )
            row.update(state=VoucherState.ACTIVE, grant_id=grant_id, first_used_at=now)
            order_id = await self._record_device(
                row, batch, request, mac, ip, None, _Device(needs_login=not single)
            )
        log.info("voucher #%s redeemed on %s: grant #%s", row["id"], mac, grant_id)
        return order_id

    async def _log_in(self, grant: dict[str, Any], mac: str, ip: str) -> _Device:
        """Log a device in under a live grant now, or say it has to wait for the grant."""
        if grant["state"] != GrantState.ACTIVE or not grant["applied_version"] or not grant["router"]:
            return _Device(needs_login=True)
        try:
            router = self.pool.get(grant["router"])
            await router.driver.login(router.target, grant["username"], grant["password"], mac, ip)
        except (RouterUnreachable, NoRouterAvailable) as exc:
            log.warning("voucher grant #%s: %s; the device's login is retried", grant["id"], exc)
            return _Device(needs_login=True)
        except RouterRefused as exc:
            refusal = _refusal(str(exc), grant)
            if refusal is not None:
                raise refusal from None
            return _Device(login_error=f"device login refused: {exc}"[:300])
        return _Device()

    async def _record_device(
        self,
        row: dict[str, Any],
        batch: Batch,
        request: RedeemRequest,
        mac: str,
        ip: str,
        mine: dict[str, Any] | None,
        decided: _Device,
    ) -> str:
        """The device's row and its order (new, or the one it had), in one transaction."""
        now = self.clock()
        router = (request.router or "").strip() or None
        order_ip = None if decided.login_error else ip  # no IP: the portal offers the router's login page
        async with self.db.transaction():
            order_id = mine["order_id"] if mine is not None else None
            if order_id is not None:
                values: dict[Any, Any] = {Order.ip: order_ip, Order.grant_id: row["grant_id"]}
                if router:
                    values[Order.router] = router
                if request.link_login_only:
                    values[Order.link_login_only] = request.link_login_only[:300]
                if request.link_orig:
                    values[Order.link_orig] = request.link_orig[:500]
                await Order.update(values).where(Order.id == order_id).run()
            else:
                order_id = new_id("v")
                await Order.insert(
                    Order(
                        id=order_id,
                        package_id=batch.package_id,
                        package_name=batch.package,
                        terms=json.dumps(
                            {
                                "seconds": batch.seconds,
                                "bytes_total": batch.bytes_total,
                                "down_bps": batch.down_bps,
                                "up_bps": batch.up_bps,
                                "devices": batch.devices_at_once,
                            }
                        ),
                        amount=batch.price.amount,
                        currency=batch.price.currency,
                        phone=None,
                        mac=mac,
                        ip=order_ip,
                        router=router,
                        link_login_only=(request.link_login_only or "")[:300] or None,
                        link_orig=(request.link_orig or "")[:500] or None,
                        state="voucher",
                        grant_id=row["grant_id"],
                        created_at=now,
                        paid_at=now,
                    )
                ).run()
            if mine is not None:
                device_id = int(mine["id"])
                await (
                    VoucherDevice.update(
                        {
                            VoucherDevice.ip: ip,
                            VoucherDevice.order_id: order_id,
                            VoucherDevice.last_seen_at: now,
                            VoucherDevice.needs_login: decided.needs_login,
                            VoucherDevice.login_error: decided.login_error,
                        }
                    )
                    .where(VoucherDevice.id == device_id)
                    .run()
                )
            else:
                [inserted] = (
                    await VoucherDevice.insert(
                        VoucherDevice(
                            voucher=row["id"],
                            key=f"{row['id']}:{mac}",
                            mac=mac,
                            ip=ip,
                            order_id=order_id,
                            first_seen_at=now,
                            last_seen_at=now,
                            needs_login=decided.needs_login,
                            login_error=decided.login_error,
                        )
                    )
                    .returning(VoucherDevice.id)
                    .run()
                )
                device_id = int(inserted["id"])
                await Voucher.raw(
                    "UPDATE hotspot_voucher SET devices_used = devices_used + 1 WHERE id = {}", row["id"]
                ).run()
            if decided.needs_login:  # the durable fallback; grant_changed normally comes first
                await self.jobs.enqueue(
                    LOGIN,
                    {"device": device_id},
                    key=f"{LOGIN}:{device_id}:{now}",
                    delay=LOGIN_FALLBACK_SECONDS,
                )
        return order_id

    async def _attempt(
        self,
        code: str,
        voucher_id: int | None,
        outcome: str,
        reason: str,
        who: Who,
        router: str | None,
    ) -> None:
        async with self.db.write_lock():
            await VoucherAttempt.insert(
                VoucherAttempt(
                    code_tried=code[:32],
                    voucher=voucher_id,
                    outcome=outcome,
                    reason=reason[:32],
                    mac=who.mac,
                    ip=who.ip,
                    source_ip=(who.source or "")[:45] or None,
                    router=(router or "").strip()[:64] or None,
                    at=self.clock(),
                )
            ).run()

    # --- logging devices in once the grant is live ----------------------------------------------

    async def _login_job(self, ctx: JobContext) -> None:
        device_id = int(ctx.payload["device"])
        device = await VoucherDevice.select().where(VoucherDevice.id == device_id).first().run()
        if device is None or not device["needs_login"]:
            return
        voucher = await Voucher.select().where(Voucher.id == device["voucher"]).first().run()
        if voucher is None or voucher["state"] != VoucherState.ACTIVE or voucher["grant_id"] is None:
            await self._login_done(device_id, None)
            return
        grant = await self.grants.get(int(voucher["grant_id"]), with_password=True)
        if grant["state"] not in GrantState.LIVE:
            await self._login_done(device_id, None)
            return
        if grant["state"] != GrantState.ACTIVE or not grant["applied_version"] or not grant["router"]:
            raise JobFailed(f"grant #{grant['id']} is not on a router yet")
        try:
            router = self.pool.get(grant["router"])
            await router.driver.login(
                router.target, grant["username"], grant["password"], device["mac"], device["ip"]
            )
        except (RouterUnreachable, NoRouterAvailable) as exc:
            raise JobFailed(str(exc)) from None
        except RouterRefused as exc:
            error = f"device login refused: {exc}"[:300]
            await self._login_done(device_id, error)
            if device["order_id"]:
                async with self.db.write_lock():
                    await Order.update({Order.ip: None}).where(Order.id == device["order_id"]).run()
                await self.checkout.order_changed(device["order_id"])
            log.info(
                "voucher device %s not logged in by the box (%s): router login page offered",
                device["mac"],
                exc,
            )
            return
        await self._login_done(device_id, None)

    async def _login_done(self, device_id: int, error: str | None) -> None:
        async with self.db.write_lock():
            await (
                VoucherDevice.update({VoucherDevice.needs_login: False, VoucherDevice.login_error: error})
                .where(VoucherDevice.id == device_id)
                .run()
            )


# --- helpers ----------------------------------------------------------------------------------


def _settling(now: float, batch_ids: Sequence[int] | None) -> list[tuple[str, list[Any], str, list[Any]]]:
    """The sweep's statements as (SET clause, its arguments, WHERE clause, its arguments)."""
    scope, scoped = "", []
    if batch_ids is not None:
        scope = f"batch_id IN ({', '.join('{}' for _ in batch_ids)}) AND "
        scoped = list(batch_ids)
    grant = "EXISTS (SELECT 1 FROM hotspot_grant g WHERE g.id = hotspot_voucher.grant_id AND "
    return [
        (
            "state = 'expired', ended_at = {}, end_reason = 'expiry'",
            [now],
            scope + "state = 'unused' AND expires_at IS NOT NULL AND expires_at <= {}",
            [*scoped, now],
        ),
        (
            "state = 'exhausted', ended_at = {}, end_reason = (SELECT COALESCE(g.end_reason, 'ended')"
            " FROM hotspot_grant g WHERE g.id = hotspot_voucher.grant_id)",
            [now],
            scope + "state = 'active' AND " + grant + "g.state = 'ended')",
            scoped,
        ),
        (
            "state = 'revoked', ended_at = {}, end_reason = 'grant revoked'",
            [now],
            scope + "state IN ('active', 'exhausted') AND " + grant + "g.state = 'revoked')",
            scoped,
        ),
        (
            "state = 'active', ended_at = NULL, end_reason = NULL",
            [],
            scope + "state = 'exhausted' AND " + grant + "g.state IN ('pending', 'active')"
            " AND (g.expires_at IS NULL OR g.expires_at > {}))",
            [*scoped, now],
        ),
    ]


def expiry_timestamp(day: date, timezone: str) -> float:
    """A voucher valid *until* `day` works all that day, local time: it expires at the next midnight."""
    return datetime.combine(day + timedelta(days=1), clock_time(0), ZoneInfo(timezone)).timestamp()


def _terms(raw: Any) -> dict[str, Any]:
    value = raw if isinstance(raw, dict) else json.loads(raw or "{}")
    return value if isinstance(value, dict) else {}


def _used_up(grant: dict[str, Any], now: float) -> str | None:
    """Why a grant gives nothing more (time, data, ended), or None while it still gives access."""
    if grant["state"] == GrantState.ENDED:
        return str(grant["end_reason"] or "ended")
    if grant["state"] == GrantState.ACTIVE:
        if grant["expires_at"] is not None and grant["expires_at"] <= now:
            return "time"
        total = grant["bytes_total"]
        if total is not None and int(grant["bytes_in"]) + int(grant["bytes_out"]) >= int(total):
            return "data"
    return None


def _refusal(message: str, grant: dict[str, Any]) -> VoucherError | None:
    """A router's refusal that is the voucher's own limit, in the customer's words."""
    text = message.lower()
    if "no more sessions" in text:
        devices = int(grant["devices"])
        return VoucherError(
            f"This voucher is already in use on {devices} device{'s' if devices != 1 else ''} at once, "
            "its limit. Disconnect one of them and try again.",
            reason="device_limit",
            field="code",
            status_code=409,
        )
    if "not allowed to log in from this mac" in text:
        return VoucherError(
            "This voucher is locked to the device that first used it.",
            reason="bound_to_other_device",
            field="code",
            status_code=403,
        )
    if "uptime limit" in text or "traffic limit" in text:
        return VoucherError(
            "This voucher has been used up.", reason="exhausted", field="code", status_code=409
        )
    return None


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{-(-minutes // 60)} hours"
