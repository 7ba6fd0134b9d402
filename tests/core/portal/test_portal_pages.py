"""The portal page and its forms, on both backends, against the real Checkout."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from litestar import Litestar
from litestar.testing import AsyncTestClient
from portal_support import MAC, REDIRECT, AppFactory, in_app, land, router_fields

from hotspot.payments.tables import Order
from hotspot.portal.chap import chap_response

HX = {"HX-Request": "true"}


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


async def package_ids(client: AsyncTestClient[Litestar]) -> dict[str, int]:
    body = (await client.get("/api/v1/portal/packages")).json()
    return {p["name"]: p["id"] for p in body["packages"]}


async def test_the_page_lists_packages_in_the_customers_words(portal: AsyncTestClient[Litestar]) -> None:
    response = await portal.get("/portal")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = soup(response.text)
    assert "Mama Mboga Cafe" in page.title.text
    cards = page.select(".hs-pkg")
    assert [c.select_one(".hs-pkg-name").text for c in cards] == ["1 hour", "1 day", "1 week"]
    assert [c.select_one(".hs-pkg-price").text for c in cards] == ["KES 20", "KES 50", "KES 1,000"]
    meta = [" | ".join(s.text for s in c.select(".hs-pkg-meta > span")) for c in cards]
    assert meta[0] == "1 hour | Unlimited data | Up to 5 Mbps | 1 device"
    assert meta[1] == "1 day | 2 GB data | Up to 5 Mbps | 1 device"
    assert meta[2] == "7 days | Unlimited data | 3 devices"
    phone = page.select_one("input#phone")
    assert phone["type"] == "tel" and phone["inputmode"] == "numeric" and phone["autocomplete"] == "tel"
    assert "07XX or 01XX" in page.select_one("#phone-hint").text
    assert page.select_one("details.hs-promo input[name=promo]") is not None
    # The budget: no icon font, no bootstrap.bundle.js; no inline script or style (CSP).
    assert "bootstrap-icons" not in response.text and "bootstrap.bundle" not in response.text
    assert not [s for s in page.find_all("script") if not s.get("src")]
    assert not page.select("[style]") and not [
        t for t in page.find_all(True) if any(a.startswith("on") for a in t.attrs)
    ]
    # Nothing in flight for an unknown device: the modal is closed.
    assert page.select_one("#pay-modal").has_attr("hidden")


async def test_a_new_phones_redirect_rides_with_the_buy_form(portal: AsyncTestClient[Litestar]) -> None:
    landing = await portal.get("/portal", params=REDIRECT)
    assert landing.status_code == 200
    assert "set-cookie" not in landing.headers  # a new phone's landing stores no session
    fields = router_fields(landing.text)
    assert fields == {k: v for k, v in REDIRECT.items() if k != "mac"} | {"mac": MAC}
    # The brand link reloads this very page (query and all), so the redirect is not lost.
    assert soup(landing.text).select_one("a.hs-pbrand")["href"] == ""
    ids = await package_ids(portal)
    bought = await portal.post(
        "/portal/orders",
        data={**fields, "package_id": ids["1 hour"], "phone": "0712 345 678"},
        follow_redirects=False,
    )
    assert bought.status_code == 303 and bought.headers["location"] == "/portal?status=1"

    async def order() -> dict[str, Any]:
        return dict(await Order.select().where(Order.mac == MAC).first().run())

    row = in_app(portal, order)
    assert row["ip"] == "10.5.50.23" and row["router"] == "cafe-main" and row["phone"] == "254712345678"
    assert row["link_login_only"] == "http://10.5.50.1/login"
    assert row["link_orig"] == "http://example.com/news"
    # Back on the portal (no parameters now), the device's payment in flight is shown: the buy
    # kept the redirect in the session it made.
    page = soup((await portal.get("/portal")).text)
    assert not page.select_one("#pay-modal").has_attr("hidden")
    assert page.select_one("#pay-status .hs-panel")["data-state"] == "waiting"
    assert "2547" in page.select_one("#pay-status").text  # the masked phone
    assert router_fields(str(page)) == fields


async def test_a_browser_with_a_session_keeps_the_redirect_there(portal: AsyncTestClient[Litestar]) -> None:
    # The router's error is shown on the page, so this landing is rendered and its session kept.
    response = await portal.get("/portal", params={**REDIRECT, "error": "invalid username or password"})
    assert response.status_code == 200 and "set-cookie" in response.headers
    assert "invalid username or password" in soup(response.text).select_one(".hs-note").text
    ids = await package_ids(portal)
    # A buy step without the router parameters (a page from before): they come from the session.
    bought = await portal.post(
        "/portal/orders", data={"package_id": ids["1 hour"], "phone": "0712 345 678"}, follow_redirects=False
    )
    assert bought.status_code == 303

    async def order() -> dict[str, Any]:
        return dict(await Order.select().where(Order.mac == MAC).first().run())

    row = in_app(portal, order)
    assert row["ip"] == "10.5.50.23" and row["link_login_only"] == "http://10.5.50.1/login"


async def test_bad_redirect_values_are_dropped_never_a_500(portal: AsyncTestClient[Litestar]) -> None:
    response = await portal.get(
        "/portal",
        params={
            "mac": "<script>alert(1)</script>",
            "ip": "999.1.1.1",
            "link-login-only": "javascript:alert(1)",
            "link-orig": "x" * 5000,
            "chap-id": "\\",
            "chap-challenge": "\u20ac",
            "error": "<b>boom</b>",
        },
    )
    assert response.status_code == 200
    assert "<b>boom</b>" not in response.text and "&lt;b&gt;boom&lt;/b&gt;" in response.text
    ids = await package_ids(portal)
    bought = await portal.post(
        "/portal/orders", data={"package_id": ids["1 hour"], "phone": "0712 000 111"}, follow_redirects=False
    )
    assert bought.status_code == 303

    async def orders() -> list[dict[str, Any]]:
        return list(await Order.select(Order.mac, Order.ip, Order.link_login_only, Order.link_orig).run())

    assert in_app(portal, orders) == [{"mac": None, "ip": None, "link_login_only": None, "link_orig": None}]


async def test_a_bad_phone_re_renders_the_form_with_the_message(portal: AsyncTestClient[Litestar]) -> None:
    ids = await package_ids(portal)
    response = await portal.post(
        "/portal/orders", data={"package_id": ids["1 day"], "phone": "12345", "promo": ""}, headers=HX
    )
    assert response.status_code == 422
    form = soup(response.text).select_one("form#buy-form")
    assert form is not None and soup(response.text).select_one("#pay-modal") is None  # a fragment
    assert "starting 07 or 01" in form.select_one("#phone-error").text
    assert form.select_one("#phone")["value"] == "12345"
    assert "is-invalid" in form.select_one("#phone")["class"]
    assert form.select_one(f"input[name=package_id][value='{ids['1 day']}']").has_attr("checked")
    assert "Pay KES 50 with M-Pesa" in form.select_one("button.hs-pay").text

    nothing = await portal.post("/portal/orders", data={"phone": ""}, headers=HX)
    form = soup(nothing.text)
    assert nothing.status_code == 422
    assert "Choose a package" in form.select_one("#package-error").text
    assert "Enter the M-Pesa number" in form.select_one("#phone-error").text

    # Without JavaScript: the whole page comes back, with the same errors.
    plain = await portal.post("/portal/orders", data={"package_id": ids["1 day"], "phone": "0812345678"})
    assert plain.status_code == 422
    page = soup(plain.text)
    assert page.select_one("#pay-modal") is not None and page.select_one("#phone")["value"] == "0812345678"
    assert page.select_one("#phone-error") is not None


async def test_checkout_errors_land_next_to_their_field(portal: AsyncTestClient[Litestar]) -> None:
    ids = await package_ids(portal)
    promo = await portal.post(
        "/portal/orders",
        data={"package_id": ids["1 hour"], "phone": "0712345670", "promo": "FREE"},
        headers=HX,
    )
    assert promo.status_code == 422
    form = soup(promo.text)
    assert form.select_one("details.hs-promo").has_attr("open")
    assert "promo code is not valid" in form.select_one("#promo-error").text
    assert form.select_one("#promo")["value"] == "FREE" and form.select_one("#phone")["value"] == "0712345670"

    gone = await portal.post(
        "/portal/orders", data={"package_id": "99999", "phone": "0712345670"}, headers=HX
    )
    assert gone.status_code == 422
    assert "Choose one of the packages" in soup(gone.text).select_one("#package-error").text

    # A prompt already waiting on that phone: Checkout says so about the phone field.
    first = await portal.post(
        "/portal/orders", data={"package_id": ids["1 hour"], "phone": "0712345671"}, headers=HX
    )
    assert first.status_code == 200
    again = await portal.post(
        "/portal/orders", data={"package_id": ids["1 hour"], "phone": "0712345671"}, headers=HX
    )
    assert again.status_code == 422
    assert "already waiting on this phone" in soup(again.text).select_one("#phone-error").text


async def test_no_payment_method_is_a_message_on_the_form(portal_factory: AppFactory) -> None:
    client = await portal_factory(gateway=False)
    ids = await package_ids(client)
    response = await client.post(
        "/portal/orders", data={"package_id": ids["1 hour"], "phone": "0712345678"}, headers=HX
    )
    assert response.status_code == 422
    alert = soup(response.text).select_one("[data-form-alert]")
    assert not alert.has_attr("hidden") and "Payments are not available" in alert.text


async def test_a_purchase_opens_the_live_panel(portal: AsyncTestClient[Litestar]) -> None:
    ids = await package_ids(portal)
    response = await portal.post(
        "/portal/orders", data={"package_id": ids["1 day"], "phone": "0712 345 672"}, headers=HX
    )
    assert response.status_code == 200
    assert response.headers["hx-retarget"] == "#pay-status" and response.headers["hx-reswap"] == "innerHTML"
    html = soup(response.text)
    panel = html.select_one(".hs-panel")
    assert panel["data-state"] == "waiting" and panel["data-order"].startswith("o")
    assert "Check your phone" in panel.text and "KES 50" in panel.text and "2547•••••672" in panel.text
    form = html.select_one("form#buy-form")
    assert form["hx-swap-oob"] == "outerHTML" and form.select_one("#phone")["value"] == "0712 345 672"
    # The browser now owns the order: it may follow it.
    status = await portal.get(f"/portal/orders/{panel['data-order']}/status")
    assert status.status_code == 200 and status.json()["state"] == "waiting"


async def test_a_failed_payment_says_why_and_offers_a_retry(portal: AsyncTestClient[Litestar]) -> None:
    ids = await package_ids(portal)
    response = await portal.post(
        "/portal/orders", data={"package_id": ids["1 hour"], "phone": "0700000002"}, headers=HX
    )
    panel = soup(response.text).select_one(".hs-panel")
    order_id = panel["data-order"]
    assert panel["data-state"] == "failed"
    assert "Not enough M-Pesa balance" in panel.text and "Top up" in panel.text
    assert panel.select_one(f"form[hx-post='/portal/orders/{order_id}/retry']") is not None
    assert panel.select_one("details.hs-other").has_attr("open")  # low balance: suggest another number

    bad = await portal.post(
        f"/portal/orders/{order_id}/retry", data={"other": "1", "phone": "123"}, headers=HX
    )
    assert bad.status_code == 422
    retry_panel = soup(bad.text)
    assert (
        "starting 07 or 01" in retry_panel.text and retry_panel.select_one("#other-phone")["value"] == "123"
    )

    other = await portal.post(
        f"/portal/orders/{order_id}/retry", data={"other": "1", "phone": "0712 345 673"}, headers=HX
    )
    assert other.status_code == 200
    panel = soup(other.text).select_one(".hs-panel")
    assert panel["data-state"] == "waiting" and "2547•••••673" in panel.text

    not_failed = await portal.post(f"/portal/orders/{order_id}/retry", data={}, headers=HX)
    # Already paying again: the answer is the live panel as it stands.
    assert not_failed.status_code == 422 and 'data-state="waiting"' in not_failed.text

    # Somebody else's browser cannot retry it.
    portal.cookies.clear()
    assert (await portal.post(f"/portal/orders/{order_id}/retry", data={}, headers=HX)).status_code == 404


async def test_the_portal_opens_onto_a_paid_session(portal_factory: AppFactory) -> None:
    client = await portal_factory(fast=True)
    fields = await land(client)
    ids = await package_ids(client)
    response = await client.post(
        "/portal/orders", data={**fields, "package_id": ids["1 day"], "phone": "0712345674"}, headers=HX
    )
    order_id = soup(response.text).select_one(".hs-panel")["data-order"]
    from portal_support import wait_for_state

    assert (await wait_for_state(client, order_id, {"online"}))["state"] == "online"
    # The phone closed the captive window; a fresh one (new cookie jar) comes back via the router.
    client.cookies.clear()
    page = soup((await client.get("/portal", params=REDIRECT)).text)
    panel = page.select_one("#pay-status .hs-panel")
    assert panel["data-state"] == "online" and "You're online" in panel.text
    timer = panel.select_one("[data-countdown]")
    assert 86000 < int(timer["data-countdown"]) <= 86400 and timer.text.startswith("23:59:")
    assert "2 GB of 2 GB" in panel.select_one(".hs-data").text
    assert panel.select_one("a[href='http://example.com/news']") is not None  # continue where they were going
    assert "Buy more time" in panel.text and page.select_one(".hs-banner-online") is not None
    assert page.select_one("h1").text == "Buy more time"
    # "Buy more time" without JavaScript: the packages, the modal closed.
    shop = soup((await client.get("/portal?shop=1")).text)
    assert shop.select_one("#pay-modal").has_attr("hidden") and shop.select(".hs-pkg")


async def test_pwa_manifest_and_service_worker(portal: AsyncTestClient[Litestar]) -> None:
    sw = await portal.get("/portal/sw.js")
    assert sw.status_code == 200
    assert sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/portal" and sw.headers["cache-control"] == "no-cache"
    assert "__HOTSPOT_VERSION__" not in sw.text and "/static/vendor/" in sw.text
    assert 'var BUSINESS = "Mama Mboga Cafe";' in sw.text  # its built-in offline page
    manifest = await portal.get("/portal/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["name"] == "Mama Mboga Cafe WiFi" and body["scope"] == "/portal"
    for icon in body["icons"]:
        assert (await portal.get(icon["src"])).status_code == 200, icon["src"]


async def test_text_is_gzipped_event_streams_are_not(portal: AsyncTestClient[Litestar]) -> None:
    css = await portal.get("/static/vendor/bootstrap/bootstrap.min.css", headers={"accept-encoding": "gzip"})
    assert css.headers["content-encoding"] == "gzip"
    page = await portal.get("/portal", headers={"accept-encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    png = await portal.get("/static/portal/icon-192.png", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in png.headers


async def test_chap_response_is_computed_for_the_router_form() -> None:
    # The vector the connect page relies on (the full flow is in test_live.py).
    assert len(chap_response(REDIRECT["chap-id"], "secret", REDIRECT["chap-challenge"])) == 32
