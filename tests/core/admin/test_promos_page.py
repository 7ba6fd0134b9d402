"""The promos page through the app on both backends: promo codes created, edited and withdrawn in
the modal (bad input inline, what was typed kept) and pricing the next quote; a code's uses; the
automatic discount rules saved as the stored `discounts` setting, the app rebuilt with them and
the next quote priced by them; a config file that sets them wins; RBAC and the audit log."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from admin_support import Box
from bs4 import BeautifulSoup

from hotspot.accounts.audit import AuditFilter
from hotspot.billing.promos import PromoSpec
from hotspot.contracts import Money
from hotspot.payments.checkout import CheckoutError
from hotspot.settings_store import Setting

HX = {"HX-Request": "true"}
PACKAGES = [
    {"name": "1 hour", "price": "20 KES", "duration": "1h", "sort_order": 1},
    {"name": "1 day", "price": "50 KES", "duration": "1d", "sort_order": 2},
]


def actions(box: Box, prefix: str) -> list[str]:
    entries = box.run(lambda: box.accounts.audit.search(AuditFilter(action=prefix), limit=100)).entries
    return sorted(e["action"] for e in entries)


def total(box: Box, package_id: int, promo: str | None = None) -> int:
    quote = box.run(lambda: box.hotspot.checkout.quote(package_id, "KES", promo=promo))
    amount: int = quote.total.amount
    return amount


def refusal(box: Box, package_id: int, promo: str) -> str:
    with pytest.raises(CheckoutError) as caught:
        total(box, package_id, promo)
    assert caught.value.field == "promo"
    return caught.value.message


async def owner_box(box_factory: Any, extra: dict[str, Any] | None = None) -> tuple[Box, Any]:
    box = await box_factory({"packages": PACKAGES, **(extra or {})})
    box.admin("owner", "owner")
    return box, await box.signed_in("owner")


async def test_a_promo_code_made_in_the_admin_prices_the_next_quote(box_factory: Any) -> None:
    box, browser = await owner_box(box_factory)
    hour, day = box.run(box.hotspot.catalog.all)
    page = await browser.get("/admin/promos")
    assert page.status_code == 200 and "No promo codes yet" in page.text and "New promo code" in page.text
    form = await browser.get("/admin/promos/new", headers=HX)
    assert form.status_code == 200 and "<html" not in form.text and 'name="amount_KES"' in form.text

    bad = await browser.submit(
        "/admin/promos",
        {
            "code": "x!",
            "kind": "percent",
            "percent": "150",
            "packages": str(day.id),
            "valid_from": "2030-02-01",
            "valid_until": "2030-01-01",
            "max_uses": "many",
            "description": "Flyers",
        },
        headers=HX,
    )
    assert bad.status_code == 400
    soup = BeautifulSoup(bad.text, "html.parser")
    for field in ("code", "percent", "valid-until", "max-uses"):
        assert soup.select_one(f"#promo-{field}.is-invalid") is not None, field
    assert soup.select_one("#promo-percent")["value"] == "150"  # what was typed stays
    assert soup.select_one("#promo-description")["value"] == "Flyers"
    assert soup.select_one(f"#promo-package-{day.id}").has_attr("checked")
    assert "The last day comes before the first" in bad.text

    made = await browser.submit(
        "/admin/promos",
        {"code": "save-10", "kind": "percent", "percent": "10", "packages": str(day.id), "max_uses": "5"},
        headers=HX,
    )
    assert made.status_code == 200 and made.headers["HX-Redirect"] == "/admin/promos"
    assert total(box, day.id, "save10") == 4500  # 50 KES - 10%
    assert "not valid for 1 hour" in refusal(box, hour.id, "SAVE10")
    listing = await browser.get("/admin/promos")
    row = BeautifulSoup(listing.text, "html.parser").select_one("#promo-list tbody tr")
    assert row is not None and "SAVE10" in row.text and "10% off" in row.text and "0 / 5" in row.text
    assert "1 day" in row.text and "Active" in row.text
    again = await browser.submit("/admin/promos", {"code": "SAVE10", "kind": "percent", "percent": "5"})
    assert again.status_code == 400 and "exists already" in again.text and "<html" in again.text

    promo = box.run(lambda: box.hotspot.checkout.pricing.promos.find("SAVE10"))
    edit = await browser.get(f"/admin/promos/{promo.id}/edit", headers=HX)
    edit_soup = BeautifulSoup(edit.text, "html.parser")
    assert edit_soup.select_one("#promo-code").has_attr("readonly")
    assert edit_soup.select_one("#promo-percent")["value"] == "10"
    assert edit_soup.select_one("#promo-max-uses")["value"] == "5"
    wrong = await browser.submit(
        f"/admin/promos/{promo.id}", {"kind": "amount", "amount_KES": "5.555", "max_uses": "5"}, headers=HX
    )
    assert wrong.status_code == 400 and "at most 2 decimals" in wrong.text
    assert BeautifulSoup(wrong.text, "html.parser").select_one("#promo-amount-KES")["value"] == "5.555"
    saved = await browser.submit(
        f"/admin/promos/{promo.id}", {"code": "OTHER", "kind": "amount", "amount_KES": "5", "per_phone": "1"}
    )
    assert saved.status_code == 303
    assert total(box, hour.id, "SAVE10") == 1500 and total(box, day.id, "SAVE10") == 4500  # 5 KES off each
    assert box.run(lambda: box.hotspot.checkout.pricing.promos.find("OTHER")) is None  # never renamed

    withdrawn = await browser.submit(f"/admin/promos/{promo.id}/active", {"active": "0"})
    assert withdrawn.status_code == 303
    assert "withdrawn" in refusal(box, day.id, "SAVE10")
    assert "Withdrawn" in (await browser.get("/admin/promos")).text
    await browser.submit(f"/admin/promos/{promo.id}/active", {"active": "1"})
    assert total(box, day.id, "SAVE10") == 4500
    assert actions(box, "promo.") == ["promo.activate", "promo.create", "promo.deactivate", "promo.update"]


async def test_each_use_of_a_code_is_listed(box_factory: Any) -> None:
    box, browser = await owner_box(box_factory)
    promos = box.hotspot.checkout.pricing.promos

    async def use() -> int:
        promo = await promos.create(PromoSpec(code="WELCOME", percent_bp=1000))
        async with box.hotspot.db.transaction():
            await promos.reserve(promo, "ord-welcome-1", "254712345678", Money(500, "KES"))
        return promo.id

    promo_id: int = box.run(use)
    uses = await browser.get(f"/admin/promos/{promo_id}/uses", headers=HX)
    assert uses.status_code == 200 and "<html" not in uses.text
    row = BeautifulSoup(uses.text, "html.parser").select_one("#promo-uses tbody tr")
    assert row is not None and "254712345678" in row.text and "KES 5" in row.text and "held" in row.text
    assert "ord-welcome-1" in row.text
    assert (await browser.get("/admin/promos/999/uses")).status_code == 404


async def test_a_discount_rule_is_stored_applied_to_quotes_and_audited(box_factory: Any) -> None:
    box, browser = await owner_box(box_factory)
    hour, day = box.run(box.hotspot.catalog.all)
    page = await browser.get("/admin/promos?tab=discounts")
    assert page.status_code == 200 and "No automatic discounts" in page.text and "New discount" in page.text
    form = await browser.get("/admin/promos/discounts/new", headers=HX)
    assert form.status_code == 200 and 'name="min_duration"' in form.text

    bad = await browser.submit(
        "/admin/promos/discounts",
        {"id": "Big Bundles", "kind": "bundle", "off": "percent", "percent": "0", "label": "Day saver"},
        headers=HX,
    )
    assert bad.status_code == 400
    soup = BeautifulSoup(bad.text, "html.parser")
    assert soup.select_one("#rule-id.is-invalid")["value"] == "Big Bundles"
    assert soup.select_one("#rule-percent.is-invalid")["value"] == "0"
    assert soup.select_one("#rule-label")["value"] == "Day saver"
    assert "Choose packages, or give a least time or data" in bad.text
    unit = await browser.submit(
        "/admin/promos/discounts",
        {"id": "big", "kind": "bundle", "off": "percent", "percent": "10", "min_duration": "a while"},
        headers=HX,
    )
    assert unit.status_code == 400 and "Not a duration" in unit.text  # DiscountRuleSettings' own check
    assert total(box, day.id) == 5000

    reloads = box.wrapper.reloads if box.wrapper else 0
    made = await browser.submit(
        "/admin/promos/discounts",
        {"id": "big-bundles", "kind": "bundle", "off": "percent", "percent": "10", "min_duration": "1d"},
        headers=HX,
    )
    assert made.status_code == 200 and made.headers["HX-Redirect"] == "/admin/promos?tab=discounts"
    assert box.wrapper is not None and box.wrapper.reloads == reloads + 1  # the app was rebuilt with it
    [row] = box.run(lambda: Setting.select(Setting.value).where(Setting.key == "discounts").run())
    saved_rules = json.loads(row["value"]) if isinstance(row["value"], str) else row["value"]
    assert saved_rules == [{"id": "big-bundles", "kind": "bundle", "percent": "10", "min_duration": "1d"}]
    quote = box.run(lambda: box.hotspot.checkout.quote(day.id, "KES"))
    assert quote.total.amount == 4500 and [d.rule_id for d in quote.discounts] == ["big-bundles"]
    assert total(box, hour.id) == 2000  # too small a bundle
    listing = await browser.get("/admin/promos?tab=discounts")
    assert "10% off 1 day or longer" in listing.text and "Discount big-bundles saved" in listing.text

    edit = await browser.get("/admin/promos/discounts/big-bundles/edit", headers=HX)
    assert BeautifulSoup(edit.text, "html.parser").select_one("#rule-id").has_attr("readonly")
    changed = await browser.submit(
        "/admin/promos/discounts/big-bundles",
        {"kind": "bundle", "off": "amount", "amount_KES": "15", "packages": ["1 hour", "1 day"]},
    )
    assert changed.status_code == 303
    assert total(box, day.id) == 3500 and total(box, hour.id) == 500
    gone = await browser.submit("/admin/promos/discounts/big-bundles/delete", {})
    assert gone.status_code == 303 and total(box, day.id) == 5000
    assert box.hotspot.settings.discounts == []
    assert actions(box, "discount.") == ["discount.create", "discount.delete", "discount.update"]


async def test_without_in_place_reload_a_saved_rule_still_prices_quotes(box_factory: Any) -> None:
    box = await box_factory({"packages": PACKAGES}, reloadable=False)
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    hour, _ = box.run(box.hotspot.catalog.all)
    await browser.get("/admin/promos?tab=discounts")
    saved = await browser.submit(
        "/admin/promos/discounts",
        {"id": "hour-deal", "kind": "bundle", "off": "amount", "amount_KES": "5", "packages": "1 hour"},
    )
    assert saved.status_code == 303 and total(box, hour.id) == 1500
    assert "5 off 1 hour" in (await browser.get("/admin/promos?tab=discounts")).text


async def test_discounts_the_config_file_sets_are_read_only(box_factory: Any) -> None:
    rule = {"id": "loyal", "kind": "repeat", "percent": 20, "every": 5}
    box, browser = await owner_box(box_factory, {"discounts": [rule]})
    page = await browser.get("/admin/promos?tab=discounts")
    assert "The config file sets the discounts" in page.text and "New discount" not in page.text
    assert "20% off every 5th purchase within 30 days" in page.text
    refused = await browser.submit(
        "/admin/promos/discounts", {"id": "more", "kind": "bundle", "percent": "5", "packages": "1 day"}
    )
    assert refused.status_code == 409 and "change them there" in refused.text
    await browser.submit("/admin/promos/discounts/loyal/delete", {})
    assert [r.id for r in box.hotspot.settings.discounts] == ["loyal"] and not actions(box, "discount.")


async def test_viewers_and_operators_see_but_cannot_change(box_factory: Any) -> None:
    box = await box_factory({"packages": PACKAGES})
    box.admin("watcher", "viewer")
    box.admin("clerk", "operator")
    promos = box.hotspot.checkout.pricing.promos
    promo = box.run(lambda: promos.create(PromoSpec(code="HALF", percent_bp=5000)))
    for username in ("watcher", "clerk"):
        browser = await box.signed_in(username)
        page = await browser.get("/admin/promos")
        assert page.status_code == 200 and "HALF" in page.text and "New promo code" not in page.text
        assert not BeautifulSoup(page.text, "html.parser").select("form[action^='/admin/promos']")
        assert (await browser.get("/admin/promos/new")).status_code == 403
        assert (await browser.get("/admin/promos/discounts/new")).status_code == 403
        for url, data in (
            ("/admin/promos", {"code": "FREE", "kind": "percent", "percent": "50"}),
            (f"/admin/promos/{promo.id}", {"kind": "percent", "percent": "90"}),
            (f"/admin/promos/{promo.id}/active", {"active": "0"}),
            ("/admin/promos/discounts", {"id": "x", "kind": "bundle", "percent": "5", "min_duration": "1h"}),
        ):
            assert (await browser.submit(url, data)).status_code == 403, (username, url)
    assert not actions(box, "promo.") and box.hotspot.settings.discounts == []


async def test_far_off_days_and_huge_amounts_are_refused_inline(box_factory: Any) -> None:
    """9999-12-31 passed the forms and then overflowed (a 500, or a box that would not start
    with the rule saved); an 18-digit price overflowed the orders' amounts."""
    box, browser = await owner_box(box_factory)
    await browser.get("/admin/promos?tab=discounts")
    rule = {"id": "forever", "kind": "bundle", "off": "percent", "percent": "10", "min_duration": "1d"}
    for key in ("valid_until", "valid_from"):
        far = await browser.submit("/admin/promos/discounts", {**rule, key: "9999-12-31"}, headers=HX)
        assert far.status_code == 400 and "from 2000 to 2100" in far.text, key
        field = BeautifulSoup(far.text, "html.parser").select_one(f"#rule-{key.replace('_', '-')}")
        assert field is not None and "is-invalid" in field["class"] and field["value"] == "9999-12-31"
    promo = {"code": "FOREVER", "kind": "percent", "percent": "10", "valid_until": "9999-12-31"}
    far_promo = await browser.submit("/admin/promos", promo, headers=HX)
    assert far_promo.status_code == 400 and "from 2000 to 2100" in far_promo.text
    huge = await browser.submit(
        "/admin/promos", {**promo, "kind": "amount", "amount_KES": "9" * 18}, headers=HX
    )
    assert huge.status_code == 400 and "At most 10,000,000,000 KES" in huge.text
    assert box.hotspot.settings.discounts == [] and not actions(box, "promo.")
    assert not box.run(lambda: Setting.select().where(Setting.key == "discounts").run())


