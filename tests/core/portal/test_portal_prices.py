"""Prices on the portal before paying, on both backends: the promo preview, automatic discounts
once the phone is known, the currency picker, and what the order then charges."""

from __future__ import annotations

import time
from typing import Any

from bs4 import BeautifulSoup
from litestar import Litestar
from litestar.testing import AsyncTestClient
from portal_support import REDIRECT, AppFactory, hotspot_of, in_app, router_fields

from hotspot.billing.promos import PromoSpec
from hotspot.payments.tables import Order

HX = {"HX-Request": "true"}
LOYAL = {"id": "loyal", "kind": "repeat", "every": 2, "within": "30d", "percent": 20}


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


async def package_ids(client: AsyncTestClient[Litestar]) -> dict[str, int]:
    body = (await client.get("/api/v1/portal/packages")).json()
    return {p["name"]: p["id"] for p in body["packages"]}


def create_promo(client: AsyncTestClient[Litestar], code: str = "SAVE10", percent_bp: int = 1000) -> None:
    async def run() -> None:
        await hotspot_of(client).checkout.pricing.promos.create(PromoSpec(code=code, percent_bp=percent_bp))

    in_app(client, run)


async def quote(client: AsyncTestClient[Litestar], **form: Any) -> BeautifulSoup:
    response = await client.post("/portal/quote", data={"currency": "KES", **form}, headers=HX)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    box = soup(response.text).select_one("#quote")
    assert box is not None
    return box


async def test_a_promo_code_shows_the_new_price_before_paying(portal: AsyncTestClient[Litestar]) -> None:
    create_promo(portal)
    ids = await package_ids(portal)
    box = await quote(portal, package_id=ids["1 day"], promo="save-10 ")
    assert box["data-quote-total"] == "KES 45"
    rows = [" ".join(r.get_text(" ").split()) for r in box.select(".hs-quote-row")]
    assert rows == ["1 day KES 50", "SAVE10: 10% off \N{MINUS SIGN} KES 5", "You pay KES 45"]
    assert box.select_one("#promo-error") is None
    # The order charges exactly what was shown.
    fields = router_fields((await portal.get("/portal", params=REDIRECT)).text)
    bought = await portal.post(
        "/portal/orders",
        data={**fields, "package_id": ids["1 day"], "phone": "0712 345 678", "promo": "save-10"},
        follow_redirects=False,
    )
    assert bought.status_code == 303

    async def order() -> dict[str, Any]:
        return dict(await Order.select().where(Order.phone == "254712345678").first().run())

    row = in_app(portal, order)
    assert (row["amount"], row["currency"], row["promo_code"]) == (4500, "KES", "SAVE10")


async def test_a_refused_code_says_why_under_the_field(portal: AsyncTestClient[Litestar]) -> None:
    ids = await package_ids(portal)
    box = await quote(portal, package_id=ids["1 hour"], promo="NOSUCHCODE")
    assert "promo code" in box.select_one("#promo-error").text.lower()
    assert box["data-quote-total"] == "KES 20"  # the price without it, for the Pay button
    assert box.select(".hs-quote-row") == []
    # Half typed (promo codes have 3+ characters): priced without it, nothing to complain about.
    box = await quote(portal, package_id=ids["1 hour"], promo="SA")
    assert box.select_one("#promo-error") is None and box["data-quote-total"] == "KES 20"
    # No package chosen yet: an empty preview.
    box = await quote(portal, promo="SAVE10")
    assert box.text.strip() == "" and not box.has_attr("data-quote-total")


async def test_guessing_codes_through_the_preview_hits_the_limit(portal_factory: AppFactory) -> None:
    portal = await portal_factory(promos={"failures_per_client": 3, "window_minutes": 15})
    ids = await package_ids(portal)
    for n in range(3):
        box = await quote(portal, package_id=ids["1 hour"], promo=f"GUESS{n}")
        assert "Too many" not in box.text
    box = await quote(portal, package_id=ids["1 hour"], promo="GUESS9")
    assert "Too many wrong promo codes" in box.select_one("#promo-error").text


