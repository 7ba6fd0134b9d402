"""The plugins page through the app, on both backends: every installed plugin listed with its kind,
version and state; M-Pesa configured from its own settings model, tested against the Daraja
simulator, saved with sealed secrets that are never shown again, switched on and off (the app
rebuilt in place), and tested again before new settings of a plugin that is on are saved; bad
settings name their field; RBAC; audit entries without secrets."""

from __future__ import annotations

import json
from typing import Any

from admin_support import DARAJA_KEY, DARAJA_SECRET, SANDBOX, Box, Browser, Simulators

from hotspot.accounts.audit import AuditFilter
from hotspot.admin.plugins_page import public_values
from hotspot.settings_store import Setting

HX = {"HX-Request": "true"}


def mpesa_form(sims: Simulators, secret: str = DARAJA_SECRET, **extra: str) -> dict[str, str]:
    return {
        "environment": "custom",
        "base_url": sims.daraja.base_url,
        "shortcode": SANDBOX["shortcode"],
        "till": "",
        "passkey": SANDBOX["passkey"],
        "consumer_key": DARAJA_KEY,
        "consumer_secret": secret,
        "timeout_seconds": "5",
        "account_reference": "HS",
        "allowed_sources": "196.201.214.200\n196.201.214.206\n",
        **extra,
    }


async def owner(box: Box) -> Browser:
    box.admin("amina", "owner")
    browser = await box.signed_in("amina")
    await browser.get("/admin/plugins")
    return browser


def hx(browser: Browser) -> dict[str, str]:
    return {**HX, "X-CSRFToken": browser.token or ""}


def stored_mpesa(box: Box) -> str:
    async def read() -> str:
        row = await Setting.select(Setting.value).where(Setting.key == "plugins.mpesa").first().run()
        return "" if row is None else str(row["value"])

    value: str = box.run(read)
    return value


def plugin_audit(box: Box) -> list[dict[str, Any]]:
    return list(box.run(lambda: box.accounts.audit.search(AuditFilter(action="plugin."), limit=100)).entries)


async def test_every_installed_plugin_is_listed_with_its_kind_version_and_state(box: Box) -> None:
    browser = await owner(box)
    page = await browser.get("/admin/plugins")
    assert page.status_code == 200 and 'href="/admin/plugins"' in page.text
    for name, kind in (("mpesa", "Payments"), ("mikrotik", "Routers"), ("apprise", "Notifications")):
        card = page.text.split(f'id="plugin-{name}"')[1].split("</section>")[0]
        assert kind in card and 'data-state="off"' in card and "Switch on" in card, name
        assert f"/admin/plugins/{name}/configure" in card
    version = box.hotspot.installed["mpesa"].version
    assert version and version in page.text
    form = await browser.get("/admin/plugins/mikrotik/configure", headers=HX)
    assert form.status_code == 200 and 'name="profile_prefix"' in form.text and 'value="hs-"' in form.text
    assert "Test connection" not in form.text  # MikroTik offers no test of its own
    assert (await browser.get("/admin/plugins/nope/configure", headers=HX)).status_code == 404


