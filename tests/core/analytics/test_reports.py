"""Reports on both backends: local-time buckets, per-currency sums, groupings, CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hotspot.access.tables import Grant, Session
from hotspot.analytics.reports import ReportError, Reports, RevenueRow, UsageRow, buckets, to_csv
from hotspot.config import Settings
from hotspot.db import Database, all_tables, migrate
from hotspot.payments.tables import Order, Payment

NAIROBI = ZoneInfo("Africa/Nairobi")
LONDON = ZoneInfo("Europe/London")


def at(tz: ZoneInfo, *parts: int) -> float:
    return datetime(*parts, tzinfo=tz).timestamp()  # type: ignore[arg-type,misc]


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    await database.open(all_tables())
    await migrate(database)
    yield database
    await database.close()


async def sale(
    n: int,
    paid_at: float | None,
    amount: int,
    currency: str = "KES",
    package: str = "1 hour",
    gateway: str = "mpesa",
    router: str = "r1",
) -> None:
    grant = Grant(
        username=f"u{n}",
        password="p",
        profile=package,
        created_at=paid_at or 0,
        router=router,
        state="active",
    )
    await grant.save().run()
    await (
        Order(
            id=f"o{n}",
            package_id=1,
            package_name=package,
            terms={},
            amount=amount,
            currency=currency,
            state="paid" if paid_at is not None else "open",
            grant_id=grant.id,
            created_at=paid_at or 0,
            paid_at=paid_at,
        )
        .save()
        .run()
    )
    await (
        Payment(
            id=f"p{n}",
            order_id=f"o{n}",
            gateway=gateway,
            amount=amount,
            currency=currency,
            state="succeeded" if paid_at is not None else "failed",
            created_at=paid_at or 0,
            updated_at=paid_at or 0,
        )
        .save()
        .run()
    )
    # a failed earlier attempt on the same order must not count twice
    await (
        Payment(
            id=f"f{n}",
            order_id=f"o{n}",
            gateway=gateway,
            amount=amount,
            currency=currency,
            state="cancelled",
            created_at=0,
            updated_at=0,
        )
        .save()
        .run()
    )
    await (
        Session(
            grant=grant.id,
            router=router,
            router_session_id="*1",
            mac="AA:BB:CC:DD:EE:01",
            ip="10.5.50.2",
            started_at=paid_at or 0,
            last_seen_at=paid_at or 0,
            uptime_seconds=600,
            bytes_in=1000 * n,
            bytes_out=2000 * n,
        )
        .save()
        .run()
    )


def test_days_follow_daylight_saving() -> None:
    """Europe/London's spring-forward day has 23 hours; a fixed 86,400 s bucket would drift."""
    [spring] = buckets(date(2026, 3, 29), date(2026, 3, 29), "day", LONDON)
    assert spring.end - spring.start == 23 * 3600
    weeks = buckets(date(2026, 11, 25), date(2026, 12, 2), "week", NAIROBI)
    assert [b.label for b in weeks] == ["2026-11-23", "2026-11-30"]  # Mondays
    months = buckets(date(2026, 1, 31), date(2026, 3, 1), "month", NAIROBI)
    assert [b.label for b in months] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert months[1].end == at(NAIROBI, 2026, 3, 1)


@pytest.mark.parametrize(
    ("first", "last", "period", "field"),
    [
        (date(2026, 2, 1), date(2026, 1, 1), "day", "until"),
        (date(2020, 1, 1), date(2026, 1, 1), "day", "period"),
        (date(2026, 1, 1), date(2026, 1, 2), "year", "period"),
    ],
)
def test_bad_ranges_name_the_parameter(first: date, last: date, period: str, field: str) -> None:
    with pytest.raises(ReportError) as caught:
        buckets(first, last, period, NAIROBI)  # type: ignore[arg-type]
    assert caught.value.field == field


