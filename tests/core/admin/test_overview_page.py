"""The live overview (/admin): the cards on the page, and the event stream that pushes them again
when the app announces something (here a security event) and on its own tick; on both backends."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from admin_support import Box
from bs4 import BeautifulSoup

import hotspot.admin.overview as overview
from hotspot.contracts import SecurityEvent
from hotspot.payments.tables import Order, Payment
from hotspot.runtime import ADMIN_CHANNEL

NOW = time.time()


def overview_events(text: str) -> list[str]:
    """The HTML of each `overview` event of a stream."""
    found = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = block.splitlines()
        if "event: overview" in lines:
            found.append("\n".join(line[6:] for line in lines if line.startswith("data: ")))
    return found


def seed_pending_payment(box: Box) -> None:
    async def go() -> None:
        await (
            Order(
                id="o1",
                package_id=1,
                package_name="1 hour",
                terms={},
                amount=2000,
                currency="KES",
                phone="254712345678",
                created_at=NOW,
                state="open",
            )
            .save()
            .run()
        )
        await (
            Payment(
                id="p1",
                order_id="o1",
                gateway="mpesa",
                amount=2000,
                currency="KES",
                phone="254712345678",
                state="pending",
                reference="ref-1",
                created_at=NOW,
                updated_at=NOW,
            )
            .save()
            .run()
        )

    box.run(go)


async def test_the_page_shows_the_live_cards_and_keeps_the_setup_card(box: Box) -> None:
    seed_pending_payment(box)
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    page = await browser.get("/admin")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    live = soup.select_one("[sse-connect='/admin/overview/events'] #overview-live[sse-swap=overview]")
    assert live is not None
    assert live.select_one("[data-online]")["data-online"] == "0"
    assert live.select_one("a[data-payment=p1]") is not None and "KES 20" in live.text
    assert live.select_one("[data-revenue='1']") is not None
    assert "Finish setting up your box" in page.text  # the setup card stays
    assert "/static/vendor/htmx-ext-sse/sse.min.js" in page.text and "<script>" not in page.text


async def test_a_viewer_sees_no_money_or_security_cards(box: Box) -> None:
    seed_pending_payment(box)
    box.admin("clerk", "operator")
    browser = await box.signed_in("clerk")
    soup = BeautifulSoup((await browser.get("/admin")).text, "html.parser")
    live = soup.select_one("#overview-live")
    assert live is not None and live.select_one("[data-online]") is not None
    assert live.select_one("#security-title") is None  # operators do not read the security log


async def test_the_stream_pushes_the_cards_again_when_something_happens(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overview, "REFRESH_SECONDS", 0.2)
    monkeypatch.setattr(overview, "SETTLE_SECONDS", 0.01)
    monkeypatch.setattr(overview, "STREAM_MAX_SECONDS", 2.0)
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    hotspot = box.hotspot
    rendered = threading.Event()
    real_context = overview.live_context

    def counted(*args: Any) -> dict[str, Any]:
        rendered.set()
        return real_context(*args)

    monkeypatch.setattr(overview, "live_context", counted)

    def announce() -> None:
        deadline = time.monotonic() + 10
        while not hotspot.channels._channels.get(ADMIN_CHANNEL) and time.monotonic() < deadline:
            time.sleep(0.02)
        rendered.wait(10)  # subscribed, and the first render is done: what follows is news
        event = SecurityEvent(
            kind="callback_forged",
            detail="a callback for ref-9 claimed money",
            severity="critical",
            at=datetime.now(UTC),
            ip="203.0.113.9",
        )
        box.run(lambda: hotspot.emit("security_event", event=event))

    thread = threading.Thread(target=announce)
    thread.start()
    try:
        response = await browser.get("/admin/overview/events", headers={"accept": "text/event-stream"})
    finally:
        thread.join()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in response.headers and response.headers["cache-control"] == "no-store"
    pushed = overview_events(response.text)
    assert len(pushed) >= 2, response.text[:300]
    assert "callback_forged" not in pushed[0] and 'id="overview-cards"' in pushed[0]
    assert "callback_forged" in pushed[-1] and "203.0.113.9" in pushed[-1]
    assert ": keep-alive" in response.text  # unchanged renders are not sent again


async def test_the_stream_needs_dashboard_rights(box: Box) -> None:
    anonymous = box.browser()
    assert (await anonymous.request("GET", "/admin/overview/events")).status_code == 401


async def test_a_caller_not_asking_for_a_stream_gets_one_render(box: Box) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    response = await browser.request("GET", "/admin/overview/events")
    assert response.status_code == 200 and len(overview_events(response.text)) == 1
