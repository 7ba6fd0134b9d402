"""Following an order live (server-sent events, polling) and the router login hand-off."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from bs4 import BeautifulSoup
from litestar import Litestar
from litestar.testing import AsyncTestClient
from portal_support import MAC, REDIRECT, AppFactory, hotspot_of, land

from hotspot.payments.checkout import DeviceLogin, OrderStatus, order_channel
from hotspot.portal import views
from hotspot.portal.chap import chap_response

HX = {"HX-Request": "true"}


def events(text: str) -> list[dict[str, Any]]:
    """The `status` events of an event stream, decoded."""
    found = []
    for block in text.split("\r\n\r\n" if "\r\n" in text else "\n\n"):
        lines = block.splitlines()
        if "event: status" in lines:
            data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
            found.append(json.loads(data))
    return found


async def buy(
    client: AsyncTestClient[Litestar],
    phone: str,
    package: str = "1 hour",
    fields: dict[str, str] | None = None,
) -> str:
    """Buy from the page: `fields` are the buy form's hidden inputs of the page landed on."""
    ids = {p["name"]: p["id"] for p in (await client.get("/api/v1/portal/packages")).json()["packages"]}
    response = await client.post(
        "/portal/orders", data={**(fields or {}), "package_id": ids[package], "phone": phone}, headers=HX
    )
    assert response.status_code == 200, response.text
    order_id: str = BeautifulSoup(response.text, "html.parser").select_one(".hs-panel")["data-order"]
    return order_id


def publish_until(
    client: AsyncTestClient[Litestar], order_id: str, data: dict[str, Any], done: threading.Event
) -> None:
    """From another thread: once the stream has subscribed, publish (again, until it ended)."""
    hotspot = hotspot_of(client)
    channel = order_channel(order_id)
    deadline = time.monotonic() + 15
    while not hotspot.channels._channels.get(channel) and time.monotonic() < deadline:
        time.sleep(0.02)
    while not done.is_set() and time.monotonic() < deadline:
        time.sleep(0.2)
        message = {**data, "updated_at": time.time()}
        assert client.blocking_portal is not None
        client.blocking_portal.call(hotspot.channels.wait_published, message, [channel])


async def test_the_stream_sends_now_then_every_change_then_ends(
    portal: AsyncTestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "KEEPALIVE_SECONDS", 0.1)
    order_id = await buy(portal, "0712345690", "1 day")
    now = (await portal.get(f"/api/v1/portal/orders/{order_id}")).json()
    online = {
        **now,
        "login": None,
        "state": "online",
        "remaining_seconds": 86399,
        "remaining_bytes": 1_500_000_000,
        "expires_at": time.time() + 86399,
    }
    done = threading.Event()
    publisher = threading.Thread(target=publish_until, args=(portal, order_id, online, done))
    publisher.start()
    try:
        response = await portal.get(f"/portal/orders/{order_id}/events")
    finally:
        done.set()
        publisher.join()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in response.headers  # never buffered by gzip
    assert response.headers["cache-control"] == "no-store"
    received = events(response.text)
    assert [e["state"] for e in received] == ["waiting", "online"]  # then the stream ended
    first, last = received
    assert first["order_id"] == order_id and "Check your phone" in first["html"]
    assert last["remaining_seconds"] == 86399 and "You're online" in last["html"]
    assert "1.5 GB of 2 GB" in last["html"] and 'data-countdown="86399"' in last["html"]
    assert all("login" not in e for e in received)
    assert ": keep-alive" in response.text  # comments while nothing happened
    assert "retry: 3000" in response.text


async def test_a_real_payment_streams_to_online(portal_factory: AppFactory) -> None:
    client = await portal_factory(fast=True)
    order_id = await buy(client, "0712345691")
    response = await client.get(f"/portal/orders/{order_id}/events")
    received = events(response.text)
    assert received[-1]["state"] == "online" and received[-1]["remaining_seconds"] > 3500
    assert [e["updated_at"] for e in received] == sorted(e["updated_at"] for e in received)


async def test_an_ended_or_failed_order_streams_once(portal: AsyncTestClient[Litestar]) -> None:
    order_id = await buy(portal, "0700000004")  # unreachable: failed at once
    received = events((await portal.get(f"/portal/orders/{order_id}/events")).text)
    assert [(e["state"], e["reason"]) for e in received] == [("failed", "unreachable")]
    assert "reach your phone" in received[0]["html"]


async def test_polling_fallback(portal: AsyncTestClient[Litestar]) -> None:
    order_id = await buy(portal, "0712345692")
    response = await portal.get(f"/portal/orders/{order_id}/status")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["order_id"] == order_id and body["state"] == "waiting" and body["connect_url"] is None
    assert "Check your phone" in body["html"] and "login" not in body
    assert (await portal.get("/portal/orders/oNoSuchOrder/status")).status_code == 404
    assert (await portal.get("/portal/orders/bad%20id/status")).status_code == 404
    assert (await portal.get("/portal/orders/oNoSuchOrder/events")).status_code == 404


async def test_other_browsers_cannot_follow_an_order(portal: AsyncTestClient[Litestar]) -> None:
    order_id = await buy(portal, "0712345693")
    portal.cookies.clear()
    for what in ("status", "events", "connect"):
        response = await portal.get(f"/portal/orders/{order_id}/{what}")
        assert response.status_code == 404, what


