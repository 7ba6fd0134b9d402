"""The live dashboard in Chromium against `hotspot demo` (real processes, the RouterOS and Daraja
simulators, the real MikroTik and M-Pesa plugins). A manager (created with `hotspot admin
create`) turns on two-step sign-in and signs in with a TOTP code, watches a portal purchase
appear on the overview without a reload (with a "New payment" toast), extends the session, then
disconnects it and the simulated router drops it; picks dark mode (remembered for the account)
and finds the manifest and the service worker registered. Screenshots of the overview,
sessions, payments, vouchers, reports and the other management pages at 390x844 and 1440x900,
light and dark, go to tests/browser/screenshots/ (kept as CI artifacts)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import librouteros
import pyotp
import pytest
import yaml
from demo_process import DemoProcess, hotspot_command, running_demo
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent / "screenshots"
OWNER, PASSWORD = "owner", "plum-orchard-velvet-42"
MANAGER = "manager"  # signs in with two-step sign-in (TOTP)
SIZES = {"phone": (390, 844), "desktop": (1440, 900)}
PAGES = {
    "overview": "/admin",
    "sessions": "/admin/sessions",
    "payments": "/admin/payments",
    "vouchers": "/admin/vouchers",
    "reports": "/admin/reports",
    "customers": "/admin/customers",
    "packages": "/admin/packages",
    "promos": "/admin/promos",
    "routers": "/admin/routers",
    "plugins": "/admin/plugins",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    folder = tmp_path_factory.mktemp("dashboard")
    with running_demo(folder) as process:
        config = folder / "demo-data" / "config.yaml"

        def hotspot(*args: str, stdin: str = "") -> None:
            done = subprocess.run(
                [*hotspot_command(), *args, "--config", str(config)],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                cwd=folder,
            )
            assert done.returncode == 0, done.stdout + done.stderr

        for username, role in ((OWNER, "owner"), (MANAGER, "admin")):
            hotspot(
                "admin",
                "create",
                "--username",
                username,
                "--role",
                role,
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
        hotspot("vouchers", "generate", "--package", "1 hour", "--count", "12", "--note", "Front desk")
        process.config = yaml.safe_load(config.read_text())  # type: ignore[attr-defined]
        yield process


def router_active(demo: DemoProcess) -> list[dict[str, str]]:
    """What the simulated router says is online, asked over its own API."""
    router = demo.config["routers"][0]  # type: ignore[attr-defined]
    api = librouteros.connect(
        host=router["host"], username=router["username"], password=router["password"], port=router["port"]
    )
    try:
        return [dict(row) for row in api.path("ip", "hotspot", "active")]
    finally:
        api.close()


def sign_in(page: Page, demo: DemoProcess, username: str = OWNER) -> None:
    page.goto(f"{demo.url}/admin/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name=f"Hello, {username}")).to_be_visible()


def next_code(secret: str, used: list[int]) -> str:
    """A code from a 30-second step the box has not taken yet (it never takes one twice): the next
    step, waiting for the clock when that one was used already."""
    while int(time.time() // 30) + 1 <= (used[-1] if used else -1):
        time.sleep(0.5)
    step = int(time.time() // 30) + 1
    used.append(step)
    return pyotp.TOTP(secret).at(step * 30)


def turn_on_two_step(page: Page, demo: DemoProcess) -> str:
    """Enrol in two-step sign-in from the account page; returns the TOTP secret."""
    page.goto(f"{demo.url}/admin/account")
    page.get_by_role("button", name="Set up two-step sign-in").click()
    secret = page.locator("#totp-secret").inner_text().strip()
    page.fill("#confirm-code", pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#two-step-state")).to_contain_text("On")
    return secret


def test_a_sale_appears_live_then_a_disconnect_drops_it(demo: DemoProcess, browser: Browser) -> None:
    admin = browser.new_context(viewport={"width": 1440, "height": 900})
    page = admin.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, demo, MANAGER)
    secret = turn_on_two_step(page, demo)
    page.get_by_role("button", name="Sign out").first.click()
    page.fill("#username", MANAGER)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    used: list[int] = []
    page.fill("#code", next_code(secret, used))
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_role("heading", name=f"Hello, {MANAGER}")).to_be_visible()

    # installable: the manifest is linked and the service worker controls /admin
    manifest = page.locator("link[rel=manifest]").get_attribute("href")
    assert manifest == "/admin/manifest.webmanifest"
    assert json.loads(page.context.request.get(demo.url + manifest).text())["scope"] == "/admin"
    scope = page.evaluate("navigator.serviceWorker.ready.then(function (r) { return r.scope; })")
    assert scope == f"{demo.url}/admin"

    online = page.locator("#overview-live [data-online]")
    expect(online).to_have_attribute("data-online", "0")
    page.evaluate("window.__notReloaded = true")

    phone = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    phone.goto(demo.portal_url)
    phone.locator(".hs-pkg", has_text="1 hour").click()
    phone.fill("#phone", "0712 345 678")
    phone.click("button.hs-pay")
    expect(phone.locator("#pay-modal .hs-panel[data-state=online]")).to_be_visible(timeout=30_000)

    # the overview follows by itself: revenue, then the device online (next usage sync)
    expect(page.locator("#overview-live [data-revenue='1']")).to_contain_text("KES", timeout=30_000)
    expect(page.locator("#hs-toasts .toast", has_text="New payment")).to_be_visible(timeout=30_000)
    expect(online).to_have_attribute("data-online", "1", timeout=30_000)
    assert page.evaluate("window.__notReloaded") is True
    assert len(router_active(demo)) == 1

    page.goto(f"{demo.url}/admin/sessions")
    row = page.locator("tr.hs-session").first
    expect(row).to_contain_text("254712345678")
    row.locator("a[data-action=extend]").click()
    modal = page.locator("#session-action-modal")
    expect(modal).to_be_visible()
    modal.locator("#extend-time").fill("lots")
    modal.locator("button[type=submit]").click()
    expect(modal.locator("#extend-time.is-invalid")).to_have_value("lots")  # kept, marked
    modal.locator("#extend-time").fill("30")
    modal.locator("#extend-time-unit").select_option("minutes")
    modal.locator("button[type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("added 30 minutes")

    for size in SIZES:  # the sessions page is shot while someone is online
        for scheme in ("light", "dark"):
            shoot(browser, demo, size, scheme, ["sessions"])

    page.locator("tr.hs-session a[data-action=disconnect]").first.click()
    expect(modal).to_be_visible()
    modal.locator("button[type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("1 device disconnected")
    expect(page.locator("#sessions-list")).to_contain_text("Nobody is online right now")
    assert router_active(demo) == []

    # dark mode: the toggle switches at once and the choice follows the account to a new browser
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
    with page.expect_response("**/admin/account/theme") as saved:
        page.locator(".hs-side-user [data-theme-toggle]").click()
    assert saved.value.status == 204
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    other = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="light").new_page()
    other.goto(f"{demo.url}/admin/login")
    expect(other.locator("html")).to_have_attribute("data-bs-theme", "light")  # the system's, until signed in
    other.fill("#username", MANAGER)
    other.fill("#password", PASSWORD)
    other.get_by_role("button", name="Sign in").click()
    other.fill("#code", next_code(secret, used))
    other.get_by_role("button", name="Verify and sign in").click()
    expect(other.get_by_role("heading", name=f"Hello, {MANAGER}")).to_be_visible()
    expect(other.locator("html")).to_have_attribute("data-bs-theme", "dark")
    other.context.close()
    assert errors == []


def shoot(browser: Browser, demo: DemoProcess, size: str, scheme: str, names: list[str]) -> None:
    """Screenshots of some pages at one size and colour scheme; none may scroll sideways."""
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, demo)
    SHOTS.mkdir(exist_ok=True)
    for name in names:
        page.goto(demo.url + PAGES[name])
        expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
        if name == "reports":
            expect(page.locator("#report-chart svg")).to_be_visible()
        page.screenshot(path=str(SHOTS / f"{name}-{size}-{scheme}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"{name} scrolls sideways"
        )
    assert errors == []
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
def test_screenshots(demo: DemoProcess, browser: Browser, size: str, scheme: str) -> None:
    shoot(browser, demo, size, scheme, [n for n in PAGES if n != "sessions"])
