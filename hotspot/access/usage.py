"""Usage sync: read every router's active sessions, reconcile them with the database, end
grants whose time or data ran out, and apply the fair-usage policy.

Cost per cycle is linear in active sessions: one read per router, one query for the open
sessions of that router, one for the grants named, bulk inserts and one write per changed row,
all inside one transaction per router (SQLite's single writer, PostgreSQL alike).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hotspot.access.grants import GrantService
from hotspot.access.tables import Grant, GrantState, Session
from hotspot.config import FairUsageSettings
from hotspot.contracts import ActiveSession, SessionChanged
from hotspot.db import Database, bulk_update
from hotspot.errors import RouterRefused, RouterUnreachable
from hotspot.jobs import JobContext
from hotspot.routers.pool import PooledRouter, RouterPool
from hotspot.routers.tables import FairUsageChange

__all__ = ["RouterSync", "UsageSync"]

log = logging.getLogger("hotspot.access")
CHUNK = 500
SESSION_COUNTERS = [
    ("bytes_in", "bigint"),
    ("bytes_out", "bigint"),
    ("uptime_seconds", "bigint"),
    ("ip", "text"),
    ("last_seen_at", "float"),
    ("rate_in_bps", "bigint"),
    ("rate_out_bps", "bigint"),
]
GRANT_TOTALS = [("bytes_in", "bigint"), ("bytes_out", "bigint"), ("uptime_seconds", "bigint")]


@dataclass
class RouterSync:
    """What one router's sync did (for logs, the bench and tests)."""

    router: str
    online: int = 0
    started: int = 0
    updated: int = 0
    ended: int = 0
    exhausted: list[int] = field(default_factory=list)
    writes: int = 0
    factor: float = 1.0
    error: str | None = None


