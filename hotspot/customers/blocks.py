"""Blocking a phone or a device, and binding a phone to the devices it may use (issue 7; the
owner's "MAC address binding" against account sharing).

A block stops a phone number or a device MAC at every door the box has: a purchase (the
portal's and the API's, through `Checkout.admit`, which this module's `admit` is plugged into),
a voucher redeem (the same gate) and a move of a paid package to another device
(hotspot.customers.service). Blocking also suspends the subject's live grants
(`GrantService.suspend`: off the router by a durable job, never re-applied) and drops its devices
from the routers now, the same way the sessions page's "Disconnect" does. Lifting the block, or
its expiry (swept every minute), resumes what still has time and data left.

A binding says: this phone's purchases may only be used from these devices. A phone with no
binding is free; once bound, a purchase or a move from any other device is refused.

The customer is told politely that the number or device cannot be used, never why: the owner's
reason stays in the admin.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from hotspot.access.grants import GrantService
from hotspot.access.tables import Grant, GrantState, Session
from hotspot.addresses import normalize_mac
from hotspot.customers.tables import Binding, Block, BlockKind
from hotspot.db import Database
from hotspot.errors import HotspotError
from hotspot.jobs import JobContext, Jobs
from hotspot.locks import Locks, LockTimeout, MemoryLocks
from hotspot.payments.checkout import CheckoutError
from hotspot.payments.phone import InvalidPhone, normalize_phone
from hotspot.payments.tables import Order

__all__ = [
    "BindingView",
    "BlockError",
    "BlockOutcome",
    "BlockView",
    "Blocks",
    "CustomerRefused",
]

log = logging.getLogger("hotspot.customers")
SWEEP = "customers.blocks.sweep"
SWEEP_SECONDS = 60.0
MAX_REASON = 200
MAX_BINDINGS = 10
BLOCKED_REASON = "blocked"  # the grants' end_reason while suspended by a block
# A duplicate row refused by the unique indexes (one active block per subject, one binding per
# phone and device): the other backend's error is never raised, so catching both is safe.
_DUPLICATE = (sqlite3.IntegrityError, asyncpg.UniqueViolationError)

AuditHook = Callable[["BlockView"], Awaitable[None]]
"""Writes the admin's audit entry for a block or an unblock, inside the transaction that stores it."""
BindAuditHook = Callable[["BindingView"], Awaitable[None]]


class CustomerRefused(CheckoutError):
    """A purchase, redeem or move refused because of a block or a binding. The message is for
    the customer and names no reason of the owner's; `reason` is machine-readable."""

    def __init__(self, message: str, *, reason: str, field: str | None = None) -> None:
        super().__init__(message, reason=reason, field=field, status_code=403)