async def test_mpesa_is_configured_tested_saved_sealed_and_switched_on(
    box: Box, sims: Simulators, load: Any
) -> None:
    browser = await owner(box)
    form = await browser.get("/admin/plugins/mpesa/configure", headers=HX)
    assert 'name="consumer_secret"' in form.text and 'name="allowed_sources"' in form.text
    assert "Test connection" in form.text

    bad = await browser.request(
        "POST",
        "/admin/plugins/mpesa/configure",
        data=mpesa_form(sims, account_reference="no spaces!"),
        headers=hx(browser),
    )
    assert bad.status_code == 400 and 'id="plugin-mpesa-account-reference"' in bad.text
    assert "is-invalid" in bad.text.split('id="plugin-mpesa-account-reference"')[0].rsplit("<input", 1)[1]
    assert (
        'value="no spaces!"' in bad.text
        and DARAJA_SECRET not in bad.text
        and SANDBOX["passkey"] not in bad.text
    )
    bad_number = await browser.request(
        "POST", "/admin/plugins/mpesa/test", data=mpesa_form(sims, timeout_seconds="-3"), headers=hx(browser)
    )
    assert bad_number.status_code == 400 and "timeout seconds" in bad_number.text
    wrong = await browser.request(
        "POST", "/admin/plugins/mpesa/test", data=mpesa_form(sims, "wrong"), headers=hx(browser)
    )
    assert wrong.status_code == 400 and "refused this consumer key and secret" in wrong.text
    ok = await browser.request(
        "POST", "/admin/plugins/mpesa/test", data=mpesa_form(sims), headers=hx(browser)
    )
    assert ok.status_code == 200 and "It works" in ok.text
    assert stored_mpesa(box) == "" and "mpesa" not in box.hotspot.registry.enabled  # a test saves nothing

    saved = await browser.request(
        "POST", "/admin/plugins/mpesa/configure", data=mpesa_form(sims), headers=hx(browser)
    )
    assert saved.status_code == 200 and saved.headers["hx-redirect"] == "/admin/plugins"
    raw = stored_mpesa(box)
    for secret in (DARAJA_SECRET, DARAJA_KEY, SANDBOX["passkey"]):
        assert secret not in raw
    block = json.loads(raw)
    assert block["enabled"] is False and "$sealed" in block["consumer_secret"]
    assert block["allowed_sources"] == ["196.201.214.200", "196.201.214.206"]
    assert "mpesa" not in box.hotspot.registry.enabled

    again = await browser.get("/admin/plugins/mpesa/configure", headers=HX)
    assert DARAJA_SECRET not in again.text and "Saved: leave empty to keep it" in again.text
    assert again.text.count(">set</span>") == 3  # passkey, consumer key, consumer secret

    on = await browser.submit("/admin/plugins/mpesa/enable", {"enabled": "1"})
    assert on.status_code == 303 and on.headers["location"] == "/admin/plugins"
    hotspot = box.hotspot  # rebuilt with M-Pesa on
    assert "mpesa" in hotspot.registry.enabled and "mpesa" in hotspot.registry.gateways
    assert "mpesa is saved and on" in (await browser.get("/admin/plugins")).text
    assert load().plugins["mpesa"].consumer_secret.get_secret_value() == DARAJA_SECRET

    kept = await browser.request(
        "POST",
        "/admin/plugins/mpesa/configure",
        data=mpesa_form(sims, "", passkey="", consumer_key="", account_reference="CAFE"),
        headers=hx(browser),
    )
    assert kept.status_code == 200, kept.text  # on: tested again, with the kept secrets
    settings = box.hotspot.settings.plugins["mpesa"]
    assert (
        settings.account_reference == "CAFE" and settings.consumer_secret.get_secret_value() == DARAJA_SECRET
    )
    refused = await browser.request(
        "POST", "/admin/plugins/mpesa/configure", data=mpesa_form(sims, "wrong"), headers=hx(browser)
    )
    assert refused.status_code == 400 and "refused this consumer key and secret" in refused.text
    assert box.hotspot.settings.plugins["mpesa"].consumer_secret.get_secret_value() == DARAJA_SECRET

    off = await browser.submit("/admin/plugins/mpesa/enable", {"enabled": "0"})
    assert off.status_code == 303 and "mpesa" not in box.hotspot.registry.enabled
    actions = [e["action"] for e in plugin_audit(box)]
    assert sorted(actions) == ["plugin.configure", "plugin.configure", "plugin.disable", "plugin.enable"]
    dumped = json.dumps(plugin_audit(box))
    for secret in (DARAJA_SECRET, DARAJA_KEY, SANDBOX["passkey"]):
        assert secret not in dumped
    assert '"consumer_secret": "(set)"' in dumped