async def test_revenue_by_day_in_local_time_per_currency(db: Database) -> None:
    await sale(1, at(NAIROBI, 2026, 11, 24, 23, 30), 5000)  # 23:30 Nairobi = 20:30 UTC: still the 24th
    await sale(2, at(NAIROBI, 2026, 11, 25, 0, 15), 2000)  # 00:15 Nairobi = 21:15 UTC on the 24th
    await sale(3, at(NAIROBI, 2026, 11, 25, 12, 0), 150, currency="USD")
    await sale(4, None, 9999)  # never paid
    await sale(5, at(NAIROBI, 2026, 11, 27, 9, 0), 100_000, currency="UGX")
    reports = Reports(db, "Africa/Nairobi")
    rows = await reports.revenue(date(2026, 11, 24), date(2026, 11, 27), "day")
    assert rows == [
        RevenueRow("2026-11-24", None, "KES", 1, 5000),
        RevenueRow("2026-11-25", None, "KES", 1, 2000),
        RevenueRow("2026-11-25", None, "USD", 1, 150),
        RevenueRow("2026-11-27", None, "UGX", 1, 100_000),
    ]
    weekly = await reports.revenue(date(2026, 11, 24), date(2026, 11, 27), "week")
    assert weekly == [
        RevenueRow("2026-11-23", None, "KES", 2, 7000),
        RevenueRow("2026-11-23", None, "UGX", 1, 100_000),
        RevenueRow("2026-11-23", None, "USD", 1, 150),
    ]


async def test_revenue_split_by_package_gateway_and_router(db: Database) -> None:
    noon = at(NAIROBI, 2026, 11, 25, 12)
    await sale(1, noon, 5000, package="1 day", gateway="mpesa", router="r1")
    await sale(2, noon + 60, 2000, package="1 hour", gateway="mpesa", router="r2")
    await sale(3, noon + 120, 2000, package="1 hour", gateway="card", router="r2")
    reports = Reports(db, "Africa/Nairobi")
    day = date(2026, 11, 25)
    by_package = await reports.revenue(day, day, "day", by="package")
    assert [(r.group, r.orders, r.amount) for r in by_package] == [("1 day", 1, 5000), ("1 hour", 2, 4000)]
    by_gateway = await reports.revenue(day, day, "day", by="gateway")
    assert [(r.group, r.amount) for r in by_gateway] == [("card", 2000), ("mpesa", 7000)]
    by_router = await reports.revenue(day, day, "month", by="router")
    assert [(r.bucket, r.group, r.amount) for r in by_router] == [
        ("2026-11-01", "r1", 5000),
        ("2026-11-01", "r2", 4000),
    ]
    with pytest.raises(ReportError):
        await reports.revenue(day, day, "day", by="colour")  # type: ignore[arg-type]


async def test_usage_by_router_and_csv(db: Database) -> None:
    noon = at(NAIROBI, 2026, 11, 25, 12)
    await sale(1, noon, 5000, router="r1")
    await sale(2, noon, 5000, router="r2")
    await sale(3, noon + 86400, 5000, router="r2")
    reports = Reports(db, "Africa/Nairobi")
    rows = await reports.usage(date(2026, 11, 25), date(2026, 11, 26), "day", by="router")
    assert rows == [
        UsageRow("2026-11-25", "r1", 1, 1000, 2000, 600),
        UsageRow("2026-11-25", "r2", 1, 2000, 4000, 600),
        UsageRow("2026-11-26", "r2", 1, 3000, 6000, 600),
    ]
    text = "".join(to_csv(UsageRow, rows))
    assert text.splitlines()[0] == "bucket,group,sessions,bytes_in,bytes_out,seconds"
    assert text.splitlines()[1] == "2026-11-25,r1,1,1000,2000,600"
    assert "".join(to_csv(RevenueRow, [])).strip() == "bucket,group,currency,orders,amount"
    with pytest.raises(ReportError):
        await reports.usage(date(2026, 11, 25), date(2026, 11, 26), by="gateway")


async def test_revenue_totals_for_the_overview(db: Database) -> None:
    reports = Reports(db, "Africa/Nairobi")
    now = datetime.now(NAIROBI)
    await sale(1, now.timestamp() - 1, 5000)
    await sale(2, now.timestamp() - 3 * 86400, 2000)
    await sale(3, now.timestamp() - 40 * 86400, 7000)
    totals = await reports.revenue_totals()
    assert totals[1] == {"KES": 5000}
    assert totals[7] == {"KES": 7000}
    assert totals[30] == {"KES": 7000}