class BlockError(HotspotError):
    """An admin's request that cannot be done; `field` names the input to blame ("form": none)."""

    def __init__(self, message: str, field: str = "form", status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status_code = status_code


@dataclass(frozen=True)
class BlockView:
    id: int
    kind: str
    value: str
    reason: str
    created_by: str
    created_at: float
    expires_at: float | None
    lifted_at: float | None
    lifted_by: str | None

    def in_force(self, now: float) -> bool:
        return self.lifted_at is None and (self.expires_at is None or self.expires_at > now)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BindingView:
    phone: str
    mac: str
    created_by: str
    created_at: float


@dataclass(frozen=True)
class BlockOutcome:
    """What a block did: the row, the grants suspended and the devices dropped from routers."""

    block: BlockView
    suspended: int
    disconnected: int


def subject(kind: str, raw: str) -> str:
    """The stored form of a phone or MAC; BlockError naming the field when it is not one."""
    if kind == BlockKind.PHONE:
        try:
            return normalize_phone(raw)
        except InvalidPhone as exc:
            raise BlockError(str(exc), field="phone") from None
    if kind == BlockKind.MAC:
        mac = normalize_mac(raw)
        if mac is None:
            raise BlockError("Not a MAC address (e.g. AA:BB:CC:DD:EE:FF).", field="mac")
        return mac
    raise BlockError("Block a phone or a device.", field="kind")


def _view(row: dict[str, Any]) -> BlockView:
    return BlockView(
        id=int(row["id"]),
        kind=str(row["kind"]),
        value=str(row["value"]),
        reason=str(row["reason"]),
        created_by=str(row["created_by"]),
        created_at=float(row["created_at"]),
        expires_at=None if row["expires_at"] is None else float(row["expires_at"]),
        lifted_at=None if row["lifted_at"] is None else float(row["lifted_at"]),
        lifted_by=row["lifted_by"],
    )


class Blocks:
    """Blocks on phones and devices, bindings of phones to devices, and the gate that reads both."""

    def __init__(
        self,
        db: Database,
        grants: GrantService,
        *,
        locks: Locks | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.grants = grants
        # Per subject ("block:phone:2547...", "bind:2547..."): the write lock is free on
        # PostgreSQL, so a double-click would otherwise check twice and store twice.
        self.locks: Locks = locks if locks is not None else MemoryLocks()
        self.clock = clock

    def register_jobs(self, jobs: Jobs) -> None:
        jobs.register(SWEEP, self._sweep_job, every=SWEEP_SECONDS)

    # --- reading -------------------------------------------------------------------------------

    async def in_force(self, kind: str, values: Iterable[str]) -> dict[str, BlockView]:
        """The block in force on each of these phones (or MACs) that has one."""
        wanted = sorted(set(values))
        if not wanted:
            return {}
        rows = await (
            Block.select()
            .where((Block.kind == kind) & Block.value.is_in(wanted) & Block.lifted_at.is_null())
            .run()
        )
        now = self.clock()
        return {v.value: v for v in map(_view, rows) if v.in_force(now)}

    async def all_in_force(self, limit: int = 100) -> list[BlockView]:
        """Every block in force now, newest first."""
        now = self.clock()
        rows = await (
            Block.select()
            .where(Block.lifted_at.is_null() & (Block.expires_at.is_null() | (Block.expires_at > now)))
            .order_by(Block.created_at, ascending=False)
            .limit(limit)
            .run()
        )
        return [_view(r) for r in rows]

    async def current(self, kind: str, value: str) -> BlockView | None:
        return (await self.in_force(kind, [value])).get(value)

    async def history(self, phone: str, macs: Sequence[str], limit: int = 50) -> list[BlockView]:
        """Every block on the phone or its devices, newest first (lifted and expired ones too)."""
        where: Any = (Block.kind == BlockKind.PHONE) & (Block.value == phone)
        if macs:
            where = where | ((Block.kind == BlockKind.MAC) & Block.value.is_in(list(macs)))
        rows = (
            await Block.select().where(where).order_by(Block.created_at, ascending=False).limit(limit).run()
        )
        return [_view(r) for r in rows]

    async def bindings(self, phone: str) -> list[BindingView]:
        rows = await Binding.select().where(Binding.phone == phone).order_by(Binding.created_at).run()
        return [BindingView(r["phone"], r["mac"], r["created_by"], float(r["created_at"])) for r in rows]

    async def bound_phones(self, phones: Iterable[str]) -> set[str]:
        wanted = sorted(set(phones))
        if not wanted:
            return set()
        rows = await Binding.select(Binding.phone).where(Binding.phone.is_in(wanted)).run()
        return {r["phone"] for r in rows}

    # --- the gate ------------------------------------------------------------------------------

    async def refusal(self, phone: str | None, mac: str | None) -> CustomerRefused | None:
        """Why this phone on this device may not buy, redeem or move, in the customer's words."""
        mac = normalize_mac(mac) if mac else None
        if phone and await self.current(BlockKind.PHONE, phone):
            return CustomerRefused(
                "This phone number can't be used to buy WiFi here right now. Please ask at the counter.",
                reason="blocked",
                field="phone",
            )
        if mac and await self.current(BlockKind.MAC, mac):
            return CustomerRefused(
                "This device can't get WiFi here right now. Please ask at the counter.", reason="blocked"
            )
        if phone:
            bound = {b.mac for b in await self.bindings(phone)}
            if bound and mac not in bound:
                return CustomerRefused(
                    "WiFi bought with this number can only be used on the device it is registered to. "
                    "Use that device, or ask at the counter.",
                    reason="not_bound_device",
                    field="phone",
                )
        return None

    async def admit(self, phone: str | None, mac: str | None) -> None:
        """Raise CustomerRefused when this phone or device may not buy (Checkout's gate)."""
        refused = await self.refusal(phone, mac)
        if refused is not None:
            raise refused

    # --- blocking ------------------------------------------------------------------------------

    async def block(
        self,
        kind: str,
        raw: str,
        *,
        reason: str,
        by: str,
        expires_at: float | None = None,
        audit: AuditHook | None = None,
    ) -> BlockOutcome:
        """Block a phone or a device: its live grants are suspended and its devices dropped.

        The row and its `audit` entry commit together, before anything touches a router: a
        router that fails then costs a log line (the sweep's `enforce` suspends again), never
        the block or its audit."""
        value = subject(kind, raw)
        reason = " ".join((reason or "").split())
        if not reason:
            raise BlockError("Say why (the customer never sees it).", field="reason")
        if len(reason) > MAX_REASON:
            raise BlockError(f"At most {MAX_REASON} characters.", field="reason")
        now = self.clock()
        if expires_at is not None and expires_at <= now:
            raise BlockError("The block would end before it starts.", field="expires")
        already = BlockError(
            f"This {'number' if kind == BlockKind.PHONE else 'device'} is already blocked.", status_code=409
        )
        async with self._hold(f"block:{kind}:{value}"):
            try:
                async with self.db.transaction():
                    if await self.current(kind, value) is not None:
                        raise already
                    await self._lift_expired(kind, value)  # its row would hold the unique index
                    [row] = await (
                        Block.insert(
                            Block(
                                kind=kind,
                                value=value,
                                reason=reason,
                                created_by=by[:64],
                                created_at=now,
                                expires_at=expires_at,
                            )
                        )
                        .returning(*Block.all_columns())
                        .run()
                    )
                    if audit is not None:
                        await audit(_view(row))
            except _DUPLICATE:  # another process without the shared lock (no Redis) won
                raise already from None
        suspended: list[int] = []
        dropped = 0
        try:
            live = await self._grants_of(kind, value, list(GrantState.LIVE))
            suspended = await self.grants.suspend(live, BLOCKED_REASON)
            for grant_id in suspended:
                dropped += await self._disconnect(grant_id)
            if kind == BlockKind.MAC:
                dropped += await self._drop_device(value, skip=set(suspended))
        except Exception:  # the block is stored and audited; the sweep suspends what is left
            log.exception("%s %s blocked, but suspending its access failed (the sweep retries)", kind, value)
        log.info("%s %s blocked by %s: %s grant(s) suspended", kind, value, by, len(suspended))
        return BlockOutcome(_view(row), len(suspended), dropped)

    async def unblock(
        self, kind: str, raw: str, *, by: str, audit: AuditHook | None = None
    ) -> tuple[BlockView, int]:
        """Lift the block in force (every row of it, should there be more than one); the grants
        it suspended come back if time and data are left (and no other block holds them).
        Returns the lifted block and how many came back. `audit` runs in the lift's transaction."""
        value = subject(kind, raw)
        now = self.clock()
        async with self._hold(f"block:{kind}:{value}"):
            async with self.db.transaction():
                block = await self.current(kind, value)
                if block is None:
                    raise BlockError(
                        f"This {'number' if kind == BlockKind.PHONE else 'device'} is not blocked.",
                        status_code=409,
                    )
                await self._lift_expired(kind, value)
                await (
                    Block.update({Block.lifted_at: now, Block.lifted_by: by[:64]})
                    .where((Block.kind == kind) & (Block.value == value) & Block.lifted_at.is_null())
                    .run()
                )
                lifted = replace(block, lifted_at=now, lifted_by=by[:64])
                if audit is not None:
                    await audit(lifted)
        restored = 0
        try:
            restored = await self._restore(kind, value)
        except Exception:  # the lift is stored and audited; the sweep resumes what it held
            log.exception("%s %s unblocked, but resuming its access failed (the sweep retries)", kind, value)
        log.info("%s %s unblocked by %s: %s grant(s) resumed", kind, value, by, restored)
        return lifted, restored

    @contextlib.asynccontextmanager
    async def _hold(self, name: str) -> AsyncIterator[None]:
        """The subject's lock; a 409 (not a 500) when another change keeps it too long."""
        try:
            async with self.locks.hold(name, ttl=30, wait=15):
                yield
        except LockTimeout:
            raise BlockError("Someone else is changing this right now. Try again.", status_code=409) from None

    async def _lift_expired(self, kind: str, value: str) -> None:
        """Close the subject's blocks whose time is up but that the sweep has not reached yet."""
        await (
            Block.update({Block.lifted_at: Block.expires_at})
            .where(
                (Block.kind == kind)
                & (Block.value == value)
                & Block.lifted_at.is_null()
                & Block.expires_at.is_not_null()
                & (Block.expires_at <= self.clock())
            )
            .run()
        )

    async def sweep(self) -> int:
        """Lift the blocks whose time is up and resume what they held; returns how many lifted."""
        now = self.clock()
        rows = await (
            Block.select()
            .where(Block.lifted_at.is_null() & Block.expires_at.is_not_null() & (Block.expires_at <= now))
            .run()
        )
        for row in rows:
            async with self.db.write_lock():
                await (
                    Block.update({Block.lifted_at: row["expires_at"]})
                    .where((Block.id == row["id"]) & Block.lifted_at.is_null())
                    .run()
                )
            await self._restore(row["kind"], row["value"])
        return len(rows)

    async def enforce(self) -> int:
        """Suspend grants that went live under a block in force: a payment prompted before the
        block and paid after it, say; and drop a blocked device still seen online (a router
        that did not answer when it was blocked). Returns how many grants were suspended."""
        suspended = 0
        for block in await self.all_in_force(limit=10_000):
            live = await self._grants_of(block.kind, block.value, list(GrantState.LIVE))
            for grant_id in await self.grants.suspend(live, BLOCKED_REASON):
                suspended += 1
                await self._disconnect(grant_id)
            if block.kind == BlockKind.MAC and await self._open_sessions(block.value):
                await self._drop_device(block.value, skip=set())
        return suspended

    async def _open_sessions(self, mac: str) -> bool:
        rows = await (
            Session.select(Session.id).where((Session.mac == mac) & Session.ended_at.is_null()).limit(1).run()
        )
        return bool(rows)

    async def restore_unheld(self) -> int:
        """Resume the grants a block suspended that no block in force holds any more: an unblock
        (or an expiry) whose resume failed after the lift committed is finished here."""
        rows = await (
            Grant.select(Grant.id)
            .where((Grant.state == GrantState.SUSPENDED) & (Grant.end_reason == BLOCKED_REASON))
            .run()
        )
        return await self._resume_unheld(sorted(int(r["id"]) for r in rows))

    async def _sweep_job(self, ctx: JobContext) -> None:
        await self.sweep()
        await self.restore_unheld()
        await self.enforce()

    async def _grants_of(self, kind: str, value: str, states: list[str]) -> list[int]:
        """The grants a phone paid for, or the grants bound to a device, in these states."""
        if kind == BlockKind.PHONE:
            orders = await (
                Order.select(Order.grant_id)
                .where((Order.phone == value) & Order.grant_id.is_not_null())
                .run()
            )
            ids = sorted({int(o["grant_id"]) for o in orders})
            if not ids:
                return []
            rows = await Grant.select(Grant.id).where(Grant.id.is_in(ids) & Grant.state.is_in(states)).run()
        else:
            rows = await Grant.select(Grant.id).where((Grant.mac == value) & Grant.state.is_in(states)).run()
        return sorted(int(r["id"]) for r in rows)

    async def _restore(self, kind: str, value: str) -> int:
        """Resume the subject's suspended grants that no other block in force still holds."""
        return await self._resume_unheld(await self._grants_of(kind, value, [GrantState.SUSPENDED]))

    async def _resume_unheld(self, held: list[int]) -> int:
        """Of these suspended grants, resume those a block suspended and none holds now."""
        if not held:
            return 0
        rows = await Grant.select(Grant.id, Grant.mac, Grant.end_reason).where(Grant.id.is_in(held)).run()
        orders = await Order.select(Order.grant_id, Order.phone).where(Order.grant_id.is_in(held)).run()
        phones: dict[int, set[str]] = {}
        for order in orders:
            if order["phone"]:
                phones.setdefault(int(order["grant_id"]), set()).add(order["phone"])
        blocked_phones = await self.in_force(BlockKind.PHONE, {p for s in phones.values() for p in s})
        blocked_macs = await self.in_force(BlockKind.MAC, {r["mac"] for r in rows if r["mac"]})
        free = [
            int(r["id"])
            for r in rows
            if r["end_reason"] == BLOCKED_REASON
            and r["mac"] not in blocked_macs
            and not phones.get(int(r["id"]), set()) & blocked_phones.keys()
        ]
        return len(await self.grants.resume(free))

    async def _disconnect(self, grant_id: int) -> int:
        """Drop the grant's devices now (the revoke job takes its user off the router anyway)."""
        try:
            return await self.grants.disconnect(grant_id)
        except Exception as exc:  # a router down or slow: the durable revoke job does it when it is back
            log.warning("could not disconnect grant #%s now: %s", grant_id, exc)
            return 0

    async def _drop_device(self, mac: str, skip: set[int]) -> int:
        """A blocked device online under someone else's grant (a shared voucher): drop just it."""
        rows = await (
            Session.select(Session.grant, Session.router)
            .where((Session.mac == mac) & Session.ended_at.is_null())
            .run()
        )
        dropped = 0
        for router_name in sorted({r["router"] for r in rows if int(r["grant"]) not in skip}):
            try:
                router = self.grants.pool.get(router_name)
                online = await router.driver.active_sessions(router.target)
                for session in online:
                    if session.mac.upper() == mac:
                        await router.driver.disconnect(router.target, session.session_id)
                        dropped += 1
            except Exception as exc:  # HotspotError, a timeout, OSError: the router is not answering
                log.warning("could not drop device %s from %s now: %s", mac, router_name, exc)
                continue
            async with self.db.write_lock():
                await (
                    Session.update({Session.ended_at: self.clock()})
                    .where(
                        (Session.mac == mac) & (Session.router == router_name) & Session.ended_at.is_null()
                    )
                    .run()
                )
        return dropped

    # --- binding -------------------------------------------------------------------------------

    async def bind(
        self, phone: str, raw_mac: str, *, by: str, audit: BindAuditHook | None = None
    ) -> BindingView:
        """Let this phone's purchases be used from this device (and, once bound, only such).
        `audit` runs in the transaction that stores the binding."""
        number = subject(BlockKind.PHONE, phone)
        mac = subject(BlockKind.MAC, raw_mac)
        now = self.clock()
        already = BlockError("This device is already bound to this number.", field="mac", status_code=409)
        binding = BindingView(number, mac, by[:64], now)
        async with self._hold(f"bind:{number}"):  # the count, per phone
            try:
                async with self.db.transaction():
                    existing = await self.bindings(number)
                    if any(b.mac == mac for b in existing):
                        raise already
                    if len(existing) >= MAX_BINDINGS:
                        raise BlockError(f"At most {MAX_BINDINGS} devices per number.", field="mac")
                    await Binding.insert(
                        Binding(phone=number, mac=mac, created_by=by[:64], created_at=now)
                    ).run()
                    if audit is not None:
                        await audit(binding)
            except _DUPLICATE:  # the unique (phone, mac) index: another process bound it first
                raise already from None
        return binding

    async def unbind(self, phone: str, raw_mac: str) -> None:
        number = subject(BlockKind.PHONE, phone)
        mac = subject(BlockKind.MAC, raw_mac)
        async with self.db.write_lock():
            rows = await (
                Binding.delete()
                .where((Binding.phone == number) & (Binding.mac == mac))
                .returning(Binding.id)
                .run()
            )
        if not rows:
            raise BlockError("This device is not bound to this number.", field="mac", status_code=404)
