"""Grants: access that reaches a router even when the router is not reachable right now.

Every change to a grant is written first (a new `version`), in one transaction with the durable
job that applies it to a router and records `applied_version`. A router that is down fails the job; the job is
retried with backoff, and placement fails over to a healthy peer of the same site for a grant
not yet on any router. Nothing is applied from memory alone, so a crash between "paid" and
"online" loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hotspot.access.tables import Grant, GrantState, Session
from hotspot.config import FairUsageSettings
from hotspot.contracts import GrantSpec
from hotspot.db import Database
from hotspot.errors import HotspotError, RouterRefused, RouterUnreachable
from hotspot.jobs import JobContext, JobFailed, Jobs
from hotspot.routers.pool import NoRouterAvailable, PooledRouter, RouterPool

__all__ = ["GrantNotFound", "GrantRequest", "GrantService"]

log = logging.getLogger("hotspot.access")
APPLY, REVOKE, SPEED, MOVE = "grant.apply", "grant.revoke", "grant.speed", "grant.move"
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_ENDED_BECAUSE = {  # fixed SQL; "{}" is the current time
    "time": "expires_at IS NOT NULL AND expires_at <= {}",
    "data": "bytes_total IS NOT NULL AND bytes_in + bytes_out >= bytes_total",
}  # no 0/O, 1/I/L: read aloud and typed on phones


class GrantNotFound(HotspotError):
    """No grant has that id."""


@dataclass(frozen=True)
class GrantRequest:
    """What to grant: a package's terms, plus where the customer is and which device."""

    profile: str
    seconds: int | None
    bytes_total: int | None = None
    down_bps: int | None = None
    up_bps: int | None = None
    devices: int = 1
    mac: str | None = None
    ip: str | None = None
    router_hint: str | None = None
    site: str | None = None
    source: str = "admin"
    source_ref: str | None = None
    username: str | None = None
    password: str | None = None


