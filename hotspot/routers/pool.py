"""The router pool: configured routers, their drivers, their last known state, and placement.

State lives in the `hotspot_router_status` table so every app process places grants on the
same picture. `check()` probes every router (run by a recurring job); a command that fails
on a router marks it down at once (`mark_down`), so the next attempt fails over to a peer.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from hotspot.config import RouterPoolSettings, RouterSettings
from hotspot.contracts import Health, HealthStatus, RouterDriver, RouterStatusChanged, RouterTarget
from hotspot.errors import ConfigError, ConfigProblem, HotspotError
from hotspot.health import gather_health
from hotspot.routers.tables import RouterStatus

__all__ = ["NoRouterAvailable", "PooledRouter", "RouterPool"]

Emit = Callable[..., Awaitable[Any]]
USABLE: tuple[str, ...] = ("ok", "degraded", "unknown")


class NoRouterAvailable(HotspotError):
    """No router that can reach the customer is up; the grant waits and is retried."""


@dataclass(frozen=True)
class PooledRouter:
    """A router with its settings, the driver that speaks to it and the target handed to it."""

    settings: RouterSettings
    driver: RouterDriver
    target: RouterTarget

    @property
    def name(self) -> str:
        return self.settings.name


class RouterPool:
    """Every configured router; raises ConfigError when one names a driver nobody provides."""

    def __init__(
        self,
        routers: list[RouterSettings],
        drivers: Mapping[str, RouterDriver],
        *,
        source: str | None = None,
        settings: RouterPoolSettings | None = None,
        emit: Emit | None = None,
        clock: Callable[[], float] = time.time,
        write_lock: Callable[[], contextlib.AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self.settings = settings or RouterPoolSettings()
        self._write_lock = write_lock or contextlib.nullcontext
        self.emit = emit
        self.clock = clock
        self.drivers = drivers
        self.routers: dict[str, PooledRouter] = {}
        problems: list[ConfigProblem] = []
        for index, router in enumerate(routers):
            if router.driver not in drivers:
                known = ", ".join(sorted(drivers)) or "none: enable a router plugin under plugins:"
                problems.append(
                    ConfigProblem(
                        f"routers[{index}].driver",
                        f"no enabled plugin provides router driver {router.driver!r} (available: {known})",
                        source,
                    )
                )
        if problems:
            raise ConfigError(problems)
        self.reload(routers)

    def reload(self, routers: list[RouterSettings]) -> None:
        """Replace the set of routers (config + admin); drivers were checked when each was added."""
        pooled: dict[str, PooledRouter] = {}
        for router in routers:
            pooled[router.name] = PooledRouter(router, self.drivers[router.driver], router.target())
        self.routers = pooled

    def get(self, name: str) -> PooledRouter:
        try:
            return self.routers[name]
        except KeyError:
            raise NoRouterAvailable(f"router {name!r} is not configured") from None

    # --- state -----------------------------------------------------------------------------

    async def probe(self, budget: float = 5.0) -> dict[str, Health]:
        """Ask every router at once; one that does not answer in time is down, not a hang."""
        results = await gather_health(
            {name: partial(r.driver.health, r.target) for name, r in self.routers.items()}, budget
        )
        slow = self.settings.slow_ms
        for name, health in results.items():
            if health.status == "ok" and health.latency_ms is not None and health.latency_ms > slow:
                detail = f"slow: {health.latency_ms:.0f} ms (> {slow:.0f} ms)"
                results[name] = Health("degraded", detail, health.latency_ms)
        return results

    async def check(self, budget: float = 5.0) -> dict[str, Health]:
        """Probe every router, record the result, and announce every change of state."""
        results = await self.probe(budget)
        for name, health in results.items():
            await self.record(name, health)
        return results

    async def record(self, name: str, health: Health) -> None:
        """Store a router's state; emit router_status_changed when up/degraded/down changed."""
        now = self.clock()
        values: dict[Any, Any] = {
            "status": health.status,
            "detail": health.detail[:300],
            "latency_ms": health.latency_ms,
            "checked_at": now,
        }
        old = await self._upsert(name, values, status=health.status)
        previous = _status(old)
        if previous != health.status and self.emit is not None:
            event = RouterStatusChanged(
                name, previous, health.status, health.detail, datetime.fromtimestamp(now, UTC)
            )
            await self.emit("router_status_changed", event=event)

    async def set_active_sessions(self, name: str, count: int) -> None:
        """Usage sync's count of users online, used for placement and fair usage."""
        await self._upsert(name, {"active_sessions": count})

    async def set_speed_factor(self, name: str, factor: float) -> None:
        """The fair-usage factor now applied to the router's sessions."""
        await self._upsert(name, {"speed_factor": factor})

    async def speed_factor(self, name: str) -> float:
        row = (
            await RouterStatus.select(RouterStatus.speed_factor)
            .where(RouterStatus.name == name)
            .first()
            .run()
        )
        return float(row["speed_factor"]) if row else 1.0

    async def _upsert(self, name: str, values: dict[Any, Any], *, status: str | None = None) -> str | None:
        """Update the router's row (creating it the first time); return its previous status."""
        async with self._write_lock():
            rows = await RouterStatus.select(RouterStatus.status).where(RouterStatus.name == name).run()
            old = rows[0]["status"] if rows else None
            if status is not None and old != status:
                values = {**values, "changed_at": self.clock()}
            # Atomic: another process (or a concurrent job) may be creating the same row.
            await (
                RouterStatus.insert(RouterStatus(name=name, **values))
                .on_conflict(
                    target=RouterStatus.name,
                    action="DO UPDATE",
                    values=[(getattr(RouterStatus, key), value) for key, value in values.items()],
                )
                .run()
            )
        return str(old) if old is not None else None

    async def mark_down(self, name: str, reason: str) -> None:
        """A command just failed on this router: stop placing grants there until a check says otherwise."""
        await self.record(name, Health("down", reason))

    async def statuses(self) -> dict[str, dict[str, Any]]:
        rows = await RouterStatus.select().run()
        return {row["name"]: row for row in rows if row["name"] in self.routers}

    async def health(self, budget: float = 5.0) -> dict[str, Health]:
        """For /healthz: the last recorded state, probing routers whose state is missing or stale."""
        statuses = await self.statuses()
        stale_after = 3 * self.settings.health_seconds
        now = self.clock()
        if any(
            name not in statuses or (statuses[name]["checked_at"] or 0) < now - stale_after
            for name in self.routers
        ):
            await self.check(budget)
            statuses = await self.statuses()
        out: dict[str, Health] = {}
        for name in self.routers:
            row = statuses.get(name)
            if row is None:
                out[name] = Health("down", "never checked")
                continue
            status: HealthStatus = _status(row["status"]) or "down"
            out[name] = Health(
                status,
                row["detail"],
                row["latency_ms"],
                {
                    "active_sessions": row["active_sessions"],
                    "speed_factor": row["speed_factor"],
                    "checked_at": row["checked_at"],
                },
            )
        return out

    # --- placement -------------------------------------------------------------------------

    async def place(self, hint: str | None = None, site: str | None = None) -> PooledRouter:
        """Where a new grant goes: the router the customer is behind when it is up, else the
        least loaded (per weight) healthy router of the same site."""
        if hint is not None and hint in self.routers:
            site = self.routers[hint].settings.site
        candidates = [r for r in self.routers.values() if site is None or r.settings.site == site]
        if not candidates:
            where = f"site {site!r}" if site else "the pool"
            raise NoRouterAvailable(f"no router is configured for {where}")
        statuses = await self.statuses()

        def state(router: PooledRouter) -> str:
            return str(statuses.get(router.name, {}).get("status", "unknown"))

        usable = [r for r in candidates if state(r) in USABLE]
        if not usable:
            reasons = "; ".join(
                f"{r.name}: {statuses.get(r.name, {}).get('detail', 'down')}" for r in candidates
            )
            raise NoRouterAvailable(f"every router that can reach the customer is down ({reasons})")
        if hint is not None and any(r.name == hint for r in usable):
            return self.routers[hint]

        def load(router: PooledRouter) -> tuple[int, float, str]:
            rank = 1 if state(router) == "degraded" else 0
            sessions = int(statuses.get(router.name, {}).get("active_sessions", 0) or 0)
            return rank, sessions / router.settings.weight, router.name

        return min(usable, key=load)


def _status(value: str | None) -> HealthStatus | None:
    if value == "ok":
        return "ok"
    if value == "degraded":
        return "degraded"
    if value == "down":
        return "down"
    return None