async def test_a_rule_saved_elsewhere_meanwhile_is_kept(box_factory: Any) -> None:
    """The list is read again under a lock when saving: a rule another admin (or worker process)
    saved since this app was built is not written over, nor are two saves at once."""
    box, browser = await owner_box(box_factory)
    await browser.get("/admin/promos?tab=discounts")
    other = {"id": "other-worker", "kind": "repeat", "percent": "5", "every": 3}
    box.run(lambda: box.hotspot.settings_store.set("discounts", [other], by="someone"))
    assert box.hotspot.settings.discounts == []  # this app has not seen it

    def rule(name: str) -> dict[str, str]:
        return {"id": name, "kind": "bundle", "off": "percent", "percent": "10", "min_duration": "1d"}

    first, second = await asyncio.gather(
        browser.submit("/admin/promos/discounts", rule("first"), headers=HX),
        browser.submit("/admin/promos/discounts", rule("second"), headers=HX),
    )
    assert first.status_code == second.status_code == 200
    [row] = box.run(lambda: Setting.select(Setting.value).where(Setting.key == "discounts").run())
    saved = json.loads(row["value"]) if isinstance(row["value"], str) else row["value"]
    assert sorted(r["id"] for r in saved) == ["first", "other-worker", "second"]
    assert sorted(r.id for r in box.hotspot.settings.discounts) == ["first", "other-worker", "second"]
    gone = await browser.submit("/admin/promos/discounts/first/delete", {})
    assert gone.status_code == 303
    assert sorted(r.id for r in box.hotspot.settings.discounts) == ["other-worker", "second"]


