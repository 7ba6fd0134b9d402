"""The portal's second paths in a real browser: a scanned voucher QR code (filled in, one tap),
the promo price preview, the currency picker, and the offline page's "Try again".

The app runs like tests/browser/portal_server.py (a router driver that accepts everything), with
a USD rate so a second currency is on offer; promos and vouchers are made with the CLI against
its database, as an owner would. Screenshots (390 px, light and dark) go to /tmp/portal-*.png.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from demo_process import hotspot_command
from playwright.sync_api import Browser, BrowserContext, Page, expect
from portal_server import Server, start

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp")
_macs = iter(range(0x10, 0xFF))


def router_query() -> str:
    """What the router's login.html sends: a new device each time."""
    mac = f"02:42:AC:12:00:{next(_macs):02X}"
    return f"mac={mac}&ip=10.5.50.44&link-orig=http%3A%2F%2Fexample.com%2F&identity=cafe"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    data = tmp_path_factory.mktemp("shop-data")
    running = start(data, {"currencies": {"rates": {"USD": "129.50 KES"}}})
    yield running, data
    running.stop()


def cli(data: Path, *args: str) -> str:
    """A `hotspot` command against the test server's own database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOT_")}
    env["HOTSPOT_DATA_DIR"] = str(data)
    done = subprocess.run(
        [*hotspot_command(), *args],
        env=env,
        cwd=data,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def voucher(server: Server, data: Path) -> dict[str, str]:
    out = data / f"batch-{next(_macs)}.csv"
    cli(
        data,
        "vouchers",
        "generate",
        "--package",
        "1 hour",
        "--count",
        "1",
        "--csv",
        str(out),
        "--portal-url",
        server.url,
    )
    with out.open(encoding="utf-8") as rows:
        return next(csv.DictReader(rows))


def new_page(browser: Browser, scheme: str = "light") -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport=PHONE, color_scheme=scheme)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "status of 422" not in m.text else None,
    )
    return context, page, errors


def no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"horizontal scroll: content {widths[0]} px in a {widths[1]} px viewport"


def test_a_scanned_qr_code_fills_in_the_voucher_and_one_tap_connects(
    shop: tuple[Server, Path], browser: Browser
) -> None:
    server, data = shop
    card = voucher(server, data)
    assert card["url"] == f"{server.url}/portal?voucher={card['code']}"
    for scheme in ("light", "dark"):
        context, page, errors = new_page(browser, scheme)
        # In the captive window the router's redirect comes too; the QR code's own URL carries the code.
        page.goto(f"{card['url']}&{router_query()}")
        code = page.locator("#voucher-code")
        expect(code).to_have_value(card["code"])
        connect = page.locator("#voucher-form button[type=submit]")
        expect(connect).to_be_focused()  # one tap (or Enter) connects
        expect(page.locator("h1")).to_have_text("Connect with your voucher")
        no_horizontal_scroll(page)
        page.screenshot(path=str(SHOTS / f"portal-qr-{scheme}-390.png"))
        if scheme == "light":
            connect.click()
            modal = page.locator("#pay-modal")
            expect(modal.locator(".hs-panel[data-state=online]")).to_be_visible(timeout=20_000)
            expect(modal).to_contain_text("You're online")
            expect(modal.locator(".hs-timer-value")).to_have_text(re.compile(r"^(59:\d\d|1:00:00)$"))
            page.wait_for_timeout(400)
            page.screenshot(path=str(SHOTS / "portal-qr-online-light-390.png"))
        assert errors == []
        context.close()


def test_a_qr_code_opened_outside_the_captive_window_says_what_to_do(
    shop: tuple[Server, Path], browser: Browser
) -> None:
    server, data = shop
    card = voucher(server, data)
    context, page, errors = new_page(browser)
    page.goto(card["url"])  # the camera app's browser: no router redirect, so no device
    expect(page.locator("#voucher-code")).to_have_value(card["code"])
    page.locator("#voucher-form button[type=submit]").click()
    alert = page.locator("#voucher-form [data-form-alert]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("doesn't know which device you're on")
    expect(page.locator("#voucher-code")).to_have_value(card["code"])
    assert errors == []
    context.close()


def test_the_promo_code_shows_the_new_price_before_paying(
    shop: tuple[Server, Path], browser: Browser
) -> None:
    server, data = shop
    cli(data, "promos", "create", "SAVE10", "--percent", "10")
    for scheme in ("light", "dark"):
        context, page, errors = new_page(browser, scheme)
        page.goto(f"{server.url}/portal?{router_query()}")
        page.locator(".hs-pkg", has_text="1 day").click()
        pay = page.locator("button.hs-pay")
        expect(pay).to_have_text(re.compile(r"Pay KES 50 with M-Pesa"))
        page.locator(".hs-promo summary").click()
        page.locator("#promo").press_sequentially("save-10", delay=40)
        quote = page.locator("#quote .hs-quote-box")
        expect(quote).to_be_visible()
        expect(quote).to_contain_text("SAVE10: 10% off")
        expect(page.locator("#quote .hs-quote-total")).to_contain_text("KES 45")
        expect(pay).to_have_text(re.compile(r"Pay KES 45 with M-Pesa"))
        page.locator("#promo").scroll_into_view_if_needed()
        no_horizontal_scroll(page)
        page.screenshot(path=str(SHOTS / f"portal-promo-{scheme}-390.png"))
        if scheme == "light":
            # A code that does not exist: the reason under the field, the price back to the list one.
            page.locator("#promo").fill("")
            page.locator("#promo").press_sequentially("NOPE99", delay=40)
            expect(page.locator("#promo-error")).to_contain_text("promo code")
            expect(page.locator("#promo")).to_have_class(re.compile(r"\bis-invalid\b"))
            expect(pay).to_have_text(re.compile(r"Pay KES 50 with M-Pesa"))
            page.screenshot(path=str(SHOTS / "portal-promo-refused-light-390.png"))
            # Another package reprices the preview.
            page.locator("#promo").fill("")
            page.locator("#promo").press_sequentially("SAVE10", delay=40)
            expect(pay).to_have_text(re.compile(r"Pay KES 45 with M-Pesa"))
            page.locator(".hs-pkg", has_text="1 week").click()
            expect(pay).to_have_text(re.compile(r"Pay KES 225 with M-Pesa"))
        assert errors == []
        context.close()


def test_the_currency_picker_shows_prices_in_dollars(shop: tuple[Server, Path], browser: Browser) -> None:
    server, _ = shop
    context, page, errors = new_page(browser)
    page.goto(f"{server.url}/portal?{router_query()}")
    prices = page.locator(".hs-pkg-price")
    expect(prices.first).to_have_text("KES 20")
    page.locator(".hs-currency-opt", has_text="USD").click()
    expect(prices.first).to_have_text("USD 0.15")  # 20 / 129.50, half-up to the cent
    expect(page.locator("input[name=currency][value=USD]")).to_be_checked()
    page.locator(".hs-pkg", has_text="1 day").click()
    expect(page.locator("button.hs-pay")).to_have_text(re.compile(r"Pay USD 0.39 with M-Pesa"))
    no_horizontal_scroll(page)
    page.screenshot(path=str(SHOTS / "portal-currency-light-390.png"), full_page=True)
    assert errors == []
    context.close()


def test_offline_try_again_keeps_the_routers_query(shop: tuple[Server, Path], browser: Browser) -> None:
    server, _ = shop
    context, page, _ = new_page(browser)
    query = router_query()
    page.goto(f"{server.url}/portal?{query}", wait_until="networkidle")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("!!navigator.serviceWorker.controller", timeout=20_000)
    context.set_offline(True)
    page.reload()
    expect(page.locator("h1")).to_contain_text("not connected to the WiFi")
    href = page.locator("a", has_text="Try again").get_attribute("href")
    assert href == f"/portal?{query}"
    context.set_offline(False)
    page.locator("a", has_text="Try again").click()
    expect(page.locator(".hs-pkg").first).to_be_visible()
    assert "mac=02:42:AC:12:00" in page.url.replace("%3A", ":")
    context.close()