class UsageSync:
    def __init__(
        self,
        db: Database,
        pool: RouterPool,
        grants: GrantService,
        *,
        fair_usage: FairUsageSettings | None = None,
        emit: Callable[..., Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.pool = pool
        self.grants = grants
        self.fair_usage = fair_usage or FairUsageSettings()
        self.emit = emit
        self.clock = clock

    async def job(self, ctx: JobContext) -> None:
        await self.run()

    async def run(self) -> list[RouterSync]:
        """Sync every reachable router at once, then end the grants whose time is up.

        A router known to be down is skipped (the health check brings it back), so one dead
        router costs no timeouts here."""
        statuses = await self.pool.statuses()
        routers = [r for r in self.pool.routers.values() if statuses.get(r.name, {}).get("status") != "down"]
        results: list[RouterSync] = []
        try:
            outcomes = await asyncio.gather(*(self.sync_router(r) for r in routers), return_exceptions=True)
            for router, outcome in zip(routers, outcomes, strict=True):
                if isinstance(outcome, BaseException):  # one router's refusal must not stop the others
                    log.error("usage sync of %s failed: %s", router.name, outcome, exc_info=outcome)
                    results.append(RouterSync(router.name, error=str(outcome) or type(outcome).__name__))
                else:
                    results.append(outcome)
        finally:
            await self.expire_due()  # time keeps running out whatever the routers say
        return results

    async def expire_due(self) -> list[int]:
        rows = (
            await Grant.select(Grant.id)
            .where((Grant.state == GrantState.ACTIVE) & (Grant.expires_at <= self.clock()))
            .run()
        )
        ids = [int(r["id"]) for r in rows]
        if ids:
            log.info("%s grant(s) reached their time limit", len(ids))
            await self.grants.end(ids, "time")
        return ids

    async def sync_router(self, router: PooledRouter) -> RouterSync:
        result = RouterSync(router.name)
        try:
            online = await router.driver.active_sessions(router.target)
            counters = {u.username: u for u in await router.driver.user_usage(router.target)}
        except RouterUnreachable as exc:
            await self.pool.mark_down(router.name, str(exc))
            result.error = str(exc)
            return result
        now = self.clock()
        result.online = len(online)
        open_rows = (
            await Session.select().where((Session.router == router.name) & Session.ended_at.is_null()).run()
        )
        by_key = {(r["router_session_id"], r["mac"]): r for r in open_rows}
        grants = await self._grants_named({s.username for s in online} | set(counters))

        new_rows: list[Session] = []
        updates: list[tuple[dict[str, Any], ActiveSession]] = []
        ended_ids: list[int] = []
        live: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # per user: in, out, uptime online now
        events: list[SessionChanged] = []
        newcomers: set[str] = set()  # users with a device that logged in since the last sync
        for session in online:
            grant = grants.get(session.username)
            if grant is None:
                continue  # a user this box did not create
            row = by_key.pop((session.session_id, session.mac), None)
            if row is not None and _grew(row, session):
                if _changed(row, session) or row["rate_in_bps"] or row["rate_out_bps"]:  # idle: rate to 0
                    updates.append((row, session))
            else:
                if row is not None:  # counters went back: the router reused the id for a new session
                    ended_ids.append(row["id"])
                new_rows.append(_new_session(grant["id"], router.name, session, now))
                newcomers.add(session.username)
                events.append(SessionChanged(str(grant["id"]), router.name, session.mac, True, _at(now)))
            total = live[session.username]
            total[0] += session.bytes_in
            total[1] += session.bytes_out
            total[2] += session.uptime_seconds
        for row in by_key.values():
            ended_ids.append(row["id"])
            events.append(
                SessionChanged(str(row["grant"]), router.name, row["mac"], False, _at(now), "offline")
            )

        totals: list[tuple[int, int, int, int]] = []
        for username, grant in grants.items():
            # The router's user counters hold ended sessions; live sessions are added on top.
            # Totals never go back (a router reboot or a re-created user resets its counters).
            before = (grant["bytes_in"], grant["bytes_out"], grant["uptime_seconds"])
            ended = counters.get(username)
            online_now = live.get(username, [0, 0, 0])
            after = (
                max(before[0], online_now[0] + (ended.bytes_in if ended else 0)),
                max(before[1], online_now[1] + (ended.bytes_out if ended else 0)),
                max(before[2], online_now[2] + (ended.uptime_seconds if ended else 0)),
            )
            if after != before:
                totals.append((grant["id"], *after))
                grant.update(bytes_in=after[0], bytes_out=after[1], uptime_seconds=after[2])

        async with self.db.transaction():
            for start in range(0, len(new_rows), CHUNK):  # stay under the bound-parameter limit
                await Session.insert(*new_rows[start : start + CHUNK]).run()
                result.writes += 1
            if updates:
                result.writes += await bulk_update(
                    Session,
                    "id",
                    SESSION_COUNTERS,
                    [(row["id"], *_counters(row, s, now)) for row, s in updates],
                )
            if ended_ids:
                await Session.update({Session.ended_at: now}).where(Session.id.is_in(ended_ids)).run()
                result.writes += 1
            if totals:
                result.writes += await bulk_update(Grant, "id", GRANT_TOTALS, totals)
        result.started, result.updated, result.ended = len(new_rows), len(updates), len(ended_ids)

        result.exhausted = [
            g["id"]
            for g in grants.values()
            if g["bytes_total"]
            and g["state"] == GrantState.ACTIVE
            and g["bytes_in"] + g["bytes_out"] >= g["bytes_total"]
        ]
        if result.exhausted:
            await self.grants.end(result.exhausted, "data")
        await self.pool.set_active_sessions(router.name, len(online))
        result.factor = await self._fair_usage(router, len(online), grants, newcomers)
        if self.emit is not None:
            for event in events:
                await self.emit("session_changed", event=event)
        return result

    async def _grants_named(self, usernames: set[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        names = sorted(usernames)
        for start in range(0, len(names), CHUNK):
            rows = (
                await Grant.select(
                    Grant.id,
                    Grant.username,
                    Grant.state,
                    Grant.bytes_total,
                    Grant.bytes_in,
                    Grant.bytes_out,
                    Grant.uptime_seconds,
                    Grant.down_bps,
                    Grant.up_bps,
                )
                .where(Grant.username.is_in(names[start : start + CHUNK]))
                .run()
            )
            found.update({r["username"]: dict(r) for r in rows})
        return found

    async def _fair_usage(
        self, router: PooledRouter, online: int, grants: dict[str, dict[str, Any]], newcomers: set[str]
    ) -> float:
        """Step speeds down when the router is crowded and back up when it is not; log every change.

        Devices that logged in since the last step start at package speed, so they are slowed to
        match. A router that stops answering halfway keeps its old factor: the next sync retries."""
        factor = self.fair_usage.factor_for(online)
        current = await self.pool.speed_factor(router.name)
        if factor == current:
            targets = [grants[name] for name in newcomers] if factor < 1.0 else []
        else:
            targets = list(grants.values())
        changed = 0
        for grant in targets:
            if grant["state"] != GrantState.ACTIVE or not (grant["down_bps"] or grant["up_bps"]):
                continue
            try:
                await self.grants.apply_speed(router, grant, factor)
            except RouterUnreachable as exc:
                await self.pool.mark_down(router.name, str(exc))
                log.warning("fair usage on %s stopped: %s", router.name, exc)
                return current
            except RouterRefused as exc:  # one refusal must not leave the rest at the wrong speed
                log.warning("fair usage: could not change %s on %s: %s", grant["username"], router.name, exc)
                continue
            changed += 1
        if factor == current:
            return factor
        async with self.db.write_lock():
            await FairUsageChange.insert(
                FairUsageChange(
                    router=router.name,
                    at=self.clock(),
                    active_users=online,
                    factor_before=current,
                    factor_after=factor,
                    sessions_changed=changed,
                )
            ).run()
        await self.pool.set_speed_factor(router.name, factor)
        log.info(
            "fair usage on %s: %s users online, speed factor %.2f -> %.2f (%s sessions changed)",
            router.name,
            online,
            current,
            factor,
            changed,
        )
        return factor


def _grew(row: dict[str, Any], session: ActiveSession) -> bool:
    return bool(
        session.bytes_in >= row["bytes_in"]
        and session.bytes_out >= row["bytes_out"]
        and session.uptime_seconds >= row["uptime_seconds"]
    )


def _changed(row: dict[str, Any], session: ActiveSession) -> bool:
    return bool(
        (session.bytes_in, session.bytes_out, session.uptime_seconds, session.ip)
        != (row["bytes_in"], row["bytes_out"], row["uptime_seconds"], row["ip"])
    )


def _counters(row: dict[str, Any], s: ActiveSession, now: float) -> tuple[Any, ...]:
    """SESSION_COUNTERS' values: the router's counters, and bits/s since the row was last written."""
    elapsed = now - float(row["last_seen_at"])
    if elapsed > 0:
        rates = (
            int((s.bytes_in - row["bytes_in"]) * 8 / elapsed),
            int((s.bytes_out - row["bytes_out"]) * 8 / elapsed),
        )
    else:
        rates = (int(row["rate_in_bps"]), int(row["rate_out_bps"]))
    return (s.bytes_in, s.bytes_out, s.uptime_seconds, s.ip, now, *rates)


def _new_session(grant_id: int, router: str, session: ActiveSession, now: float) -> Session:
    return Session(
        grant=grant_id,
        router=router,
        router_session_id=session.session_id,
        mac=session.mac,
        ip=session.ip,
        started_at=now - session.uptime_seconds,
        last_seen_at=now,
        uptime_seconds=session.uptime_seconds,
        bytes_in=session.bytes_in,
        bytes_out=session.bytes_out,
    )


def _at(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)
