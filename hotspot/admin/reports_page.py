"""The reports page (/admin/reports): revenue and usage by day, week or month, split by package,
gateway or router, as a chart (vendored ECharts, drawn by web/static/js/dashboard.js from a JSON
data island: the CSP allows no inline script) and a table; and the same report as CSV.

Money stays in minor units up to the browser: the data island carries them with the divisor
that turns them into the currency's major unit for the axis. Later report kinds (PDF, e-mailed
schedules, heatmaps) add a `kind` here and a template block; the query parsing is shared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.response import Stream, Template

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.web import page
from hotspot.analytics.reports import (
    GROUPINGS,
    PERIODS,
    ReportError,
    Reports,
    RevenueRow,
    UsageRow,
    buckets,
    to_csv,
)
from hotspot.billing.currencies import exponent, format_money
from hotspot.config import FIRST_DAY, LAST_DAY
from hotspot.contracts import Money
from hotspot.portal.format import format_bytes, format_duration
from hotspot.runtime import Hotspot

__all__ = ["REPORTS_HANDLERS", "ReportQuery", "chart_data"]

Kind = Literal["revenue", "usage"]
KINDS: tuple[Kind, ...] = ("revenue", "usage")
DEFAULT_SPAN = {"day": 30, "week": 7 * 12, "month": 365}  # days shown when no dates are given
USAGE_GROUPINGS = ("package", "router")


@dataclass(frozen=True)
class ReportQuery:
    kind: Kind
    period: str
    by: str | None
    first: date
    last: date

    def params(self, **change: str) -> dict[str, str]:
        out = {
            "kind": self.kind,
            "period": self.period,
            "by": self.by or "",
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
        }
        out.update(change)
        return {k: v for k, v in out.items() if v}

    def link(self, path: str = "/admin/reports", **change: str) -> str:
        return f"{path}?{urlencode(self.params(**change))}"


def _date(raw: str | None, field: str) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise ReportError("write the date as YYYY-MM-DD", field) from None
    if not FIRST_DAY <= day <= LAST_DAY:  # 9999-12-31 has no next midnight: the buckets overflow
        raise ReportError(f"pick a day from {FIRST_DAY.year} to {LAST_DAY.year}", field)
    return day


def parse_query(params: Any, today: date) -> ReportQuery:
    """The report asked for in the URL; bad values raise ReportError naming the parameter."""
    kind = params.get("kind") or "revenue"
    if kind not in KINDS:
        raise ReportError("kind must be revenue or usage", "kind")
    period = params.get("period") or "day"
    if period not in PERIODS:
        raise ReportError(f"period must be one of {', '.join(PERIODS)}", "period")
    by = params.get("by") or None
    allowed = GROUPINGS if kind == "revenue" else USAGE_GROUPINGS
    if by is not None and by not in allowed:
        raise ReportError(f"{kind} can be split by {', '.join(allowed)}", "by")
    last = _date(params.get("to"), "to") or today
    first = _date(params.get("from"), "from") or last - timedelta(days=DEFAULT_SPAN[period] - 1)
    return ReportQuery(kind, period, by, first, last)


def chart_data(query: ReportQuery, rows: list[Any], tz: ZoneInfo) -> dict[str, Any]:
    """The data island for the chart: every bucket (empty ones as 0), one series per group
    (and per currency for revenue), values in minor units or bytes with their divisor."""
    labels = [b.label for b in buckets(query.first, query.last, query.period, tz)]  # type: ignore[arg-type]
    index = {label: i for i, label in enumerate(labels)}
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(labels))
    divisors: dict[str, int] = {}
    for row in rows:
        if isinstance(row, RevenueRow):
            name = f"{row.group} ({row.currency})" if query.by else row.currency
            series[name][index[row.bucket]] += row.amount
            divisors[name] = 10 ** exponent(row.currency)
        else:
            name = row.group or "All"
            series[name][index[row.bucket]] += row.bytes_in + row.bytes_out
            divisors[name] = 10**9
    return {
        "kind": query.kind,
        "unit": "GB" if query.kind == "usage" else "",
        "labels": labels,
        "series": [{"name": n, "values": v, "divisor": divisors[n]} for n, v in sorted(series.items())],
    }


async def _rows(reports: Reports, query: ReportQuery) -> list[RevenueRow] | list[UsageRow]:
    by: Any = query.by
    period: Any = query.period
    if query.kind == "revenue":
        return await reports.revenue(query.first, query.last, period, by)
    return await reports.usage(query.first, query.last, period, by)


@get("/admin/reports", include_in_schema=False, cache=False, guards=[requires("reports.read")])
async def reports_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    timezone = hotspot.settings.business.timezone
    reports = Reports(hotspot.db, timezone)
    errors: dict[str, str] = {}
    rows: list[Any] = []
    chart: dict[str, Any] | None = None
    try:
        query = parse_query(request.query_params, reports.today())
        rows = list(await _rows(reports, query))
        chart = chart_data(query, rows, ZoneInfo(timezone))
    except ReportError as exc:
        errors = {exc.field: str(exc)}
        today = reports.today()
        query = ReportQuery("revenue", "day", None, today - timedelta(days=29), today)
    return page(
        request,
        "admin/reports.html",
        principal=principal,
        active="reports",
        title="Reports",
        status_code=400 if errors else 200,
        query=query,
        raw=request.query_params,
        rows=rows,
        chart=chart,
        errors=errors,
        kinds=KINDS,
        periods=PERIODS,
        groupings=GROUPINGS,
        usage_groupings=USAGE_GROUPINGS,
        can_export=principal.can("exports.run"),
        money=lambda amount, currency: format_money(Money(amount, currency)),
        fmt_bytes=format_bytes,
        fmt_duration=format_duration,
    )


@get("/admin/reports/export", include_in_schema=False, cache=False, guards=[requires("exports.run")])
async def reports_export(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Stream:
    """The report as CSV (one row per bucket, group and currency; money in minor units)."""
    reports = Reports(hotspot.db, hotspot.settings.business.timezone)
    try:
        query = parse_query(request.query_params, reports.today())
        rows = await _rows(reports, query)
    except ReportError as exc:
        raise ClientException(f"{exc.field}: {exc}") from None
    kind: Any = RevenueRow if query.kind == "revenue" else UsageRow

    async def body() -> AsyncIterator[str]:
        for chunk in to_csv(kind, rows):
            yield chunk

    name = (
        f"{query.kind}-{query.period}{'-by-' + query.by if query.by else ''}-{query.first}-{query.last}.csv"
    )
    return Stream(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


REPORTS_HANDLERS = [reports_page, reports_export]
