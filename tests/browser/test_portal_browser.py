"""The portal in a real browser: a 360 px phone, a purchase to "You're online", the theme, the budget.

Screenshots go to /tmp/portal-*.png (light and dark, 360 px and 1280 px) for a human to look at.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from portal_server import Server

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}
BUDGET = 100_000  # bytes on the wire for the first load of /portal: HTML, CSS, JS, images, fonts
SHOTS = Path("/tmp")
_macs = iter(range(0x10, 0xFF))
CHAP_CHALLENGE = "\\357\\015\\330\\013\\021\\042\\063\\104\\125\\146\\167\\210\\231\\252\\273\\314"


def redirect_query() -> str:
    """What the router's login.html sends: a new device for every test."""
    mac = f"02:42:AC:11:00:{next(_macs):02X}"
    return f"mac={mac}&ip=10.5.50.23&link-orig=http%3A%2F%2Fexample.com%2F&identity=cafe"


class Console:
    """Console errors and page errors (a CSP violation shows up here)."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "status of 422" not in message.text:  # the form's field errors
            self.errors.append(message.text)


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    options: dict[str, Any] = getattr(request, "param", {})
    ctx = browser.new_context(
        viewport=options.get("viewport", PHONE), color_scheme=options.get("scheme", "light")
    )
    yield ctx
    ctx.close()


def no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"horizontal scroll: content {widths[0]} px in a {widths[1]} px viewport"


def test_a_phone_buys_and_goes_online(server: Server, context: BrowserContext) -> None:
    page = context.new_page()
    console = Console(page)
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if r.url.endswith("/events") else None)
    page.goto(f"{server.url}/portal?{redirect_query()}")

    expect(page.locator(".hs-pkg")).to_have_count(4)
    expect(page.locator(".hs-pkg").first).to_be_visible()
    expect(page.locator(".hs-pkg-price").nth(3)).to_have_text("KES 1,000")
    no_horizontal_scroll(page)
    page.screenshot(path=str(SHOTS / "portal-light-360.png"), full_page=True)

    # A wrong number: the message next to the field, what was typed kept, the package still chosen.
    page.locator(".hs-pkg", has_text="1 day").click()
    expect(page.locator("button.hs-pay")).to_have_text(re.compile(r"Pay KES 50 with M-Pesa"))
    page.fill("#phone", "0812 345")
    page.click("button.hs-pay")
    expect(page.locator("#phone-error")).to_contain_text("starting 07 or 01")
    expect(page.locator("#phone")).to_have_value("0812 345")
    expect(page.locator(".hs-pkg-input:checked")).to_have_count(1)
    no_horizontal_scroll(page)
    page.screenshot(path=str(SHOTS / "portal-error-light-360.png"), full_page=True)

    # A good one: the modal opens on "check your phone", then goes online without a reload.
    page.fill("#phone", "0712 345 678")
    page.click("button.hs-pay")
    modal = page.locator("#pay-modal")
    expect(modal).to_be_visible()
    expect(modal.locator(".hs-panel[data-state=waiting]")).to_be_visible()
    expect(modal).to_contain_text("Check your phone")
    expect(modal).to_contain_text("2547•••••678")
    page.wait_for_timeout(400)  # the sheet's rise animation
    page.screenshot(path=str(SHOTS / "portal-waiting-light-360.png"))
    expect(modal.locator(".hs-panel[data-state=online]")).to_be_visible(timeout=20_000)
    expect(modal).to_contain_text("You're online")
    timer = modal.locator(".hs-timer-value")
    first = timer.inner_text()
    assert re.fullmatch(r"23:59:\d\d", first), first
    page.wait_for_timeout(2200)
    assert timer.inner_text() != first, "the countdown does not tick"
    expect(modal.locator("a", has_text="Continue to example.com")).to_be_visible()
    no_horizontal_scroll(page)
    page.screenshot(path=str(SHOTS / "portal-online-light-360.png"))
    assert streams, "the status was not followed over server-sent events"

    # "Buy more time" closes the modal and shows the packages again.
    modal.locator("a", has_text="Buy more time").click()
    expect(modal).to_be_hidden()
    expect(page.locator(".hs-pkg").first).to_be_visible()
    assert console.errors == []


def test_reopening_the_portal_lands_on_the_session(server: Server, browser: Browser) -> None:
    query = redirect_query()
    first = browser.new_context(viewport=PHONE)
    page = first.new_page()
    page.goto(f"{server.url}/portal?{query}")
    page.locator(".hs-pkg", has_text="1 hour").click()
    page.fill("#phone", "0712 345 679")
    page.click("button.hs-pay")
    expect(page.locator("#pay-modal .hs-panel[data-state=waiting]")).to_be_visible()
    first.close()  # the phone closed the captive window while the PIN was typed
    again = browser.new_context(viewport=PHONE)  # a new window: new cookie jar
    page = again.new_page()
    console = Console(page)
    page.goto(f"{server.url}/portal?{query}")
    expect(page.locator("#pay-modal")).to_be_visible()
    expect(page.locator("#pay-modal .hs-panel[data-state=online]")).to_be_visible(timeout=20_000)
    expect(page.locator(".hs-banner")).to_contain_text("left")
    # The keyboard stays in the modal (Tab wraps around inside it), and Escape closes it.
    for _ in range(8):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('pay-modal').contains(document.activeElement)")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.getElementById('pay-modal').contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(page.locator("#pay-modal")).to_be_hidden()
    assert console.errors == []
    again.close()


def test_the_theme_toggle_is_remembered(server: Server, browser: Browser) -> None:
    for viewport, width in ((PHONE, 360), (DESKTOP, 1280)):
        ctx = browser.new_context(viewport=viewport, color_scheme="light")
        page = ctx.new_page()
        console = Console(page)
        page.goto(f"{server.url}/portal?{redirect_query()}")
        html = page.locator("html")
        expect(html).to_have_attribute("data-bs-theme", "light")
        page.screenshot(path=str(SHOTS / f"portal-light-{width}.png"), full_page=True)
        page.click("[data-theme-toggle]")
        expect(html).to_have_attribute("data-bs-theme", "dark")
        page.reload()
        expect(html).to_have_attribute("data-bs-theme", "dark")
        assert page.evaluate("localStorage.getItem('hotspot-theme')") == "dark"
        no_horizontal_scroll(page)
        page.screenshot(path=str(SHOTS / f"portal-dark-{width}.png"), full_page=True)
        page.click("[data-theme-toggle]")
        page.reload()
        expect(html).to_have_attribute("data-bs-theme", "light")
        assert console.errors == []
        ctx.close()


def test_purchase_screens_in_dark_mode_and_on_a_desktop(server: Server, browser: Browser) -> None:
    for viewport, width, scheme in ((PHONE, 360, "dark"), (DESKTOP, 1280, "light"), (DESKTOP, 1280, "dark")):
        ctx = browser.new_context(viewport=viewport, color_scheme=scheme)
        page = ctx.new_page()
        console = Console(page)
        page.goto(f"{server.url}/portal?{redirect_query()}")
        page.locator(".hs-pkg", has_text="1 week").click()
        page.fill("#phone", f"07{int(time.time() * 1000) % 10**8:08d}")
        page.click("button.hs-pay")
        expect(page.locator("#pay-modal .hs-panel[data-state=waiting]")).to_be_visible()
        page.wait_for_timeout(400)
        page.screenshot(path=str(SHOTS / f"portal-waiting-{scheme}-{width}.png"))
        expect(page.locator("#pay-modal .hs-panel[data-state=online]")).to_be_visible(timeout=20_000)
        no_horizontal_scroll(page)
        page.screenshot(path=str(SHOTS / f"portal-online-{scheme}-{width}.png"))
        assert console.errors == []
        ctx.close()


def test_first_load_fits_the_budget(server: Server, browser: Browser) -> None:
    """Everything a phone downloads for its first /portal, counted two ways: Chromium's own
    encodedDataLength (headers + compressed body, per response) and the bytes the server sent."""
    ctx = browser.new_context(viewport=PHONE)  # fresh: empty cache, no cookies, no service worker
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    received: dict[str, int] = {}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on(
        "Network.loadingFinished", lambda e: received.__setitem__(e["requestId"], int(e["encodedDataLength"]))
    )
    server.wire.reset()
    page.goto(f"{server.url}/portal?{redirect_query()}", wait_until="networkidle")
    page.wait_for_timeout(500)
    browser_total = sum(received.values())
    wire_first = server.wire.total()
    requests = sorted(((urls.get(k, "?"), v) for k, v in received.items()), key=lambda kv: -kv[1])

    # The service worker registers after the page settled; its install reuses the HTTP cache.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_timeout(1000)
    wire_with_worker = server.wire.total()
    report = {
        "browser_encoded_bytes": browser_total,
        "server_bytes_first_load": wire_first,
        "server_bytes_with_service_worker": wire_with_worker,
        "requests": requests,
        "server_log": server.wire.log,
    }
    Path(SHOTS / "portal-budget.json").write_text(json.dumps(report, indent=2))
    assert page.evaluate("!!navigator.serviceWorker.controller") or page.evaluate(
        "navigator.serviceWorker.getRegistration('/portal').then(r => !!r)"
    )
    assert not [u for u, _ in requests if "bootstrap-icons" in u or "bootstrap.bundle" in u]
    assert browser_total <= BUDGET, f"first load {browser_total} bytes: {requests}"
    assert wire_first <= BUDGET, f"first load {wire_first} bytes on the wire"
    assert wire_with_worker <= BUDGET, f"with the service worker: {wire_with_worker} bytes"
    ctx.close()


class RouterLoginPage:
    """The router's `link-login-only` (http://10.5.50.1/login) on a local port: records the form."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                fields = parse_qs(self.rfile.read(length).decode())
                owner.posts.append({k: v[0] for k, v in fields.items()})
                body = b'<!doctype html><link rel="icon" href="data:,"><h1>You are logged in</h1>'
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/login"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_browser_logs_in_at_the_router_when_the_box_cannot(server: Server, browser: Browser) -> None:
    """No MAC/IP from the router: the box cannot log the device in over the API, so the browser
    posts the grant's credentials (CHAP response) to the router's login page by itself."""
    router = RouterLoginPage()
    try:
        ctx = browser.new_context(viewport=PHONE)
        page = ctx.new_page()
        console = Console(page)
        query = urlencode(
            {
                "link-login-only": router.url,
                "link-orig": "http://example.com/",
                "chap-id": "\\371",
                "chap-challenge": CHAP_CHALLENGE,
            }
        )
        page.goto(f"{server.url}/portal?{query}")
        page.locator(".hs-pkg", has_text="1 hour").click()
        page.fill("#phone", "0712 345 600")
        page.click("button.hs-pay")
        expect(page.locator("#pay-modal .hs-panel[data-state=waiting]")).to_be_visible()
        page.wait_for_url(router.url, timeout=20_000)
        expect(page.locator("h1")).to_have_text("You are logged in")
        [form] = router.posts
        assert set(form) == {"username", "password", "dst", "popup"}
        assert re.fullmatch(r"[0-9a-f]{32}", form["password"]), "not a CHAP response"
        assert form["dst"] == "http://example.com/" and form["popup"] == "true" and form["username"]
        assert console.errors == []
        ctx.close()
    finally:
        router.close()


def test_buying_works_without_javascript(server: Server, browser: Browser) -> None:
    """Some captive-portal windows run no scripts: plain form posts, redirects and a refresh."""
    ctx = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = ctx.new_page()
    page.goto(f"{server.url}/portal?{redirect_query()}")
    page.locator(".hs-pkg", has_text="1 hour").click()
    page.fill("#phone", "07123")
    page.click("button.hs-pay")
    expect(page.locator("#phone-error")).to_contain_text("starting 07 or 01")
    page.fill("#phone", "0712 345 601")
    page.click("button.hs-pay")
    assert page.url.endswith("/portal?status=1")
    expect(page.locator("#pay-modal")).to_be_visible()
    # The panel refreshes itself (<meta http-equiv=refresh>) until the session is live.
    expect(page.locator("#pay-modal .hs-panel[data-state=online]")).to_be_visible(timeout=20_000)
    expect(page.locator("#pay-modal .hs-timer-value")).to_have_text(re.compile(r"\d+:\d\d"))
    no_horizontal_scroll(page)
    ctx.close()
