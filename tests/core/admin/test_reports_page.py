"""The reports page through the app: revenue and usage by period and group, the chart's data
island, kept input and named errors, the CSV export and who may see what; on both backends."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from admin_support import Box
from bs4 import BeautifulSoup

from hotspot.access.tables import Grant, Session
from hotspot.payments.tables import Order, Payment

NOW = time.time()


def seed(box: Box) -> None:
    """Today: two paid orders (KES 20 and KES 50, M-Pesa) and one open; one session of 3 MB."""

    async def go() -> None:
        for oid, name, amount, state in (
            ("o1", "1 hour", 2000, "paid"),
            ("o2", "1 day", 5000, "paid"),
            ("o3", "1 day", 5000, "open"),
        ):
            await (
                Order(
                    id=oid,
                    package_id=1,
                    package_name=name,
                    terms={},
                    amount=amount,
                    currency="KES",
                    phone="254712345678",
                    created_at=NOW,
                    state=state,
                    paid_at=NOW if state == "paid" else None,
                )
                .save()
                .run()
            )
            if state == "paid":
                await (
                    Payment(
                        id=f"p{oid}",
                        order_id=oid,
                        gateway="mpesa",
                        amount=amount,
                        currency="KES",
                        state="succeeded",
                        created_at=NOW,
                        updated_at=NOW,
                        settled_at=NOW,
                    )
                    .save()
                    .run()
                )
        grant = Grant(
            username="G1",
            password="p",
            profile="1 hour",
            source="order",
            source_ref="o1",
            seconds=3600,
            created_at=NOW,
            state="active",
        )
        await grant.save().run()
        await (
            Session(
                grant=grant.id,
                router="cafe",
                router_session_id="*1",
                mac="AA:BB:CC:00:00:01",
                ip="10.5.50.2",
                started_at=NOW,
                last_seen_at=NOW,
                bytes_in=1_000_000,
                bytes_out=2_000_000,
                uptime_seconds=600,
            )
            .save()
            .run()
        )

    box.run(go)


def island(html: str) -> dict[str, object]:
    tag = BeautifulSoup(html, "html.parser").select_one("script#report-data[type='application/json']")
    assert tag is not None
    data: dict[str, object] = json.loads(tag.get_text())
    return data


async def test_revenue_and_usage_with_the_chart_data(box: Box) -> None:
    seed(box)
    box.admin("money", "accountant")
    browser = await box.signed_in("money")
    page = await browser.get("/admin/reports")
    assert page.status_code == 200
    assert "/static/vendor/echarts/echarts.min.js" in page.text and "<script>" not in page.text
    data = island(page.text)
    assert data["kind"] == "revenue" and len(data["labels"]) == 30  # type: ignore[arg-type]
    [kes] = data["series"]  # type: ignore[misc]
    assert kes["name"] == "KES" and kes["divisor"] == 100 and sum(kes["values"]) == 7000  # minor units
    assert "KES 70" in page.text

    by_package = await browser.get("/admin/reports?period=month&by=package")
    names = sorted(s["name"] for s in island(by_package.text)["series"])  # type: ignore[attr-defined]
    assert names == ["1 day (KES)", "1 hour (KES)"]
    by_gateway = island((await browser.get("/admin/reports?by=gateway&period=week")).text)
    assert [s["name"] for s in by_gateway["series"]] == ["mpesa (KES)"]  # type: ignore[attr-defined]

    usage = await browser.get("/admin/reports?kind=usage&by=router")
    data = island(usage.text)
    [cafe] = data["series"]  # type: ignore[misc]
    assert data["unit"] == "GB" and cafe["name"] == "cafe" and sum(cafe["values"]) == 3_000_000
    assert "2 MB" in usage.text and "10 minutes" in usage.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "From"),
        ("period=hour", "By"),
        ("kind=usage&by=gateway", "Split by"),
        ("from=2026-05-01&to=2026-04-01", "To"),
        ("to=9999-12-31", "To"),  # its next midnight overflowed: a 500
    ],
)
async def test_bad_input_is_named_and_kept(box: Box, query: str, field: str) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    page = await browser.get(f"/admin/reports?{query}")
    assert page.status_code == 400
    assert f"<strong>{field}:</strong>" in page.text
    if query.startswith("from=yesterday"):
        assert 'value="yesterday"' in page.text  # what was typed stays


async def test_csv_export_and_who_may_use_it(box: Box) -> None:
    seed(box)
    box.admin("money", "accountant")
    box.admin("watcher", "viewer")
    box.admin("clerk", "operator")
    accountant = await box.signed_in("money")
    today = datetime.now(ZoneInfo(box.hotspot.settings.business.timezone)).date().isoformat()
    exported = await accountant.get(f"/admin/reports/export?kind=revenue&by=package&from={today}&to={today}")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted((r["group"], r["amount"]) for r in rows) == [("1 day", "5000"), ("1 hour", "2000")]
    assert (await accountant.get("/admin/reports/export?period=hour")).status_code == 400

    viewer = await box.signed_in("watcher")
    page = await viewer.get("/admin/reports")
    assert page.status_code == 200 and "/admin/reports/export" not in page.text  # no exports.run
    assert (await viewer.get("/admin/reports/export")).status_code == 403
    operator = await box.signed_in("clerk")
    assert (await operator.get("/admin/reports")).status_code == 403
