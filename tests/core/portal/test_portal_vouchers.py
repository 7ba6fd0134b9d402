""" "Have a voucher?" on the portal, on both backends: redeem, refusals in the form, the QR link."""

from __future__ import annotations

import time
from typing import Any

from bs4 import BeautifulSoup
from litestar import Litestar
from litestar.testing import AsyncTestClient
from portal_support import MAC, REDIRECT, AppFactory, hotspot_of, in_app, router_fields, wait_for_state

from hotspot.payments.tables import Order
from hotspot.portal.redeem import NO_DEVICE
from hotspot.vouchers import BatchSpec, IssuedVoucher
from hotspot.vouchers.tables import Voucher, VoucherBatch

HX = {"HX-Request": "true"}


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def generate(client: AsyncTestClient[Litestar], **spec: Any) -> list[IssuedVoucher]:
    async def run() -> list[IssuedVoucher]:
        made = await hotspot_of(client).vouchers.generate(
            BatchSpec(**{"package": "1 hour", "count": 3, **spec})
        )
        return made.vouchers

    result: list[IssuedVoucher] = in_app(client, run)
    return result


def spaced(code: str) -> str:
    """How a customer types it: small letters, a dash and spaces."""
    return f" {code[:5].lower()}-{code[5:]} "


async def landing_fields(
    client: AsyncTestClient[Litestar], params: dict[str, str] | None = None
) -> dict[str, str]:
    response = await client.get("/portal", params=REDIRECT if params is None else params)
    assert response.status_code == 200
    return router_fields(response.text, "voucher-form")


async def test_the_page_offers_a_voucher_next_to_buying(portal: AsyncTestClient[Litestar]) -> None:
    response = await portal.get("/portal", params=REDIRECT)
    page = soup(response.text)
    link = page.select_one("a[data-voucher-link]")
    assert link is not None and link["href"] == "#voucher" and "voucher" in link.text
    form = page.select_one("form#voucher-form")
    assert (
        form["action"] == "/portal/vouchers"
        and form["method"] == "post"
        and form["hx-post"] == "/portal/vouchers"
    )
    code = form.select_one("input[name=code]")
    assert (
        code["autocapitalize"] == "characters"
        and code["spellcheck"] == "false"
        and code["autocomplete"] == "off"
    )
    assert form.select_one("input[name=pin]") is None  # the PIN field comes when a voucher asks for it
    # The router's redirect rides with this form too (a new phone's landing keeps no session).
    assert router_fields(response.text, "voucher-form") == router_fields(response.text)
    assert router_fields(response.text)["mac"] == MAC


async def test_a_typed_code_puts_the_device_online_like_a_purchase(portal_factory: AppFactory) -> None:
    portal = await portal_factory(fast=True)
    [voucher, *_] = generate(portal)
    fields = await landing_fields(portal)
    response = await portal.post(
        "/portal/vouchers", data={**fields, "code": spaced(voucher.code)}, headers=HX
    )
    assert response.status_code == 200, response.text
    assert response.headers["hx-retarget"] == "#pay-status" and response.headers["hx-reswap"] == "innerHTML"
    page = soup(response.text)
    panel = page.select_one(".hs-panel")
    assert panel["data-state"] in ("activating", "online")
    order_id = panel["data-order"]
    assert order_id.startswith("v")
    # The form comes back empty, out of band; the banner too.
    oob = page.select_one("form#voucher-form[hx-swap-oob]")
    assert oob is not None and oob.select_one("input[name=code]")["value"] == ""
    assert page.select_one("#pay-banner[hx-swap-oob]") is not None
    # The same live status as a purchase: this browser follows the order it redeemed.
    assert (await portal.get(f"/portal/orders/{order_id}/status")).status_code == 200
    body = await wait_for_state(portal, order_id, {"online"})
    assert body["state"] == "online" and body["package"] == "1 hour"
    status = (await portal.get(f"/portal/orders/{order_id}/status")).json()
    assert "You&#39;re online" in status["html"] or "You're online" in status["html"]
    assert 3500 < status["remaining_seconds"] <= 3600
    # Reopened, the portal greets the device with its voucher session.
    again = soup((await portal.get("/portal", params=REDIRECT)).text)
    assert again.select_one("#pay-status .hs-panel")["data-state"] == "online"