async def test_the_uses_of_a_code_come_a_page_at_a_time(
    box_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hotspot.admin.promos_page as promos_page

    box, browser = await owner_box(box_factory)
    promos = box.hotspot.checkout.pricing.promos
    monkeypatch.setattr(promos_page, "USES_PAGE", 2)

    async def use() -> int:
        promo = await promos.create(PromoSpec(code="CROWD", percent_bp=1000))
        for n in range(5):
            async with box.hotspot.db.transaction():
                await promos.reserve(promo, f"ord-crowd-{n}", f"25471234567{n}", Money(500, "KES"))
        return promo.id

    promo_id: int = box.run(use)
    first = BeautifulSoup(
        (await browser.get(f"/admin/promos/{promo_id}/uses", headers=HX)).text, "html.parser"
    )
    orders = [td.get_text(strip=True) for td in first.select("#promo-uses td[data-label=Order]")]
    assert orders == ["ord-crowd-4", "ord-crowd-3"]
    seen = list(orders)
    more = first.select_one("tr.hs-more a")
    while more is not None:
        rows = await browser.get(str(more["hx-get"]), headers=HX)
        assert rows.status_code == 200 and "<table" not in rows.text and "modal-header" not in rows.text
        page = BeautifulSoup(rows.text, "html.parser")
        seen += [td.get_text(strip=True) for td in page.select("td[data-label=Order]")]
        more = page.select_one("tr.hs-more a")
    assert seen == [f"ord-crowd-{n}" for n in range(4, -1, -1)]
    assert (await browser.get(f"/admin/promos/{promo_id}/uses?after=²", headers=HX)).status_code == 400