def with_login(client: AsyncTestClient[Litestar], monkeypatch: pytest.MonkeyPatch) -> DeviceLogin:
    """The box could not log the device in over the router API: the browser has to."""
    checkout = hotspot_of(client).checkout
    real_status = checkout.status
    login = DeviceLogin("hs-u-42", "s3cret-pw", "http://10.5.50.1/login", "http://example.com/news")

    async def status(order_id: str) -> OrderStatus:
        current = await real_status(order_id)
        return replace(current, state="online", remaining_seconds=3600, login=login)

    monkeypatch.setattr(checkout, "status", status)
    return login


async def test_credentials_only_for_the_browser_that_bought(
    portal: AsyncTestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = await buy(portal, "0712345694", fields=await land(portal))
    login = with_login(portal, monkeypatch)

    status = (await portal.get(f"/portal/orders/{order_id}/status")).json()
    assert status["connect_url"] == f"/portal/orders/{order_id}/connect"
    assert login.password not in json.dumps(status)
    page = BeautifulSoup((await portal.get("/portal")).text, "html.parser")
    panel = page.select_one("#pay-status .hs-panel")
    assert panel["data-connect"] == status["connect_url"] and panel.has_attr("data-auto-connect")
    assert login.password not in str(page)

    connect = await portal.get(f"/portal/orders/{order_id}/connect")
    assert connect.status_code == 200 and connect.headers["cache-control"] == "no-store"
    csp = connect.headers["content-security-policy"]
    assert "form-action 'self' http://10.5.50.1" in csp and "script-src 'self';" in csp
    form = BeautifulSoup(connect.text, "html.parser").select_one("form#router-login")
    assert form["action"] == "http://10.5.50.1/login" and form["method"] == "post"
    assert form.has_attr("data-autosubmit")
    fields = {i["name"]: i["value"] for i in form.select("input[type=hidden]")}
    assert fields == {
        "username": "hs-u-42",
        "password": chap_response(REDIRECT["chap-id"], "s3cret-pw", REDIRECT["chap-challenge"]),
        "dst": "http://example.com/news",
        "popup": "true",
    }
    # A second trip (the router sent the browser back) and a third: a button, no auto-submit loop.
    await portal.get(f"/portal/orders/{order_id}/connect")
    third = BeautifulSoup((await portal.get(f"/portal/orders/{order_id}/connect")).text, "html.parser")
    assert not third.select_one("form#router-login").has_attr("data-autosubmit")
    assert (
        not BeautifulSoup((await portal.get("/portal")).text, "html.parser")
        .select_one("#pay-status .hs-panel")
        .has_attr("data-auto-connect")
    )

    # Someone who only knows the MAC (a fresh browser, the router's redirect replayed):
    portal.cookies.clear()
    other = await portal.get("/portal", params=REDIRECT)
    assert other.status_code == 200 and "hs-u-42" not in other.text and login.password not in other.text
    other_panel = BeautifulSoup(other.text, "html.parser").select_one("#pay-status .hs-panel")
    assert other_panel["data-state"] == "online" and not other_panel.has_attr("data-connect")
    assert "phone you paid from" in other_panel.text
    assert (await portal.get(f"/portal/orders/{order_id}/connect")).status_code == 404
    seen = (await portal.get(f"/portal/orders/{order_id}/status")).json()  # may follow, never log in
    assert seen["connect_url"] is None and login.password not in json.dumps(seen)
    api = (await portal.get(f"/api/v1/portal/orders/{order_id}")).json()
    assert "login" not in api and login.password not in json.dumps(api)


async def test_without_chap_values_the_plain_password_is_sent(
    portal: AsyncTestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = await land(portal, {"mac": MAC, "ip": "10.5.50.23", "link-login-only": "http://10.5.50.1/login"})
    order_id = await buy(portal, "0712345695", fields=fields)
    with_login(portal, monkeypatch)
    form = BeautifulSoup((await portal.get(f"/portal/orders/{order_id}/connect")).text, "html.parser")
    fields = {i["name"]: i["value"] for i in form.select("form#router-login input[type=hidden]")}
    assert fields["password"] == "s3cret-pw" and fields["username"] == "hs-u-42"


async def test_connect_before_online_goes_back_to_the_portal(portal: AsyncTestClient[Litestar]) -> None:
    order_id = await buy(portal, "0712345696")
    response = await portal.get(f"/portal/orders/{order_id}/connect", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/portal?status=1"


async def test_a_returning_device_sees_its_payment_in_flight(portal: AsyncTestClient[Litestar]) -> None:
    order_id = await buy(portal, "0712345697", fields=await land(portal))
    portal.cookies.clear()  # the captive window was closed while the customer typed the PIN
    page = BeautifulSoup((await portal.get("/portal", params=REDIRECT)).text, "html.parser")
    panel = page.select_one("#pay-status .hs-panel")
    assert panel["data-order"] == order_id and panel["data-state"] == "waiting"
    assert not page.select_one("#pay-modal").has_attr("hidden")
    # Seen through its MAC, this browser may now follow the order live.
    assert (await portal.get(f"/portal/orders/{order_id}/status")).status_code == 200
