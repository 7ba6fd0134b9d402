"""The packages page through the app on both backends: the list, create and edit in the modal
(bad input shown inline with what was typed kept), the portal seeing each change at once, hide,
move, delete refused once sold, RBAC and the audit log; and the form parser the setup wizard
shares."""

from __future__ import annotations

import time
from typing import Any

import pytest
from admin_support import Box
from bs4 import BeautifulSoup

from hotspot.accounts.audit import AuditFilter
from hotspot.billing.forms import FormErrors, PackageForm, parse_package
from hotspot.payments.tables import Order

HX = {"HX-Request": "true"}
PACKAGES = [
    {"name": "1 hour", "price": "20 KES", "duration": "1h", "sort_order": 1},
    {"name": "1 day", "price": "50 KES", "duration": "1d", "data": "2GB", "down": "5M", "sort_order": 2},
]
GOOD = {
    "name": "Weekend",
    "description": "Friday to Sunday",
    "price_KES": "1,500.50",
    "duration": "3d",
    "data": "10GB",
    "down": "8M",
    "up": "2M",
    "devices": "3",
    "sort_order": "3",
    "visible": "1",
}


def test_the_shared_parser_reads_what_owners_type_and_names_each_mistake() -> None:
    spec = parse_package(
        PackageForm(name="Day", prices={"KES": "1,500", "USD": "0.40"}, duration="1d", data="2GB", down="5M")
    )
    assert spec.prices == {"KES": 150_000, "USD": 40}
    assert (spec.seconds, spec.bytes_total, spec.down_bps, spec.up_bps) == (86400, 2 * 10**9, 5 * 10**6, None)
    with pytest.raises(FormErrors) as caught:
        parse_package(
            PackageForm(
                name="",
                prices={"KES": "abc", "UGX": "1.5"},
                duration="soon",
                data="500",
                down="5",
                devices="0",
            )
        )
    errors = caught.value.errors
    assert set(errors) == {"name", "price_KES", "price_UGX", "duration", "data", "down", "devices"}
    assert errors["price_UGX"] == "UGX amounts have no decimals."
    assert "8k" in errors["down"] and "1MB" in errors["data"]
    with pytest.raises(FormErrors) as missing:
        parse_package(PackageForm(name="Hour", prices={"KES": ""}, duration="1h"), require="KES")
    assert missing.value.errors == {"price_KES": "Enter the price in KES."}


def audit(box: Box, prefix: str = "package.") -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = box.run(
        lambda: box.accounts.audit.search(AuditFilter(action=prefix), limit=100)
    ).entries
    return entries


def visible_names(box: Box) -> list[str]:
    return [p.name for p in box.run(box.hotspot.catalog.visible)]