async def test_without_javascript_a_redeem_redirects_to_the_status(portal: AsyncTestClient[Litestar]) -> None:
    [voucher, *_] = generate(portal)
    fields = await landing_fields(portal)
    response = await portal.post(
        "/portal/vouchers", data={**fields, "code": voucher.code}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/portal?status=1"
    page = soup((await portal.get("/portal?status=1")).text)
    assert not page.select_one("#pay-modal").has_attr("hidden")
    panel = page.select_one("#pay-status .hs-panel")
    assert panel["data-state"] == "activating" and "Voucher accepted" in panel.text

    async def row() -> dict[str, Any]:
        return dict(await Order.select().where(Order.id == panel["data-order"]).first().run())

    order = in_app(portal, row)
    assert (
        order["mac"] == MAC
        and order["state"] == "voucher"
        and order["link_login_only"] == "http://10.5.50.1/login"
    )


async def test_refusals_come_back_in_the_form_with_what_was_typed(portal: AsyncTestClient[Litestar]) -> None:
    [voucher, *_] = generate(portal, bind_mac=True)
    fields = await landing_fields(portal)
    # A code that does not exist: 422, the message under the field, the typing kept.
    wrong = await portal.post("/portal/vouchers", data={**fields, "code": "abcd-efgh-jk"}, headers=HX)
    assert wrong.status_code == 422
    form = soup(wrong.text).select_one("form#voucher-form")
    assert "not valid" in form.select_one("#voucher-code-error").text
    assert form.select_one("input[name=code]")["value"] == "abcd-efgh-jk"
    assert "is-invalid" in form.select_one("input[name=code]")["class"]
    assert router_fields(wrong.text, "voucher-form") == fields  # the next try still knows the device
    # Empty: a plain word, no lookup.
    empty = await portal.post("/portal/vouchers", data={**fields, "code": "  "}, headers=HX)
    assert empty.status_code == 422 and "Enter the code" in empty.text
    # Bound to the first device: another phone is told so.
    assert (
        await portal.post("/portal/vouchers", data={**fields, "code": voucher.code}, headers=HX)
    ).status_code == 200
    other = {**REDIRECT, "mac": "02:AB:CD:00:00:77", "ip": "10.5.50.77"}
    portal.cookies.clear()
    bound = await portal.post(
        "/portal/vouchers", data={**await landing_fields(portal, other), "code": voucher.code}, headers=HX
    )
    assert bound.status_code == 422
    assert (
        "locked to the device that first used it" in soup(bound.text).select_one("#voucher-code-error").text
    )


async def test_an_expired_voucher_says_so(portal: AsyncTestClient[Litestar]) -> None:
    [voucher, *_] = generate(portal)

    async def expire() -> None:  # the batch's date passed (the voucher keeps a copy of it)
        past = time.time() - 60
        await VoucherBatch.update({VoucherBatch.expires_at: past}).where(VoucherBatch.id > 0).run()
        await Voucher.update({Voucher.expires_at: past}).where(Voucher.id > 0).run()

    in_app(portal, expire)
    response = await portal.post(
        "/portal/vouchers", data={**await landing_fields(portal), "code": voucher.code}, headers=HX
    )
    assert response.status_code == 422
    assert "expired before it was used" in soup(response.text).select_one("#voucher-code-error").text


async def test_a_pin_voucher_asks_for_its_pin_then_connects(portal: AsyncTestClient[Litestar]) -> None:
    [voucher, *_] = generate(portal, pin=True)
    assert voucher.pin is not None
    fields = await landing_fields(portal)
    first = await portal.post("/portal/vouchers", data={**fields, "code": voucher.code}, headers=HX)
    assert first.status_code == 422
    form = soup(first.text).select_one("form#voucher-form")
    pin = form.select_one("input[name=pin]")
    assert pin is not None and pin.has_attr("autofocus") and pin["inputmode"] == "numeric"
    assert "has a PIN" in form.select_one("#voucher-pin-error").text
    assert form.select_one("input[name=code]")["value"] == voucher.code
    assert form.select_one("input[name=pin_shown]")["value"] == "1"
    wrong_pin = "000000" if voucher.pin != "000000" else "111111"
    bad = await portal.post(
        "/portal/vouchers",
        data={**fields, "code": voucher.code, "pin": wrong_pin, "pin_shown": "1"},
        headers=HX,
    )
    assert bad.status_code == 422 and "does not match" in soup(bad.text).select_one("#voucher-pin-error").text
    good = await portal.post(
        "/portal/vouchers",
        data={**fields, "code": voucher.code, "pin": voucher.pin, "pin_shown": "1"},
        headers=HX,
    )
    assert good.status_code == 200 and soup(good.text).select_one(".hs-panel")["data-state"] == "activating"


async def test_guessing_locks_the_device_out_and_says_when_to_retry(
    portal: AsyncTestClient[Litestar],
) -> None:
    fields = await landing_fields(portal)
    for n in range(5):
        response = await portal.post(
            "/portal/vouchers", data={**fields, "code": f"WRQNGCQDE{n + 2}"}, headers=HX
        )
        assert response.status_code == 422
    locked = await portal.post("/portal/vouchers", data={**fields, "code": "ABCDEFGHJK"}, headers=HX)
    assert locked.status_code == 422  # shown in the form (the JSON API answers 429)
    alert = soup(locked.text).select_one("form#voucher-form [data-form-alert]")
    assert not alert.has_attr("hidden")
    assert "Too many wrong codes from this device. Try again in" in alert.text
    assert int(locked.headers["retry-after"]) > 0
    assert soup(locked.text).select_one("input[name=code]")["value"] == "ABCDEFGHJK"


async def test_a_page_that_does_not_know_the_device_says_what_to_do(
    portal: AsyncTestClient[Litestar],
) -> None:
    [voucher, *_] = generate(portal)
    response = await portal.post("/portal/vouchers", data={"code": voucher.code}, headers=HX)
    assert response.status_code == 422
    alert = soup(response.text).select_one("[data-form-alert]")
    assert alert.text.strip() == NO_DEVICE and not alert.has_attr("hidden")


async def test_a_scanned_qr_code_opens_the_portal_with_the_voucher_filled_in(
    portal: AsyncTestClient[Litestar],
) -> None:
    landing = portal.app.state.portal_landing
    served = landing.served
    response = await portal.get("/portal", params={**REDIRECT, "voucher": "CAFE-X7K9M-Q2R4T"})
    assert response.status_code == 200
    assert landing.served == served  # rendered by the handler, not the new-phone rendition
    page = soup(response.text)
    forms = page.select("form.hs-card")
    assert [f["id"] for f in forms[:2]] == ["voucher-form", "buy-form"]  # the voucher leads
    assert page.select_one("#voucher-code")["value"] == "CAFE-X7K9M-Q2R4T"
    assert page.select_one("form#voucher-form button[type=submit]").has_attr("autofocus")  # one tap
    assert page.select_one("form#voucher-form input[name=lead]")["value"] == "1"
    assert page.select_one("a[data-voucher-link]") is None
    assert "Connect with your voucher" in page.select_one("h1").text
    assert router_fields(response.text, "voucher-form")["mac"] == MAC
    # Without one, a new phone's landing page is the usual one, from the rendition.
    portal.cookies.clear()
    await portal.get("/portal", params=REDIRECT)
    assert landing.served == served + 1
