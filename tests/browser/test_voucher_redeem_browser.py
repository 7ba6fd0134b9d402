"""A voucher redeemed in a phone-sized Chromium, end to end: `hotspot demo` (real processes, the
RouterOS simulator behind the real MikroTik plugin), a batch made with the CLI like an owner
would, the router's own login page sending the phone to the portal, the code typed as people
type it, "You're online" with a ticking countdown, and the simulated router showing the device
logged in."""

from __future__ import annotations

import csv
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from demo_process import DemoProcess, hotspot_command, running_demo
from librouteros import connect
from playwright.sync_api import Browser, expect

from hotspot.demo import DEVICE_MAC, ROUTER_PASSWORD, ROUTER_USER

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp")


@dataclass
class Demo:
    process: DemoProcess
    config: Path

    def settings(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.config.read_text(encoding="utf-8"))
        return loaded

    def router_login_url(self) -> str:
        match = re.search(r"link-login-only=([^&]+)", self.process.portal_url)
        assert match is not None
        from urllib.parse import unquote

        return unquote(match[1]).rsplit("/login", 1)[0] + "/"

    def online_macs(self) -> set[str]:
        """The devices the simulated router has logged in (its /ip/hotspot/active)."""
        router = self.settings()["routers"][0]
        api = connect(
            host="127.0.0.1", port=int(router["port"]), username=ROUTER_USER, password=ROUTER_PASSWORD
        )
        try:
            return {str(row["mac-address"]).upper() for row in api.path("ip", "hotspot", "active")}
        finally:
            api.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("voucher-demo")
    with running_demo(folder) as process:
        yield Demo(process, folder / "demo-data" / "config.yaml")


def generate(demo: Demo, folder: Path, *extra: str) -> list[dict[str, str]]:
    """`hotspot vouchers generate` against the demo's own config and database, as an owner would."""
    out = folder / "batch.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOT_")}
    done = subprocess.run(
        [
            *hotspot_command(),
            "vouchers",
            "generate",
            "--config",
            str(demo.config),
            "--package",
            "1 hour",
            "--count",
            "2",
            "--csv",
            str(out),
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().isdigit()  # the batch id
    with out.open(encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


def test_a_voucher_connects_the_phone_through_the_simulated_router(
    demo: Demo, browser: Browser, tmp_path: Path
) -> None:
    cards = generate(demo, tmp_path)
    code = cards[0]["code"]
    assert cards[0]["url"].endswith(f"/portal?voucher={code}")
    assert DEVICE_MAC not in demo.online_macs()

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The router's login page (as the phone's captive window opens it) sends it to the portal.
    page.goto(demo.router_login_url())
    page.wait_for_url(re.compile(r"/portal\?"))
    assert f"mac={DEVICE_MAC.replace(':', '%3A')}" in page.url

    page.locator("a[data-voucher-link]").click()
    field = page.locator("#voucher-code")
    expect(field).to_be_focused()
    # Typed as people do: small letters, spaces, a dash where the card shows one.
    field.fill(f"{code[:5].lower()} - {code[5:].lower()}")
    page.locator("#voucher-form button[type=submit]").click()

    modal = page.locator("#pay-modal")
    expect(modal.locator(".hs-panel[data-state=online]")).to_be_visible(timeout=30_000)
    expect(modal).to_contain_text("You're online")
    timer = modal.locator(".hs-timer-value")
    first = timer.inner_text()
    assert re.fullmatch(r"(00?:)?59:\d\d|1:00:00", first), first
    page.wait_for_timeout(2200)
    assert timer.inner_text() != first, "the countdown does not tick"
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "portal-voucher-online-light-390.png"))
    assert DEVICE_MAC in demo.online_macs(), "the simulated router does not show the device logged in"
    assert errors == []
    context.close()


def test_a_used_up_or_unknown_code_is_refused_in_the_form(demo: Demo, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE, color_scheme="dark")
    page = context.new_page()
    page.goto(demo.process.portal_url)  # logged in now, the router shows its status page instead
    page.locator("#pay-modal .btn-close").click()  # online since the test before: the session first
    page.fill("#voucher-code", "abcd-efgh-jk")
    page.locator("#voucher-form button[type=submit]").click()
    error = page.locator("#voucher-code-error")
    expect(error).to_contain_text("not valid")
    expect(page.locator("#voucher-code")).to_have_value("abcd-efgh-jk")
    expect(page.locator("#voucher-code")).to_be_focused()
    page.locator("#voucher-form").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "portal-voucher-refused-dark-390.png"))
    context.close()
