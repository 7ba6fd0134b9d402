"""Revenue and usage by day, week or month, split by package, gateway or router.

Why buckets are computed here and joined in SQL: a "day" is a day in the business's time zone,
and zones with daylight saving have 23- and 25-hour days, so `paid_at / 86400` is wrong there.
Python computes the exact local boundaries; one query joins them as a VALUES list, which runs
the same on SQLite and PostgreSQL and uses the index on the time column.

Money is summed per currency (integer minor units), never converted: a report in KES and USD
shows both. A session's usage counts in the bucket where it started.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from hotspot.db import Database
from hotspot.payments.tables import Order

__all__ = [
    "Bucket",
    "Grouping",
    "Period",
    "ReportError",
    "Reports",
    "RevenueRow",
    "UsageRow",
    "buckets",
    "to_csv",
]

Period = Literal["day", "week", "month"]
Grouping = Literal["package", "gateway", "router"]
PERIODS: tuple[str, ...] = get_args(Period)
GROUPINGS: tuple[str, ...] = get_args(Grouping)
MAX_BUCKETS = 400  # a year of days, eight years of weeks, thirty of months


class ReportError(ValueError):
    """The report cannot be made as asked (the message names the parameter)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Bucket:
    """[start, end) in UNIX seconds, labelled by its local start date."""

    label: str
    start: float
    end: float


@dataclass(frozen=True)
class RevenueRow:
    bucket: str
    group: str | None
    currency: str
    orders: int
    amount: int  # minor units


@dataclass(frozen=True)
class UsageRow:
    bucket: str
    group: str | None
    sessions: int
    bytes_in: int
    bytes_out: int
    seconds: int


def _period_start(day: date, period: Period) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if period == "month":
        return day.replace(day=1)
    return day


def _next(day: date, period: Period) -> date:
    if period == "day":
        return day + timedelta(days=1)
    if period == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def buckets(first: date, last: date, period: Period, tz: ZoneInfo) -> list[Bucket]:
    """Local-time buckets covering first..last (inclusive), aligned to the period."""
    if period not in PERIODS:
        raise ReportError(f"period must be one of {', '.join(PERIODS)}", "period")
    if last < first:
        raise ReportError("the end date is before the start date", "until")
    out: list[Bucket] = []
    day = _period_start(first, period)
    while day <= last:
        following = _next(day, period)
        start = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
        end = datetime(following.year, following.month, following.day, tzinfo=tz).timestamp()
        out.append(Bucket(day.isoformat(), start, end))
        if len(out) > MAX_BUCKETS:
            raise ReportError(f"too long a range for {period}s: pick a longer period", "period")
        day = following
    return out


def _values(bs: Sequence[Bucket]) -> tuple[str, list[Any]]:
    """A VALUES list of (label, start, end), typed so PostgreSQL needs no guessing."""
    rows = ", ".join(
        "(CAST({} AS VARCHAR(10)), CAST({} AS DOUBLE PRECISION), CAST({} AS DOUBLE PRECISION))" for _ in bs
    )
    args: list[Any] = []
    for b in bs:
        args += [b.label, b.start, b.end]
    return rows, args


_REVENUE_GROUP = {
    "package": "o.package_name",
    "gateway": "p.gateway",
    "router": "COALESCE(g.router, o.router)",
}
_USAGE_GROUP = {"package": "g.profile", "router": "s.router", "gateway": None}