async def test_create_and_edit_in_the_modal_and_the_portal_sees_it(box_factory: Any) -> None:
    deal = {"id": "weekend-deal", "kind": "bundle", "percent": 5, "packages": ["Weekend"]}
    box = await box_factory({"packages": PACKAGES, "discounts": [deal]})
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    assert visible_names(box) == ["1 hour", "1 day"]  # the portal's list is cached from here on

    page = await browser.get("/admin/packages")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("nav[aria-label=Admin] a[href='/admin/packages']") is not None
    assert soup.select_one("nav[aria-label=Admin] a[href='/admin/promos']") is not None
    rows = soup.select("#package-list tbody tr")
    assert [r.select_one(".fw-semibold").get_text(" ", strip=True) for r in rows] == ["1 hour", "1 day"]
    assert "KES 20" in rows[0].text and "2 GB" in rows[1].text and "5 Mbps" in rows[1].text

    form = await browser.get("/admin/packages/new", headers=HX)
    assert form.status_code == 200 and "<html" not in form.text and 'name="price_KES"' in form.text
    assert 'value="3"' in form.text  # the next position is suggested

    bad = await browser.submit("/admin/packages", {**GOOD, "price_KES": "15.555", "down": "fast"}, headers=HX)
    assert bad.status_code == 400 and "<html" not in bad.text
    bad_soup = BeautifulSoup(bad.text, "html.parser")
    assert bad_soup.select_one("#package-price-KES.is-invalid")["value"] == "15.555"
    assert "at most 2 decimals" in bad.text
    assert bad_soup.select_one("#package-down.is-invalid")["value"] == "fast"
    assert bad_soup.select_one("#package-name")["value"] == "Weekend"  # what was typed stays
    assert bad_soup.select_one("#package-data")["value"] == "10GB"
    taken = await browser.submit("/admin/packages", {**GOOD, "name": "1 hour"}, headers=HX)
    assert taken.status_code == 400 and "Another package has this name" in taken.text

    created = await browser.submit("/admin/packages", GOOD, headers=HX)
    assert created.status_code == 200 and created.headers["HX-Redirect"] == "/admin/packages"
    assert visible_names(box) == ["1 hour", "1 day", "Weekend"]  # at once, despite the cache
    weekend = next(p for p in box.run(box.hotspot.catalog.all) if p.name == "Weekend")
    assert weekend.prices["KES"].amount == 150_050 and weekend.devices == 3
    assert (weekend.seconds, weekend.bytes_total, weekend.up_bps) == (3 * 86400, 10 * 10**9, 2 * 10**6)
    listing = await browser.get("/admin/packages")
    assert "Weekend: on sale." in listing.text and "KES 1,500.50" in listing.text

    edit = await browser.get(f"/admin/packages/{weekend.id}/edit", headers=HX)
    edit_soup = BeautifulSoup(edit.text, "html.parser")
    assert edit_soup.select_one("#package-price-KES")["value"] == "1500.50"
    assert edit_soup.select_one("#package-duration")["value"] == "3d"
    assert edit_soup.select_one("#package-data")["value"] == "10GB"
    # without htmx a wrong form comes back as a whole page, still with what was typed
    wrong = await browser.submit(f"/admin/packages/{weekend.id}", {**GOOD, "duration": "forever"})
    assert wrong.status_code == 400 and "<html" in wrong.text and 'value="forever"' in wrong.text
    saved = await browser.submit(
        f"/admin/packages/{weekend.id}", {**GOOD, "name": "Long weekend", "price_KES": "1800"}
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/packages"
    assert "weekend-deal names “Weekend”" in (await browser.get("/admin/packages")).text
    assert visible_names(box) == ["1 hour", "1 day", "Long weekend"]
    quote = box.run(lambda: box.hotspot.checkout.quote(weekend.id, "KES"))
    assert quote.total.amount == 180_000 and quote.package == "Long weekend"

    entries = audit(box)
    assert [e["action"] for e in entries][:2] == ["package.update", "package.create"]
    assert entries[0]["target_id"] == str(weekend.id) and entries[0]["actor"] == "owner"


async def test_hide_move_and_delete_only_what_was_never_sold(box_factory: Any) -> None:
    box = await box_factory({"packages": PACKAGES})
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    await browser.get("/admin/packages")
    hour, day = box.run(box.hotspot.catalog.all)

    moved = await browser.submit(f"/admin/packages/{day.id}/move", {"direction": "up"})
    assert moved.status_code == 303
    assert visible_names(box) == ["1 day", "1 hour"]

    hidden = await browser.submit(f"/admin/packages/{day.id}/visible", {"visible": "0"})
    assert hidden.status_code == 303 and visible_names(box) == ["1 hour"]
    portal = await browser.get("/api/v1/portal/packages", headers={"accept": "application/json"})
    assert [p["name"] for p in portal.json()["packages"]] == ["1 hour"]
    page = await browser.get("/admin/packages")
    assert "1 day is hidden from customers." in page.text and "Hidden" in page.text
    await browser.submit(f"/admin/packages/{day.id}/visible", {"visible": "1"})
    assert visible_names(box) == ["1 day", "1 hour"]

    async def sell() -> None:
        await Order.insert(
            Order(
                id="ord-sold-1",
                package_id=hour.id,
                package_name=hour.name,
                amount=2000,
                currency="KES",
                state="paid",
                created_at=time.time(),
                paid_at=time.time(),
            )
        ).run()

    box.run(sell)
    page = await browser.get("/admin/packages")
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one(f"form[action='/admin/packages/{hour.id}/delete']") is None  # not offered
    refused = await browser.submit(f"/admin/packages/{hour.id}/delete", {})
    assert refused.status_code == 303
    assert "cannot be deleted. Hide it instead." in (await browser.get("/admin/packages")).text
    assert len(box.run(box.hotspot.catalog.all)) == 2

    deleted = await browser.submit(f"/admin/packages/{day.id}/delete", {})
    assert deleted.status_code == 303 and visible_names(box) == ["1 hour"]
    assert (await browser.get(f"/admin/packages/{day.id}/edit")).status_code == 404
    actions = [e["action"] for e in audit(box)]
    assert sorted(actions) == ["package.delete", "package.hide", "package.move", "package.show"]


async def test_viewers_and_operators_see_but_cannot_change(box_factory: Any) -> None:
    box = await box_factory({"packages": PACKAGES})
    box.admin("watcher", "viewer")
    box.admin("clerk", "operator")
    hour = box.run(box.hotspot.catalog.all)[0]
    for username in ("watcher", "clerk"):
        browser = await box.signed_in(username)
        page = await browser.get("/admin/packages")
        assert page.status_code == 200 and "1 hour" in page.text
        soup = BeautifulSoup(page.text, "html.parser")
        assert not soup.select("form[action^='/admin/packages/']") and "New package" not in page.text
        assert (await browser.get("/admin/packages/new")).status_code == 403
        for url, data in (
            ("/admin/packages", GOOD),
            (f"/admin/packages/{hour.id}", GOOD),
            (f"/admin/packages/{hour.id}/visible", {"visible": "0"}),
            (f"/admin/packages/{hour.id}/delete", {}),
        ):
            assert (await browser.submit(url, data)).status_code == 403, (username, url)
    assert visible_names(box) == ["1 hour", "1 day"] and not audit(box)
    stranger = box.browser()
    assert (await stranger.get("/admin/packages")).headers["location"] == "/admin/login?next=/admin/packages"