def new_credential(length: int = 10) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def profile_name(profile: str, down_bps: int | None, up_bps: int | None, devices: int) -> str:
    """A router profile per distinct (package, speed, devices): grants never fight over one."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", profile).strip("-")[:32] or "package"
    return f"{slug}-{_k(down_bps)}-{_k(up_bps)}-{devices}d"


def _k(bps: int | None) -> str:
    return f"{(bps or 0) // 1000}k"


def effective_speed(base: int | None, factor: float, floor: int) -> int | None:
    """A package speed scaled by the fair-usage factor, never below the floor (or the package)."""
    if not base or factor >= 1.0:
        return base
    return max(int(base * factor), min(floor, base))


class GrantService:
    """Request, extend, slow, disconnect and revoke grants; the jobs do the router work."""

    def __init__(
        self,
        db: Database,
        jobs: Jobs,
        pool: RouterPool,
        *,
        fair_usage: FairUsageSettings | None = None,
        emit: Callable[..., Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.pool = pool
        self.fair_usage = fair_usage or FairUsageSettings()
        self.emit = emit
        self.clock = clock
        self.on_change: Callable[[int], Awaitable[None]] | None = None  # the portal follows grants

    def register_jobs(self) -> None:
        self.jobs.register(APPLY, self._apply_job)
        self.jobs.register(REVOKE, self._revoke_job)
        self.jobs.register(SPEED, self._speed_job)
        self.jobs.register(MOVE, self._move_job)

    # --- reading -----------------------------------------------------------------------------

    async def get(self, grant_id: int, *, with_password: bool = False) -> dict[str, Any]:
        columns = [*Grant.all_columns(), Grant.password] if with_password else Grant.all_columns()
        row = await Grant.select(*columns).where(Grant.id == grant_id).first().run()
        if row is None:
            raise GrantNotFound(f"no grant #{grant_id}")
        return dict(row)

    # --- changes (each written first, then applied by a job) ---------------------------------

    async def request(self, req: GrantRequest) -> int:
        """Record a grant and queue it for a router; returns the grant id."""
        now = self.clock()
        username = req.username or f"G{new_credential(9)}"
        grant = Grant(
            username=username,
            password=req.password or new_credential(8),
            source=req.source,
            source_ref=req.source_ref,
            profile=req.profile,
            seconds=req.seconds,
            bytes_total=req.bytes_total,
            down_bps=req.down_bps,
            up_bps=req.up_bps,
            devices=max(req.devices, 1),
            mac=req.mac,
            ip=req.ip,
            router_hint=req.router_hint,
            site=req.site,
            state=GrantState.PENDING,
            version=1,
            applied_version=0,
            created_at=now,
        )
        async with self.db.transaction():  # the grant and its apply job, or neither
            [row] = await Grant.insert(grant).returning(Grant.id).run()
            grant_id = int(row["id"])
            await self._queue(APPLY, grant_id, 1)
        return grant_id

    async def extend(
        self, grant_id: int, *, seconds: int = 0, bytes_total: int = 0, devices: int = 0
    ) -> None:
        """Add time and/or data, and allow at least `devices` at once; an active grant keeps
        running, an ended one is revived.

        One UPDATE does the arithmetic, so two top-ups at once both count."""
        now = self.clock()
        async with self.db.transaction():
            rows = await Grant.raw(
                "WITH x(add_s, add_b, now, at_least) AS (VALUES (CAST({} AS BIGINT), CAST({} AS BIGINT),"
                " CAST({} AS DOUBLE PRECISION), CAST({} AS INTEGER)))"
                " UPDATE hotspot_grant SET version = version + 1,"
                " devices = CASE WHEN x.at_least > hotspot_grant.devices THEN x.at_least"
                " ELSE hotspot_grant.devices END,"
                " seconds = CASE WHEN x.add_s > 0 THEN COALESCE(seconds, 0) + x.add_s ELSE seconds END,"
                " expires_at = CASE WHEN expires_at IS NULL OR x.add_s = 0 THEN expires_at"
                " WHEN expires_at > x.now THEN expires_at + x.add_s ELSE x.now + x.add_s END,"
                " bytes_total = CASE WHEN x.add_b > 0 THEN COALESCE(bytes_total, 0) + x.add_b"
                " ELSE bytes_total END,"
                " ended_at = CASE WHEN state = 'ended' THEN NULL ELSE ended_at END,"
                " end_reason = CASE WHEN state = 'ended' THEN NULL ELSE end_reason END,"
                " state = CASE WHEN state = 'ended' THEN 'active' ELSE state END"
                " FROM x WHERE id = {} AND state IN ('pending', 'active', 'ended')"
                " RETURNING version",
                seconds,
                bytes_total,
                now,
                devices,
                grant_id,
            ).run()
            if rows:
                await self._queue(APPLY, grant_id, int(rows[0]["version"]))
        if not rows:
            await self.get(grant_id)  # raises when it does not exist
            raise GrantNotFound(f"grant #{grant_id} was revoked")

    async def change_speed(self, grant_id: int, *, down_bps: int | None, up_bps: int | None) -> None:
        """New package speed: live on the session now, and in the router profile for the next login."""
        async with self.db.transaction():
            rows = await Grant.raw(
                "UPDATE hotspot_grant SET down_bps = {}, up_bps = {}, version = version + 1"
                " WHERE id = {} RETURNING version",
                down_bps,
                up_bps,
                grant_id,
            ).run()
            if rows:
                version = int(rows[0]["version"])
                await self._queue(APPLY, grant_id, version)
                await self._queue(SPEED, grant_id, version)
        if not rows:
            raise GrantNotFound(f"no grant #{grant_id}")

    async def disconnect(self, grant_id: int) -> int:
        """Drop the grant's devices now (they may log in again while it lasts); returns how many."""
        grant = await self.get(grant_id)
        if not grant["router"]:
            return 0
        router = self.pool.get(grant["router"])
        online = await router.driver.active_sessions(router.target)
        sessions = [s for s in online if s.username == grant["username"]]
        for session in sessions:
            await router.driver.disconnect(router.target, session.session_id)
        if sessions:
            async with self.db.write_lock():
                await (
                    Session.update({Session.ended_at: self.clock()})
                    .where((Session.grant == grant_id) & Session.ended_at.is_null())
                    .run()
                )
        return len(sessions)

    async def move(self, grant_id: int, mac: str, ip: str) -> None:
        """Put a live grant on another device: the new MAC is bound and logged in, every other
        device on the grant is disconnected. Written first (a new version), then applied by a
        durable job, like every other change."""
        async with self.db.transaction():
            rows = await Grant.raw(
                "UPDATE hotspot_grant SET mac = {}, ip = {}, last_error = NULL, version = version + 1"
                " WHERE id = {} AND state IN ('pending', 'active') RETURNING version",
                mac,
                ip,
                grant_id,
            ).run()
            if rows:
                version = int(rows[0]["version"])
                payload = {"grant": grant_id, "version": version}
                await self.jobs.enqueue(MOVE, payload, key=f"{MOVE}:{grant_id}:{version}", urgent=True)
        if not rows:
            await self.get(grant_id)  # raises when it does not exist
            raise GrantNotFound(f"grant #{grant_id} is no longer live")
        await self._changed(grant_id)

    async def revoke(self, grant_id: int, reason: str = "revoked") -> None:
        """Take the grant away: off the router (durably, retried) and never re-applied."""
        await self.get(grant_id)
        await self._finish([grant_id], GrantState.REVOKED, reason)

    async def end(self, grant_ids: list[int], reason: str) -> None:
        """Time ("time") or data ("data") ran out: mark ended and remove the users from their routers.

        The reason is checked again in the UPDATE: a grant topped up since it was read lives on."""
        await self._finish(grant_ids, GrantState.ENDED, reason, still_true=_ENDED_BECAUSE[reason])

    async def suspend(self, grant_ids: list[int], reason: str = "blocked") -> list[int]:
        """Take live grants off their routers without ending them (their customer is blocked):
        never re-applied while suspended, `resume` puts back what is still valid. Returns the
        ids suspended (grants already over are left as they are)."""
        return await self._finish(grant_ids, GrantState.SUSPENDED, reason)

    async def resume(self, grant_ids: list[int]) -> list[int]:
        """Put suspended grants back on their routers when time and data are left (the clock
        kept running while suspended); the others end now. Returns the ids resumed."""
        if not grant_ids:
            return []
        now = self.clock()
        marks = ", ".join("{}" for _ in grant_ids)
        async with self.db.transaction():  # each state change commits with its job
            rows = await Grant.raw(
                "UPDATE hotspot_grant SET version = version + 1, ended_at = NULL, end_reason = NULL,"  # noqa: S608
                " state = CASE WHEN applied_at IS NULL THEN 'pending' ELSE 'active' END"
                f" WHERE id IN ({marks}) AND state = 'suspended'"
                " AND (expires_at IS NULL OR expires_at > {})"
                " AND (bytes_total IS NULL OR bytes_in + bytes_out < bytes_total)"
                " RETURNING id, version",
                *grant_ids,
                now,
            ).run()
            await Grant.raw(
                "UPDATE hotspot_grant SET state = 'ended', end_reason = CASE WHEN expires_at IS NOT NULL"  # noqa: S608
                " AND expires_at <= {} THEN 'time' ELSE 'data' END, ended_at = {}"
                f" WHERE id IN ({marks}) AND state = 'suspended'",
                now,
                now,
                *grant_ids,
            ).run()
            for row in rows:
                await self._queue(APPLY, int(row["id"]), int(row["version"]))
        for row in rows:
            await self._changed(int(row["id"]))
        return [int(row["id"]) for row in rows]

    async def _finish(
        self, grant_ids: list[int], state: str, reason: str, still_true: str = "1 = 1"
    ) -> list[int]:
        if not grant_ids:
            return []
        now = self.clock()
        marks = ", ".join("{}" for _ in grant_ids)
        async with self.db.transaction():  # each state change commits with its job
            rows = await Grant.raw(
                "UPDATE hotspot_grant SET state = {}, ended_at = {}, end_reason = {}"  # noqa: S608
                f" WHERE id IN ({marks}) AND state IN ('pending', 'active') AND ({still_true})"
                " RETURNING id",
                state,
                now,
                reason,
                *grant_ids,
                *([now] if "{}" in still_true else []),
            ).run()
            for row in rows:
                grant_id = int(row["id"])
                await self.jobs.enqueue(REVOKE, {"grant": grant_id}, key=f"{REVOKE}:{grant_id}:{now}")
        for row in rows:
            await self._changed(int(row["id"]))
        return [int(row["id"]) for row in rows]

    async def _changed(self, grant_id: int) -> None:
        if self.on_change is None:
            return
        try:
            await self.on_change(grant_id)
        except Exception:
            log.exception("could not announce the change of grant #%s", grant_id)

    async def _queue(self, kind: str, grant_id: int, version: int) -> None:
        payload = {"grant": grant_id, "version": version}
        # Putting a grant on the router is what a paying customer waits for: run it right away.
        await self.jobs.enqueue(kind, payload, key=f"{kind}:{grant_id}:{version}", urgent=kind == APPLY)

    # --- jobs ----------------------------------------------------------------------------------

    def spec(self, grant: dict[str, Any]) -> GrantSpec:
        """What the router needs; the device is logged in separately (see _login)."""
        return GrantSpec(
            username=grant["username"],
            password=grant["password"],
            profile=profile_name(grant["profile"], grant["down_bps"], grant["up_bps"], grant["devices"]),
            seconds=grant["seconds"],
            bytes_total=grant["bytes_total"],
            down_bps=grant["down_bps"],
            up_bps=grant["up_bps"],
            devices=grant["devices"],
            mac=grant["mac"],
            ip=None,
        )

    async def _router_for(self, grant: dict[str, Any]) -> PooledRouter:
        """The grant's router: kept once chosen (its user lives there), else placed now.

        The choice is claimed in the row (`router IS NULL`), so two jobs for one grant in two
        processes can never put its user on two routers."""
        if grant["router"]:
            return self._get(grant["router"])
        try:
            placed = await self.pool.place(grant["router_hint"], grant["site"])
        except NoRouterAvailable as exc:
            await self._note_error(grant["id"], str(exc))
            raise JobFailed(str(exc)) from None
        async with self.db.write_lock():
            won = await Grant.raw(
                "UPDATE hotspot_grant SET router = {} WHERE id = {} AND router IS NULL RETURNING id",
                placed.name,
                grant["id"],
            ).run()
        if won:
            grant["router"] = placed.name
            return placed
        return self._get((await self.get(grant["id"]))["router"])

    def _get(self, name: str) -> PooledRouter:
        try:
            return self.pool.get(name)
        except NoRouterAvailable as exc:
            raise JobFailed(str(exc)) from None

    @contextlib.asynccontextmanager
    async def _on_router(self, router: PooledRouter, grant: dict[str, Any]) -> AsyncIterator[None]:
        """Turn a router's failure into a retry: down routers are marked (placement fails over),
        and a grant never applied anywhere is released so the retry may choose a peer."""
        try:
            yield
        except RouterUnreachable as exc:
            await self.pool.mark_down(router.name, str(exc))
            await self._note_error(grant["id"], str(exc))
            if not grant["applied_version"]:
                async with self.db.write_lock():
                    await Grant.raw(
                        "UPDATE hotspot_grant SET router = NULL"
                        " WHERE id = {} AND router = {} AND applied_version = 0",
                        grant["id"],
                        router.name,
                    ).run()
            raise JobFailed(str(exc)) from None
        except RouterRefused as exc:
            await self._note_error(grant["id"], str(exc))
            raise JobFailed(str(exc)) from None

    async def _apply_job(self, ctx: JobContext) -> None:
        grant_id = int(ctx.payload["grant"])
        grant = await self.get(grant_id, with_password=True)
        if grant["state"] not in GrantState.LIVE or grant["applied_version"] >= grant["version"]:
            return
        router = await self._router_for(grant)
        async with self._on_router(router, grant):
            await router.driver.grant(router.target, self.spec(grant))
            login_error = None
            if grant["mac"] and grant["ip"]:  # online before "active": the portal says so on "active"
                login_error = await self._login(router, grant)
        now = self.clock()
        values: dict[Any, Any] = {
            Grant.state: GrantState.ACTIVE,
            Grant.applied_version: grant["version"],
            Grant.last_error: login_error,
        }
        if grant["applied_at"] is None:
            values[Grant.applied_at] = now
            if grant["seconds"]:
                values[Grant.expires_at] = now + grant["seconds"]
        async with self.db.write_lock():  # an older job finishing last must not roll the version back
            await (
                Grant.update(values)
                .where(
                    (Grant.id == grant_id)
                    & Grant.state.is_in(list(GrantState.LIVE))
                    & (Grant.applied_version < grant["version"])
                )
                .run()
            )
        log.info("grant #%s applied on %s (version %s)", grant_id, router.name, grant["version"])
        await self._changed(grant_id)
        fresh = await self.get(grant_id)
        if fresh["state"] not in GrantState.LIVE:  # revoked meanwhile: take it off again
            await self.jobs.enqueue(REVOKE, {"grant": grant_id}, key=f"{REVOKE}:{grant_id}:late:{now}")

    async def _login(self, router: PooledRouter, grant: dict[str, Any]) -> str | None:
        """Log the known device in. A refusal (device gone, limit reached) is returned, not
        retried: the portal then falls back to the router's own login page."""
        try:
            await router.driver.login(
                router.target, grant["username"], grant["password"], grant["mac"], grant["ip"]
            )
        except RouterRefused as exc:
            return f"device login refused: {exc}"[:300]
        return None

    async def _move_job(self, ctx: JobContext) -> None:
        """The user follows the device: rebound to the new MAC, the other devices dropped, the
        new one logged in. Idempotent, so a retry or a later change applied first does no harm.
        A grant not on a router yet needs none of this: its apply job binds and logs in
        whatever device the row names."""
        grant_id = int(ctx.payload["grant"])
        grant = await self.get(grant_id, with_password=True)
        if grant["state"] not in GrantState.LIVE or not grant["router"]:
            return
        router = self._get(grant["router"])
        async with self._on_router(router, grant):
            await router.driver.grant(router.target, self.spec(grant))
            online = await router.driver.active_sessions(router.target)
            dropped = [s for s in online if s.username == grant["username"] and s.mac != grant["mac"]]
            for session in dropped:
                await router.driver.disconnect(router.target, session.session_id)
            here = any(s.username == grant["username"] and s.mac == grant["mac"] for s in online)
            login_error = None if here or not grant["ip"] else await self._login(router, grant)
        now = self.clock()
        async with self.db.write_lock():
            await (
                Grant.update({Grant.applied_version: grant["version"], Grant.last_error: login_error})
                .where(
                    (Grant.id == grant_id)
                    & Grant.state.is_in(list(GrantState.LIVE))
                    & (Grant.applied_version < grant["version"])
                )
                .run()
            )
            if dropped:
                await (
                    Session.update({Session.ended_at: now})
                    .where(
                        (Session.grant == grant_id)
                        & Session.ended_at.is_null()
                        & Session.mac.is_in([s.mac for s in dropped])
                    )
                    .run()
                )
        log.info(
            "grant #%s moved to %s on %s (%s other device(s) disconnected)",
            grant_id,
            grant["mac"],
            router.name,
            len(dropped),
        )
        await self._changed(grant_id)

    async def _revoke_job(self, ctx: JobContext) -> None:
        grant = await self.get(int(ctx.payload["grant"]))
        if grant["state"] in GrantState.LIVE or not grant["router"]:
            return  # topped up again since it ended, or never reached a router
        router = self._get(grant["router"])
        async with self._on_router(router, grant):
            await router.driver.revoke(router.target, grant["username"])

    async def _speed_job(self, ctx: JobContext) -> None:
        grant = await self.get(int(ctx.payload["grant"]))
        if grant["state"] != GrantState.ACTIVE or not grant["router"]:
            return
        router = self._get(grant["router"])
        factor = await self.pool.speed_factor(router.name)
        async with self._on_router(router, grant):
            await self.apply_speed(router, grant, factor)

    async def apply_speed(self, router: PooledRouter, grant: dict[str, Any], factor: float) -> None:
        """Set a grant's live speed to its package speed times `factor` (fair usage), floored."""
        down = effective_speed(grant["down_bps"], factor, self.fair_usage.floor_down_bps)
        up = effective_speed(grant["up_bps"], factor, self.fair_usage.floor_up_bps)
        await router.driver.set_speed(router.target, grant["username"], down, up)

    async def _note_error(self, grant_id: int, message: str) -> None:
        async with self.db.write_lock():
            await Grant.update({Grant.last_error: message[:300]}).where(Grant.id == grant_id).run()
