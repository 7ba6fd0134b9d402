"""The admin as an installable app and what every admin page shares: the web manifest, the
service worker and its offline page, the colour mode remembered per admin, and the toasts
(in-app notifications) streamed from the admin channel, filtered by permission."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from admin_support import Box
from bs4 import BeautifulSoup

import hotspot.admin.notices as notices
from hotspot import __version__
from hotspot.admin.notices import notice_for
from hotspot.contracts import Money, PaymentConfirmed, RouterStatusChanged, SecurityEvent
from hotspot.runtime import ADMIN_CHANNEL

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def test_the_manifest_makes_the_admin_installable(box: Box) -> None:
    response = await box.browser().request("GET", "/admin/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.text)
    assert manifest["scope"] == "/admin" and manifest["start_url"].startswith("/admin")
    assert manifest["display"] == "standalone" and manifest["name"].endswith("Admin")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes  # what Android asks for to offer "Install"
    assert any(icon["purpose"] == "maskable" for icon in manifest["icons"])


async def test_the_worker_is_served_from_admin_and_names_its_cache_after_the_version(box: Box) -> None:
    response = await box.browser().request("GET", "/admin/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/admin"
    assert response.headers["cache-control"] == "no-cache"
    assert f"hotspot-admin-{__version__}" in response.text and "__HOTSPOT_VERSION__" not in response.text
    assert '"/admin/offline"' in response.text


async def test_the_offline_page_needs_no_sign_in_and_holds_no_data(box: Box) -> None:
    response = await box.browser().get("/admin/offline")
    assert response.status_code == 200
    assert "Can't reach the box" in response.text
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find("form") is None and soup.select_one("meta[name=csrf-token]") is None


async def test_pages_link_the_manifest_and_have_a_place_for_toasts(box: Box) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    soup = BeautifulSoup((await browser.get("/admin")).text, "html.parser")
    assert soup.select_one("link[rel=manifest][href='/admin/manifest.webmanifest']") is not None
    assert soup.select_one("#hs-toasts[aria-live=polite]") is not None
    login = BeautifulSoup((await box.browser().get("/admin/login")).text, "html.parser")
    assert login.select_one("link[rel=manifest]") is not None  # installable from the sign-in page


async def test_the_colour_mode_is_remembered_for_the_admin(box: Box) -> None:
    box.admin("owner", "owner")
    phone = await box.signed_in("owner")
    html = BeautifulSoup((await phone.get("/admin")).text, "html.parser").html
    assert html is not None and not html.has_attr("data-theme-saved")  # follows the system at first
    saved = await phone.submit("/admin/account/theme", {"theme": "dark"})
    assert saved.status_code == 204
    laptop = await box.signed_in("owner")  # another device: the same choice
    html = BeautifulSoup((await laptop.get("/admin/sessions")).text, "html.parser").html
    assert html is not None and html["data-theme-saved"] == "dark"
    bad = await phone.submit("/admin/account/theme", {"theme": "purple"})
    assert bad.status_code == 400 and json.loads(bad.text)["field"] == "theme"
    assert (await phone.submit("/admin/account/theme", {"theme": "dark"}, token=False)).status_code == 403
    assert (await box.browser().submit("/admin/account/theme", {"theme": "dark"})).status_code in (401, 303)


def test_each_event_becomes_a_notice_for_those_allowed_to_see_it() -> None:
    paid = PaymentConfirmed("p1", "o1", Money(5000, "KES"), "mpesa", "ws_1", AT)
    message = json.loads(json.dumps({"on": "payment_confirmed", "event": _plain(paid)}))
    notice = notice_for(message)
    assert notice is not None and notice.permission == "payments.read"
    assert notice.title == "New payment" and "KES 50" in notice.text and notice.href == "/admin/payments/p1"

    down = notice_for(
        {
            "on": "router_status_changed",
            "event": _plain(RouterStatusChanged("cafe", "ok", "down", "timeout", AT)),
        }
    )
    assert (
        down is not None
        and down.level == "danger"
        and "cafe" in down.title
        and down.permission == "routers.read"
    )
    back = notice_for(
        {"on": "router_status_changed", "event": _plain(RouterStatusChanged("cafe", "down", "ok", "", AT))}
    )
    assert back is not None and back.level == "success" and "back" in back.title
    assert (
        notice_for(
            {"on": "router_status_changed", "event": _plain(RouterStatusChanged("cafe", None, "ok", "", AT))}
        )
        is None
    )

    forged = SecurityEvent("payment_callback", "mpesa: mismatch", "critical", AT)
    alarm = notice_for({"on": "security_event", "event": _plain(forged)})
    assert alarm is not None and alarm.permission == "audit.read" and alarm.level == "danger"
    assert (
        notice_for({"on": "security_event", "event": _plain(SecurityEvent("login", "ok", "info", AT))})
        is None
    )

    ending = notice_for(
        {"on": "session_expiring", "event": {"who": "AA:BB:CC:00:00:01", "seconds_left": 540}}
    )
    assert ending is not None and ending.permission == "sessions.read" and "9 minutes left" in ending.text
    assert (
        notice_for({"on": "order"}) is None and notice_for({"on": "payment_confirmed", "event": "x"}) is None
    )


def _plain(event: Any) -> Any:
    """The event as it crosses the admin channel (JSON)."""
    from litestar.serialization import encode_json

    return json.loads(encode_json(event))


def notice_events(text: str) -> list[dict[str, Any]]:
    found = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = block.splitlines()
        if "event: notice" in lines:
            found.append(json.loads("\n".join(line[6:] for line in lines if line.startswith("data: "))))
    return found


@pytest.mark.parametrize(("role", "sees_security"), [("owner", True), ("operator", False)])
async def test_notices_stream_to_open_pages_filtered_by_permission(
    box: Box, monkeypatch: pytest.MonkeyPatch, role: str, sees_security: bool
) -> None:
    monkeypatch.setattr(notices, "STREAM_MAX_SECONDS", 30.0)
    monkeypatch.setattr(notices, "RECHECK_SECONDS", 0.2)
    box.admin("backup", "owner")  # so the one under test may be switched off, even an owner
    someone = box.admin("someone", role)
    browser = await box.signed_in("someone")
    hotspot = box.hotspot
    failures: list[BaseException] = []

    def announce() -> None:
        try:
            tell()
        except BaseException as exc:
            failures.append(exc)

    def tell() -> None:
        deadline = time.monotonic() + 10
        while not hotspot.channels._channels.get(ADMIN_CHANNEL) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        paid = PaymentConfirmed("p9", "o9", Money(2000, "KES"), "mpesa", "ws_9", datetime.now(UTC))
        box.run(lambda: hotspot.emit("payment_confirmed", event=paid))
        forged = SecurityEvent(
            "payment_callback", "mpesa: amount does not match", "critical", datetime.now(UTC)
        )
        box.run(lambda: hotspot.emit("security_event", event=forged))
        hotspot.tell_admins(
            {"on": "session_expiring", "event": {"who": "AA:BB:CC:00:00:09", "seconds_left": 600}}
        )
        time.sleep(0.5)  # then the stream ends: its admin is switched off (checked every 0.2 s)
        box.run(lambda: hotspot.accounts.update_admin(someone["id"], {"active": False}, by=None))

    thread = threading.Thread(target=announce)
    thread.start()
    try:
        response = await browser.get("/admin/notices/events", headers={"accept": "text/event-stream"})
    finally:
        thread.join()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert failures == []
    titles = [n["title"] for n in notice_events(response.text)]
    assert "New payment" in titles and "Session ending" in titles  # both roles follow these
    assert ("Suspicious activity" in titles) is sees_security  # operators do not read the security log
    assert all("permission" not in n for n in notice_events(response.text))


async def test_the_notice_stream_needs_a_sign_in(box: Box) -> None:
    assert (await box.browser().request("GET", "/admin/notices/events")).status_code == 401


async def test_a_caller_not_asking_for_a_stream_is_answered_at_once(box: Box) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    response = await browser.request("GET", "/admin/notices/events")
    assert response.status_code == 200 and response.text.startswith(": ready")


async def test_the_stream_ends_soon_after_its_admin_is_disabled(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notices, "RECHECK_SECONDS", 0.2)
    monkeypatch.setattr(notices, "STREAM_MAX_SECONDS", 30.0)
    someone = box.admin("someone", "operator")
    browser = await box.signed_in("someone")
    hotspot = box.hotspot

    def disable() -> None:
        deadline = time.monotonic() + 10
        while not hotspot.channels._channels.get(ADMIN_CHANNEL) and time.monotonic() < deadline:
            time.sleep(0.02)
        box.run(lambda: hotspot.accounts.update_admin(someone["id"], {"active": False}, by=None))

    thread = threading.Thread(target=disable)
    thread.start()
    started = time.monotonic()
    try:
        response = await browser.get("/admin/notices/events", headers={"accept": "text/event-stream"})
    finally:
        thread.join()
    assert response.status_code == 200
    assert time.monotonic() - started < 10  # not the 30 s the stream would otherwise last