async def test_a_returning_customer_sees_the_automatic_discount(portal_factory: AppFactory) -> None:
    portal = await portal_factory(discounts=[LOYAL])
    ids = await package_ids(portal)

    async def paid_before() -> None:
        now = time.time()
        await Order.insert(
            Order(
                id="o-earlier",
                package_id=ids["1 day"],
                package_name="1 day",
                terms="{}",
                amount=5000,
                currency="KES",
                phone="254712345678",
                state="paid",
                created_at=now - 86400,
                paid_at=now - 86400,
            )
        ).run()

    in_app(portal, paid_before)
    # Without the phone, nothing to know the customer by: the list price.
    box = await quote(portal, package_id=ids["1 day"])
    assert box["data-quote-total"] == "KES 50" and box.select(".hs-quote-row") == []
    # A number still being typed is no error, just no discount yet.
    box = await quote(portal, package_id=ids["1 day"], phone="07123")
    assert box["data-quote-total"] == "KES 50" and box.select_one(".hs-field-error") is None
    box = await quote(portal, package_id=ids["1 day"], phone="0712 345 678")
    assert box["data-quote-total"] == "KES 40"
    off = " ".join(box.select_one(".hs-quote-off").get_text(" ").split())
    assert "20% off every 2nd purchase" in off and off.endswith("KES 10")


async def test_the_currency_picker_reprices_the_packages(portal: AsyncTestClient[Litestar]) -> None:
    page = soup((await portal.get("/portal", params=REDIRECT)).text)
    radios = page.select("form#buy-form input[name=currency]")
    assert [(r["value"], r.has_attr("checked")) for r in radios] == [("KES", True), ("USD", False)]
    assert radios[1]["hx-post"] == "/portal/prices"
    fields = router_fields(str(page))
    response = await portal.post(
        "/portal/prices", data={**fields, "currency": "USD", "phone": "0712"}, headers=HX
    )
    assert response.status_code == 200
    form = soup(response.text).select_one("form#buy-form")
    cards = form.select(".hs-pkg")
    # Only "1 day" has a USD price (no rates configured); it is the one package, so chosen.
    assert [(c.select_one(".hs-pkg-name").text, c.select_one(".hs-pkg-price").text) for c in cards] == [
        ("1 day", "USD 0.40")
    ]
    assert form.select_one("input[name=currency][value=USD]").has_attr("checked")
    assert form.select_one("input[name=phone]")["value"] == "0712"  # what was typed is kept
    assert "Pay USD 0.40 with M-Pesa" in form.select_one("button.hs-pay").text
    assert router_fields(response.text) == fields
    # GET /portal?currency=USD: the handler renders it (the rendition is the business currency).
    landing = portal.app.state.portal_landing
    served = landing.served
    page = soup((await portal.get("/portal", params={**REDIRECT, "currency": "USD"})).text)
    assert landing.served == served
    assert [p.text for p in page.select(".hs-pkg-price")] == ["USD 0.40"]
    # An unknown currency falls back to the business one.
    page = soup((await portal.get("/portal", params={"currency": "XYZ"})).text)
    assert page.select_one("input[name=currency][value=KES]").has_attr("checked")


async def test_buying_in_the_picked_currency_charges_in_it(portal: AsyncTestClient[Litestar]) -> None:
    ids = await package_ids(portal)
    fields = router_fields((await portal.get("/portal", params=REDIRECT)).text)
    bought = await portal.post(
        "/portal/orders",
        data={**fields, "currency": "USD", "package_id": ids["1 day"], "phone": "0712 345 670"},
        follow_redirects=False,
    )
    assert bought.status_code == 303

    async def order() -> dict[str, Any]:
        return dict(await Order.select().where(Order.phone == "254712345670").first().run())

    row = in_app(portal, order)
    assert (row["amount"], row["currency"]) == (40, "USD")
    # A package not sold in that currency is a refusal in words, next to the packages.
    refused = await portal.post(
        "/portal/orders",
        data={**fields, "currency": "USD", "package_id": ids["1 hour"], "phone": "0712 345 671"},
        headers=HX,
    )
    assert refused.status_code == 422
    assert "not sold in USD" in refused.text


async def test_one_currency_means_no_picker(portal_factory: AppFactory) -> None:
    portal = await portal_factory(packages=[{"name": "1 hour", "price": "20 KES", "duration": "1h"}])
    page = soup((await portal.get("/portal")).text)
    assert page.select("input[name=currency]") == []
