""" "Already paid on another phone or laptop?" on the portal, on both backends: the link, the
number, the SMS code, and the new device greeted with the session."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bs4 import BeautifulSoup
from litestar import Litestar
from litestar.testing import AsyncTestClient
from portal_support import REDIRECT, AppFactory, hotspot_of, in_app, router_fields, wait_for_state

from hotspot.payments.tables import Order

NEW = {**REDIRECT, "mac": "02:AB:CD:00:00:99", "ip": "10.5.50.99"}


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


async def buy_and_go_online(portal: AsyncTestClient[Litestar]) -> str:
    ids = {p["name"]: p["id"] for p in (await portal.get("/api/v1/portal/packages")).json()["packages"]}
    fields = router_fields((await portal.get("/portal", params=REDIRECT)).text)
    bought = await portal.post(
        "/portal/orders",
        data={**fields, "package_id": ids["1 hour"], "phone": "0712 345 678"},
        follow_redirects=False,
    )
    assert bought.status_code == 303

    async def order_id() -> str:
        row = await Order.select(Order.id).where(Order.phone == "254712345678").first().run()
        assert row is not None
        return str(row["id"])

    found: str = in_app(portal, order_id)
    assert (await wait_for_state(portal, found, {"online"}))["state"] == "online"
    portal.cookies.clear()  # now the other device, with a browser of its own
    return found


def code_from(portal: AsyncTestClient[Litestar]) -> str:
    notifier = hotspot_of(portal).registry.notifiers["recording"]
    match = re.match(r"(\d{6}) ", notifier.sent[-1].body)  # type: ignore[attr-defined]
    assert match is not None
    return match[1]


async def test_a_customer_moves_a_paid_session_to_a_new_device(portal_factory: AppFactory) -> None:
    portal = await portal_factory(fast=True, notifier=True)
    order_id = await buy_and_go_online(portal)
    # The new device's landing offers the move, with the router's redirect in the link's form.
    landing = soup((await portal.get("/portal", params=NEW)).text)
    form = landing.select_one("form.hs-move")
    assert form["action"] == "/portal/move" and form["method"] == "get"
    assert "Already paid on another phone or laptop?" in form.text
    query = {i["name"]: i["value"] for i in form.select("input[type=hidden]")}
    assert query["mac"] == "02:AB:CD:00:00:99"
    # Step 1: the number that paid.
    page = soup((await portal.get("/portal/move", params=query)).text)
    assert page.select_one("input#move-phone")["autocomplete"] == "tel"
    assert not page.select_one("button[type=submit]").has_attr("disabled")
    back = urlsplit(page.select_one("a.hs-link-btn")["href"])
    assert back.path == "/portal" and dict(parse_qsl(back.query))["mac"] == "02:AB:CD:00:00:99"
    wrong = await portal.post("/portal/move", data={**query, "phone": "0812"})
    assert wrong.status_code == 422 and soup(wrong.text).select_one("#move-phone-error") is not None
    assert soup(wrong.text).select_one("#move-phone")["value"] == "0812"
    sent = await portal.post("/portal/move", data={**query, "phone": "0712 345 678"})
    assert sent.status_code == 200
    page = soup(sent.text)
    assert "2547•••••678" in page.text
    code_input = page.select_one("input#move-code")
    assert code_input["autocomplete"] == "one-time-code" and code_input["inputmode"] == "numeric"
    code = code_from(portal)
    # Step 2: a wrong code says how many tries are left; the right one moves the session here.
    wrong_code = "000000" if code != "000000" else "111111"
    bad = await portal.post("/portal/move/confirm", data={"code": wrong_code})
    assert bad.status_code == 422 and "4 tries left" in soup(bad.text).select_one("#move-code-error").text
    moved = await portal.post("/portal/move/confirm", data={"code": code}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/portal?status=1"
    page = soup((await portal.get("/portal?status=1")).text)
    panel = page.select_one("#pay-status .hs-panel")
    assert panel["data-order"] == order_id and panel["data-state"] == "online"
    assert not page.select_one("#pay-modal").has_attr("hidden")

    async def order() -> dict[str, Any]:
        return dict(await Order.select().where(Order.id == order_id).first().run())

    assert in_app(portal, order)["mac"] == "02:AB:CD:00:00:99"
    # The device it came from now lands on the shop.
    portal.cookies.clear()
    old = soup((await portal.get("/portal", params=REDIRECT)).text)
    assert old.select_one("#pay-status .hs-panel") is None


async def test_asking_for_a_code_on_this_device_first(portal_factory: AppFactory) -> None:
    portal = await portal_factory(notifier=True)
    response = await portal.post("/portal/move/confirm", data={"code": "123456"})
    assert response.status_code == 422 and "Ask for a code first" in response.text
    # A page that does not know the device says what to do and cannot send.
    page = soup((await portal.get("/portal/move")).text)
    assert "doesn't know which device" in page.text
    assert page.select_one("button[type=submit]").has_attr("disabled")
    refused = await portal.post("/portal/move", data={"phone": "0712 345 678"})
    assert refused.status_code == 422 and "doesn't know which device" in refused.text
    # A number with nothing live: said so next to the field.
    none = await portal.post("/portal/move", data={**NEW, "phone": "0712 345 678"})
    assert none.status_code == 422
    assert "no active package" in soup(none.text).select_one("#move-phone-error").text


async def test_without_a_notifier_the_move_is_not_offered(portal: AsyncTestClient[Litestar]) -> None:
    landing = soup((await portal.get("/portal", params=NEW)).text)
    assert landing.select_one("form.hs-move") is None
    assert (await portal.get("/portal/move", params=NEW)).status_code == 404
    assert (await portal.post("/portal/move", data={"phone": "0712345678"})).status_code == 404
