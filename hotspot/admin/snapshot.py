"""The live overview's numbers: who is online where, money in, payments in flight, router
health and recent security events, in one snapshot.

Why one snapshot object: the overview page, its server-sent refreshes and its tests read the
same thing, and every part is a cheap indexed query (open sessions per router, today's paid
orders...), so a refresh every few seconds costs the box nothing worth caching.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hotspot.accounts.security_log import SecurityFilter, SecurityLog
from hotspot.admin.payments import PaymentList, PaymentRow
from hotspot.admin.sessions import Sessions
from hotspot.analytics.reports import Reports
from hotspot.routers.pool import RouterPool

__all__ = ["Overview", "OverviewService", "RouterCard"]


@dataclass(frozen=True)
class RouterCard:
    name: str
    site: str
    status: str  # ok | degraded | down | unknown
    detail: str
    latency_ms: float | None
    online: int  # devices online on it, as the last usage sync saw
    speed_factor: float  # below 1 while fair usage slows it down
    checked_at: float | None


@dataclass(frozen=True)
class Overview:
    online: int
    routers: list[RouterCard]
    sites: dict[str, int]  # devices online per site
    revenue: dict[int, dict[str, int]]  # last N days -> currency -> minor units
    in_flight: list[PaymentRow]
    security: list[dict[str, Any]]
    at: float = field(default_factory=time.time)

    @property
    def routers_down(self) -> list[str]:
        return [r.name for r in self.routers if r.status == "down"]


class OverviewService:
    def __init__(
        self,
        pool: RouterPool,
        reports: Reports,
        payments: PaymentList,
        security: SecurityLog,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.reports = reports
        self.payments = payments
        self.security = security
        self.clock = clock

    async def snapshot(self, *, security_limit: int = 8, in_flight_limit: int = 10) -> Overview:
        online_by_router = await Sessions.active_by_router()
        statuses = await self.pool.statuses()
        cards: list[RouterCard] = []
        sites: dict[str, int] = defaultdict(int)
        for name, router in sorted(self.pool.routers.items()):
            row = statuses.get(name, {})
            online = online_by_router.get(name, 0)
            site = router.settings.site
            sites[site] += online
            cards.append(
                RouterCard(
                    name=name,
                    site=site,
                    status=str(row.get("status") or "unknown"),
                    detail=str(row.get("detail") or ""),
                    latency_ms=row.get("latency_ms"),
                    online=online,
                    speed_factor=float(row.get("speed_factor") or 1.0),
                    checked_at=row.get("checked_at"),
                )
            )
        events, _ = await self.security.search(SecurityFilter(), limit=security_limit)
        return Overview(
            online=sum(online_by_router.values()),
            routers=cards,
            sites=dict(sites),
            revenue=await self.reports.revenue_totals((1, 7, 30)),
            in_flight=await self.payments.in_flight(in_flight_limit),
            security=events,
            at=self.clock(),
        )