class Reports:
    """Read-only aggregates for the admin's reports page and its CSV export."""

    def __init__(self, db: Database, timezone: str) -> None:
        self.db = db
        self.tz = ZoneInfo(timezone)

    def today(self) -> date:
        return datetime.now(self.tz).date()

    async def revenue(
        self, first: date, last: date, period: Period = "day", by: Grouping | None = None
    ) -> list[RevenueRow]:
        """Paid orders per bucket (and group), per currency; empty buckets are left out."""
        if by is not None and by not in GROUPINGS:
            raise ReportError(f"by must be one of {', '.join(GROUPINGS)}", "by")
        bs = buckets(first, last, period, self.tz)
        values, args = _values(bs)
        group = _REVENUE_GROUP[by] if by else "NULL"
        # The succeeded payment names the gateway; an order is paid by at most one.
        sql = (
            f"WITH b(label, start_at, end_at) AS (VALUES {values})"  # noqa: S608 (placeholders and fixed SQL)
            f" SELECT b.label AS bucket, {group} AS grp, o.currency AS currency,"
            " COUNT(*) AS orders, SUM(o.amount) AS amount"
            " FROM b JOIN hotspot_order o ON o.paid_at >= b.start_at AND o.paid_at < b.end_at"
            " LEFT JOIN hotspot_payment p ON p.order_id = o.id AND p.state = 'succeeded'"
            " LEFT JOIN hotspot_grant g ON g.id = o.grant_id"
            " WHERE o.state = 'paid'"
            f" GROUP BY b.label, {group + ', ' if by else ''}o.currency"
            " ORDER BY b.label, grp, o.currency"
        )
        rows = await Order.raw(sql, *args).run()
        return [
            RevenueRow(
                bucket=str(r["bucket"]),
                group=None if r["grp"] is None else str(r["grp"]),
                currency=str(r["currency"]),
                orders=int(r["orders"]),
                amount=int(r["amount"]),
            )
            for r in rows
        ]

    async def usage(
        self, first: date, last: date, period: Period = "day", by: Grouping | None = None
    ) -> list[UsageRow]:
        """Sessions started per bucket (and package or router) with their traffic and time."""
        if by is not None and (by not in GROUPINGS or _USAGE_GROUP[by] is None):
            raise ReportError("usage can be split by package or router", "by")
        bs = buckets(first, last, period, self.tz)
        values, args = _values(bs)
        group = (_USAGE_GROUP[by] if by else None) or "NULL"
        sql = (
            f"WITH b(label, start_at, end_at) AS (VALUES {values})"  # noqa: S608 (placeholders and fixed SQL)
            f" SELECT b.label AS bucket, {group} AS grp, COUNT(*) AS sessions,"
            " SUM(s.bytes_in) AS bytes_in, SUM(s.bytes_out) AS bytes_out, SUM(s.uptime_seconds) AS seconds"
            " FROM b JOIN hotspot_session s ON s.started_at >= b.start_at AND s.started_at < b.end_at"
            " JOIN hotspot_grant g ON g.id = s.grant"
            f" GROUP BY b.label{', ' + group if by else ''}"
            " ORDER BY b.label, grp"
        )
        rows = await Order.raw(sql, *args).run()
        return [
            UsageRow(
                bucket=str(r["bucket"]),
                group=None if r["grp"] is None else str(r["grp"]),
                sessions=int(r["sessions"]),
                bytes_in=int(r["bytes_in"] or 0),
                bytes_out=int(r["bytes_out"] or 0),
                seconds=int(r["seconds"] or 0),
            )
            for r in rows
        ]

    async def revenue_totals(self, days: Iterable[int] = (1, 7, 30)) -> dict[int, dict[str, int]]:
        """Revenue per currency over the last N local days (1 = today), for the overview."""
        today = self.today()
        out: dict[int, dict[str, int]] = {}
        for n in days:
            first = today - timedelta(days=n - 1)
            start = datetime(first.year, first.month, first.day, tzinfo=self.tz).timestamp()
            rows = await Order.raw(
                "SELECT currency, SUM(amount) AS amount FROM hotspot_order"
                " WHERE state = 'paid' AND paid_at >= {} GROUP BY currency ORDER BY currency",
                start,
            ).run()
            out[n] = {str(r["currency"]): int(r["amount"]) for r in rows}
        return out


def to_csv(kind: type[RevenueRow] | type[UsageRow], rows: Iterable[RevenueRow | UsageRow]) -> Iterator[str]:
    """CSV text in chunks (a header, then one line per row) for a streamed download."""
    names = [f.name for f in fields(kind)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if getattr(row, n) is None else getattr(row, n) for n in names])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