async def test_switching_on_an_unconfigured_plugin_names_what_is_missing(box: Box) -> None:
    browser = await owner(box)
    refused = await browser.submit("/admin/plugins/mpesa/enable", {"enabled": "1"})
    assert refused.status_code == 303 and "mpesa" not in box.hotspot.registry.enabled
    page = await browser.get("/admin/plugins")
    assert "mpesa stays off" in page.text and "shortcode" in page.text and "Configure it first" in page.text
    notify = await browser.submit("/admin/plugins/apprise/enable", {"enabled": "1"})
    assert notify.status_code == 303 and "apprise" not in box.hotspot.registry.enabled
    assert "apprise stays off" in (await browser.get("/admin/plugins")).text
    bad_url = await browser.request(
        "POST", "/admin/plugins/apprise/configure", data={"owner_urls": "nope://x"}, headers=hx(browser)
    )
    assert bad_url.status_code == 400 and "Apprise cannot use this URL" in bad_url.text
    assert "nope://x" not in bad_url.text  # apprise URLs hold credentials: never shown back
    assert plugin_audit(box) == []


async def test_a_block_in_the_config_file_is_changed_there_only(box_factory: Any) -> None:
    box = await box_factory({"plugins": {"mikrotik": {"enabled": True}}})
    browser = await owner(box)
    page = await browser.get("/admin/plugins")
    card = page.text.split('id="plugin-mikrotik"')[1].split("</section>")[0]
    assert "Set in the config file" in card and "Switch off" not in card
    refused = await browser.submit("/admin/plugins/mikrotik/enable", {"enabled": "0"})
    assert refused.status_code == 303 and "mikrotik" in box.hotspot.registry.enabled
    changed = await browser.request(
        "POST", "/admin/plugins/mikrotik/configure", data={"profile_prefix": "x-"}, headers=hx(browser)
    )
    assert changed.status_code == 409 and "config file" in changed.text


async def test_plugins_need_their_permissions(box: Box, sims: Simulators) -> None:
    await owner(box)
    box.admin("watcher", "viewer")
    viewer = await box.signed_in("watcher")
    page = await viewer.get("/admin/plugins")
    assert page.status_code == 200 and "mpesa" in page.text
    assert "Switch on" not in page.text and "/configure" not in page.text
    assert (await viewer.get("/admin/plugins/mpesa/configure", headers=HX)).status_code == 403
    for url, data in (
        ("/admin/plugins/mpesa/enable", {"enabled": "1"}),
        ("/admin/plugins/mpesa/configure", mpesa_form(sims)),
        ("/admin/plugins/mpesa/test", mpesa_form(sims)),
    ):
        assert (await viewer.submit(url, data)).status_code == 403, url
    box.admin("clerk", "operator")
    operator = await box.signed_in("clerk")
    assert (await operator.get("/admin/plugins")).status_code == 403
    assert stored_mpesa(box) == "" and plugin_audit(box) == []


def test_audit_values_hide_secrets() -> None:
    from pydantic import SecretStr

    assert public_values({"a": SecretStr("x"), "b": [SecretStr("y"), SecretStr("z")], "c": 1}) == {
        "a": "(set)",
        "b": "(2 set)",
        "c": 1,
    }


async def test_a_plugin_that_failed_to_load_cannot_be_configured(box: Box) -> None:
    """It has no settings model to draw a form from: a 409 saying why, never a 500."""
    from hotspot.plugins.manager import InstalledPlugin

    broken = InstalledPlugin("broken", None, None, "hotspot-broken", "1.0", "ImportError: no module named x")
    box.hotspot.installed["broken"] = broken
    browser = await owner(box)
    assert "ImportError" in (await browser.get("/admin/plugins")).text  # listed with its error
    for method, url in (
        ("GET", "/admin/plugins/broken/configure"),
        ("POST", "/admin/plugins/broken/configure"),
        ("POST", "/admin/plugins/broken/test"),
    ):
        answer = await browser.request(method, url, data={"x": "1"}, headers=hx(browser))
        assert answer.status_code == 409, (method, url, answer.text[:200])
        assert "failed to load" in answer.text and "no module named x" in answer.text
    assert (await browser.get("/admin/plugins/nothing/configure", headers=HX)).status_code == 404
    assert not box.run(lambda: Setting.select().where(Setting.key == "plugins.broken").run())
