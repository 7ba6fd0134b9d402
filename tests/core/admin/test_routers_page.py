"""The routers page through the app, against the RouterOS simulator, on both backends: add (inline
errors keep what was typed, never the password; tested before saving), test connection, edit
(an empty password keeps the sealed one), remove (refused while customers are online unless
confirmed), the setup script, the map's tile host in this page's CSP only, RBAC and the audit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from admin_support import ROUTER_PASSWORD, ROUTER_USER, Box, Browser, Simulators
from bs4 import BeautifulSoup

from hotspot.access.grants import GrantRequest
from hotspot.accounts.audit import AuditFilter
from hotspot.admin.routers_page import DEFAULT_TILE_URL, map_csp, parse_tile_url, tile_source
from hotspot.routers.tables import RouterRecord

HX = {"HX-Request": "true"}
TYPED_PASSWORD = "typed-but-wrong-pass-1"


def box_extra(**extra: Any) -> dict[str, Any]:
    return {
        "plugins": {"mikrotik": {"enabled": True, "connect_timeout": 2, "command_timeout": 2}},
        "packages": [{"name": "1 hour", "price": "20 KES", "duration": "1h"}],
        **extra,
    }


def router_form(api_port: int, password: str = ROUTER_PASSWORD, **extra: str) -> dict[str, str]:
    return {
        "name": "cafe",
        "host": "127.0.0.1",
        "port": str(api_port),
        "username": ROUTER_USER,
        "password": password,
        "site": "town",
        "weight": "2",
        "latitude": "-1.2921",
        "longitude": "36.8219",
        "enabled": "1",
        **extra,
    }


async def owner(box: Box) -> Browser:
    box.admin("amina", "owner")
    browser = await box.signed_in("amina")
    await browser.get("/admin/routers")
    return browser


def hx(browser: Browser) -> dict[str, str]:
    return {**HX, "X-CSRFToken": browser.token or ""}


def audit_actions(box: Box, prefix: str = "router.") -> list[dict[str, Any]]:
    result = box.run(lambda: box.accounts.audit.search(AuditFilter(action=prefix), limit=100))
    return list(result.entries)


def sealed_password(box: Box, name: str) -> str:
    async def read() -> str:
        row = (
            await RouterRecord.select(RouterRecord.password_sealed)
            .where(RouterRecord.name == name)
            .first()
            .run()
        )
        assert row is not None
        return str(row["password_sealed"])

    value: str = box.run(read)
    return value


async def test_add_shows_errors_inline_then_saves_a_router_that_answers(
    box_factory: Any, sims: Simulators
) -> None:
    box = await box_factory(box_extra())
    browser = await owner(box)
    page = await browser.get("/admin/routers")
    assert page.status_code == 200 and 'href="/admin/routers"' in page.text and "No router yet" in page.text
    modal = await browser.get("/admin/routers/new", headers=HX)
    assert modal.status_code == 200 and 'id="router-form"' in modal.text and "<html" not in modal.text

    bad = await browser.request(
        "POST",
        "/admin/routers",
        data=router_form(sims.router.port, TYPED_PASSWORD, name="my cafe", port="eighty", latitude="north"),
        headers=hx(browser),
    )
    assert bad.status_code == 400
    assert "The port is a number" in bad.text and "A number between -90 and 90" in bad.text
    assert 'value="my cafe"' in bad.text and 'value="north"' in bad.text and 'value="town"' in bad.text
    assert TYPED_PASSWORD not in bad.text
    half = await browser.request(
        "POST", "/admin/routers", data=router_form(sims.router.port, longitude=""), headers=hx(browser)
    )
    assert half.status_code == 400 and "Give both latitude and longitude" in half.text
    wrong = await browser.request(
        "POST", "/admin/routers", data=router_form(sims.router.port, TYPED_PASSWORD), headers=hx(browser)
    )
    assert wrong.status_code == 400 and "refused this username or password" in wrong.text
    assert TYPED_PASSWORD not in wrong.text and box.run(box.hotspot.router_store.listing) == []

    saved = await browser.request(
        "POST", "/admin/routers", data=router_form(sims.router.port), headers=hx(browser)
    )
    assert saved.status_code == 200 and saved.headers["hx-redirect"] == "/admin/routers"
    [router] = box.run(box.hotspot.router_store.listing)
    assert (router["name"], router["site"], router["weight"], router["latitude"]) == (
        "cafe",
        "town",
        2,
        -1.2921,
    )
    assert "cafe" in box.hotspot.routers.routers  # the pool has it at once
    assert ROUTER_PASSWORD not in sealed_password(box, "cafe")
    again = await browser.request(
        "POST", "/admin/routers", data=router_form(sims.router.port), headers=hx(browser)
    )
    assert again.status_code == 400 and "edit it instead" in again.text

    listed = await browser.get("/admin/routers")
    assert "Router “cafe” saved" in listed.text and 'data-status="up"' in listed.text
    assert ROUTER_PASSWORD not in listed.text
    island = listed.text.split('id="routers-map-data">')[1].split("</script>")[0]
    data = json.loads(island)
    assert data["tiles"] == DEFAULT_TILE_URL
    assert data["routers"] == [
        {"name": "cafe", "lat": -1.2921, "lon": 36.8219, "status": "up", "site": "town", "online": 0}
    ]
    [entry] = audit_actions(box)
    assert entry["action"] == "router.create" and entry["actor"] == "amina"
    assert ROUTER_PASSWORD not in json.dumps(entry) and entry["after"]["site"] == "town"


async def test_test_connection_says_what_is_wrong_and_saves_nothing(
    box_factory: Any, sims: Simulators
) -> None:
    box = await box_factory(box_extra())
    browser = await owner(box)
    ok = await browser.request(
        "POST", "/admin/routers/test", data=router_form(sims.router.port), headers=hx(browser)
    )
    assert ok.status_code == 200 and "Connected" in ok.text and "RouterOS" in ok.text
    wrong = await browser.request(
        "POST", "/admin/routers/test", data=router_form(sims.router.port, "nope"), headers=hx(browser)
    )
    assert "refused this username or password" in wrong.text
    down = await browser.request("POST", "/admin/routers/test", data=router_form(1), headers=hx(browser))
    assert "API service is off" in down.text
    missing = await browser.request("POST", "/admin/routers/test", data={"name": "x"}, headers=hx(browser))
    assert "Fill in the connection details" in missing.text
    assert box.run(box.hotspot.router_store.listing) == []


async def test_edit_keeps_the_sealed_password_when_left_empty(box_factory: Any, sims: Simulators) -> None:
    box = await box_factory(box_extra())
    browser = await owner(box)
    await browser.request("POST", "/admin/routers", data=router_form(sims.router.port), headers=hx(browser))
    sealed = sealed_password(box, "cafe")

    form = await browser.get("/admin/routers/cafe/edit", headers=HX)
    assert form.status_code == 200 and 'name="original" value="cafe"' in form.text
    assert "Saved: leave empty to keep it" in form.text and ROUTER_PASSWORD not in form.text
    tested = await browser.request(
        "POST",
        "/admin/routers/test",
        data=router_form(sims.router.port, "", original="cafe"),
        headers=hx(browser),
    )
    assert "Connected" in tested.text  # with the saved password

    edited = await browser.request(
        "POST",
        "/admin/routers",
        data=router_form(sims.router.port, "", original="cafe", name="renamed", site="market", weight="5"),
        headers=hx(browser),
    )
    assert edited.status_code == 200 and edited.headers["hx-redirect"] == "/admin/routers"
    found = box.run(lambda: box.hotspot.router_store.get("cafe"))
    assert found is not None
    router, enabled = found
    assert (router.name, router.site, router.weight, enabled) == ("cafe", "market", 5, True)
    assert router.password.get_secret_value() == ROUTER_PASSWORD and sealed_password(box, "cafe") != ""

    off = await browser.request(
        "POST",
        "/admin/routers",
        data=router_form(sims.router.port, "", original="cafe", enabled=""),
        headers=hx(browser),
    )
    assert off.status_code == 200  # a router switched off is saved untested, and leaves the pool
    assert "cafe" not in box.hotspot.routers.routers
    page = await browser.get("/admin/routers")
    assert 'data-status="disabled"' in page.text
    update = [e for e in audit_actions(box) if e["action"] == "router.update"]
    [switched_off] = [e for e in update if e["after"]["enabled"] is False]
    assert len(update) == 2 and switched_off["after"]["password_changed"] is False
    assert switched_off["before"]["site"] == "market" and switched_off["before"]["enabled"] is True
    assert ROUTER_PASSWORD not in json.dumps(update)
    assert sealed != "" and (await browser.get("/admin/routers/nope/edit", headers=HX)).status_code == 404


def put_online(box: Box, sims: Simulators) -> None:
    """One customer online on "cafe", as the usage sync sees it."""
    mac, ip = "AA:BB:CC:00:01:01", "10.5.50.11"
    sims.router.add_host(mac, ip)
    hotspot = box.hotspot

    async def go() -> None:
        await hotspot.grants.request(
            GrantRequest(
                profile="1 hour",
                seconds=3600,
                down_bps=None,
                up_bps=None,
                mac=mac,
                ip=ip,
                router_hint="cafe",
                source="admin",
                source_ref="t1",
            )
        )
        for _ in range(8):
            if not await hotspot.jobs.run_due(limit=50):
                break
        await hotspot.usage.run()

    box.run(go)


async def test_remove_is_refused_while_customers_are_online_unless_confirmed(
    box_factory: Any, sims: Simulators
) -> None:
    box = await box_factory(box_extra())
    browser = await owner(box)
    await browser.request("POST", "/admin/routers", data=router_form(sims.router.port), headers=hx(browser))
    put_online(box, sims)
    page = await browser.get("/admin/routers")
    assert "Remove (1 online)" in page.text and 'name="force" value="1"' in page.text

    refused = await browser.submit("/admin/routers/cafe/remove", {})
    assert refused.status_code == 303 and "cafe" in box.hotspot.routers.routers
    assert "1 customer online: not removed" in (await browser.get("/admin/routers")).text
    removed = await browser.submit("/admin/routers/cafe/remove", {"force": "1"})
    assert removed.status_code == 303 and removed.headers["location"] == "/admin/routers"
    assert box.run(box.hotspot.router_store.listing) == [] and "cafe" not in box.hotspot.routers.routers
    [entry] = [e for e in audit_actions(box) if e["action"] == "router.remove"]
    assert entry["after"] == {"online": 1} and entry["before"]["host"] == "127.0.0.1"
    assert (await browser.submit("/admin/routers/cafe/remove", {})).status_code == 404


async def test_setup_script_and_config_file_routers(box_factory: Any, sims: Simulators) -> None:
    yaml_router = {"name": "core", "host": "127.0.0.1", "port": 1, "username": "u", "password": "yaml-secret"}
    box = await box_factory(box_extra(routers=[yaml_router]))
    browser = await owner(box)
    await browser.request("POST", "/admin/routers", data=router_form(sims.router.port), headers=hx(browser))
    script = await browser.submit("/admin/routers/cafe/script", {"box_url": "http://10.5.50.2:8000"})
    assert script.status_code == 200 and ROUTER_PASSWORD in script.text and "10.5.50.2" in script.text
    assert script.headers["content-disposition"] == 'attachment; filename="hotspot-setup-cafe.rsc"'
    assert script.headers["cache-control"] == "no-store"
    by_name = await browser.submit("/admin/routers/cafe/script", {"box_url": "http://box.local:8000"})
    assert by_name.status_code == 303 and "IP address" in (await browser.get("/admin/routers")).text
    assert "router.script" in [e["action"] for e in audit_actions(box)]

    page = await browser.get("/admin/routers")
    assert "config file" in page.text and "yaml-secret" not in page.text
    assert (await browser.get("/admin/routers/core/edit", headers=HX)).status_code == 404
    taken = await browser.request(
        "POST", "/admin/routers", data=router_form(sims.router.port, name="core"), headers=hx(browser)
    )
    assert taken.status_code == 400 and "defined in the config file" in taken.text

    async def scramble() -> None:  # as after the box's secret key changed
        await (
            RouterRecord.update({RouterRecord.password_sealed: "not-a-token"})
            .where(RouterRecord.name == "cafe")
            .run()
        )

    box.run(scramble)
    unreadable = await browser.get("/admin/routers/cafe/edit", headers=HX)
    assert unreadable.status_code == 409 and "cannot be read" in unreadable.text
    gone = await browser.submit("/admin/routers/cafe/remove", {})
    assert gone.status_code == 303 and [r["name"] for r in box.run(box.hotspot.router_store.listing)] == [
        "core"
    ]


async def test_the_tile_host_is_allowed_on_this_page_only(box_factory: Any) -> None:
    box = await box_factory(box_extra())
    browser = await owner(box)
    page = await browser.get("/admin/routers")
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in page.headers["content-security-policy"]
    for other in ("/admin", "/admin/sessions", "/admin/plugins"):
        csp = (await browser.get(other)).headers["content-security-policy"]
        assert "openstreetmap" not in csp and "img-src 'self' data:;" in csp, other

    bad = await browser.submit(
        "/admin/routers/map", {"tiles_on": "1", "tile_url": "https://x.org/a.png; script-src *"}
    )
    assert bad.status_code == 400 and "plain URL" in bad.text and "script-src *" in bad.text
    no_xyz = await browser.submit(
        "/admin/routers/map", {"tiles_on": "1", "tile_url": "https://tiles.example.org/a.png"}
    )
    assert no_xyz.status_code == 400 and "{z}, {x} and {y}" in no_xyz.text
    custom = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    saved = await browser.submit("/admin/routers/map", {"tiles_on": "1", "tile_url": custom})
    assert saved.status_code == 303
    csp = (await browser.get("/admin/routers")).headers["content-security-policy"]
    assert "img-src 'self' data: https://*.tiles.example.org;" in csp and "openstreetmap" not in csp
    off = await browser.submit("/admin/routers/map", {"tile_url": custom})
    assert off.status_code == 303
    page = await browser.get("/admin/routers")
    assert "img-src 'self' data:;" in page.headers["content-security-policy"] and '"tiles": ""' in page.text
    actions = [e["after"] for e in audit_actions(box, "settings.map_tiles")]
    assert actions == [{"tile_url": ""}, {"tile_url": custom}]


def test_tile_urls_are_checked_before_they_reach_a_header() -> None:
    assert parse_tile_url(" https://tile.openstreetmap.org/{z}/{x}/{y}.png ") == DEFAULT_TILE_URL
    assert tile_source("http://10.0.0.5:8080/{z}/{x}/{y}.png") == "http://10.0.0.5:8080"
    assert tile_source("") is None and "img-src 'self' data:;" in map_csp("")
    for bad in (
        "ftp://tiles.example.org/{z}/{x}/{y}.png",
        "https://user@tiles.example.org/{z}/{x}/{y}.png",
        "https://tiles example.org/{z}/{x}/{y}.png",
        "https://tiles.example.org:99999/{z}/{x}/{y}.png",
        "https://'self'/{z}/{x}/{y}.png",
        "javascript:alert(1)//{z}{x}{y}",
    ):
        with pytest.raises(ValueError):
            parse_tile_url(bad)


async def test_reading_and_changing_routers_need_their_permissions(
    box_factory: Any, sims: Simulators
) -> None:
    box = await box_factory(box_extra())
    browser = await owner(box)
    await browser.request("POST", "/admin/routers", data=router_form(sims.router.port), headers=hx(browser))
    box.admin("watcher", "viewer")
    viewer = await box.signed_in("watcher")
    page = await viewer.get("/admin/routers")
    assert page.status_code == 200 and "cafe" in page.text
    assert "Add a router" not in page.text and "/admin/routers/cafe/edit" not in page.text
    assert '<summary class="small">Map tiles</summary>' not in page.text
    assert (await viewer.get("/admin/routers/new", headers=HX)).status_code == 403
    for url, data in (
        ("/admin/routers", router_form(sims.router.port, name="x")),
        ("/admin/routers/test", router_form(sims.router.port)),
        ("/admin/routers/cafe/remove", {"force": "1"}),
        ("/admin/routers/cafe/script", {"box_url": "http://10.5.50.2:8000"}),
        ("/admin/routers/map", {"tiles_on": ""}),
    ):
        assert (await viewer.submit(url, data)).status_code == 403, url
    assert "cafe" in box.hotspot.routers.routers
    stranger = box.browser()
    assert (await stranger.get("/admin/routers")).headers["location"] == "/admin/login?next=/admin/routers"


async def test_the_first_router_switches_its_driver_plugin_on(box: Box, sims: Simulators) -> None:
    browser = await owner(box)
    assert "mikrotik" not in box.hotspot.registry.enabled
    tested = await browser.request(
        "POST", "/admin/routers/test", data=router_form(sims.router.port), headers=hx(browser)
    )
    assert "Connected" in tested.text  # the installed plugin's driver is borrowed for the test
    saved = await browser.request(
        "POST", "/admin/routers", data=router_form(sims.router.port), headers=hx(browser)
    )
    assert saved.status_code == 200 and saved.headers["hx-redirect"] == "/admin/routers"
    hotspot = box.hotspot  # rebuilt with the MikroTik plugin on
    assert "mikrotik" in hotspot.registry.enabled and "cafe" in hotspot.routers.routers
    assert {"plugin.enable"} == {e["action"] for e in audit_actions(box, "plugin.")}


async def test_the_saved_password_is_only_sent_to_the_address_it_was_saved_for(
    box_factory: Any, sims: Simulators
) -> None:
    """On edit, an empty password keeps the saved one, but a new host or port needs it typed
    again: else a test (or a save) would send the saved password to any address typed."""
    box = await box_factory(box_extra())
    browser = await owner(box)
    await browser.request("POST", "/admin/routers", data=router_form(sims.router.port), headers=hx(browser))
    elsewhere = [
        router_form(sims.router.port, "", original="cafe", host="127.0.0.2"),
        router_form(1, "", original="cafe"),
    ]
    for form in elsewhere:
        for url in ("/admin/routers/test", "/admin/routers"):
            refused = await browser.request("POST", url, data=form, headers=hx(browser))
            assert refused.status_code in (200, 400) and "Type the API user" in refused.text, url
            assert "Connected" not in refused.text and "API service is off" not in refused.text, url
    page = await browser.submit("/admin/routers", router_form(1, "", original="cafe"))
    assert page.status_code == 400 and "<html" in page.text
    field = BeautifulSoup(page.text, "html.parser").select_one("#router-password")
    assert field is not None and "is-invalid" in field["class"]
    found = box.run(lambda: box.hotspot.router_store.get("cafe"))
    assert found is not None and found[0].port == sims.router.port  # nothing saved
    typed = await browser.request(
        "POST",
        "/admin/routers/test",
        data=router_form(1, ROUTER_PASSWORD, original="cafe"),
        headers=hx(browser),
    )
    assert "API service is off" in typed.text  # typed again: tried at the new address


async def test_switching_the_driver_plugin_on_needs_plugins_manage(
    box: Box, sims: Simulators, monkeypatch: pytest.MonkeyPatch
) -> None:
    """routers.write alone saves routers, but does not turn a plugin on: it says whom to ask."""
    from hotspot.accounts import permissions

    widened = permissions.ROLE_PERMISSIONS["operator"] | {"routers.write"}
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, "operator", widened)
    box.admin("clerk", "operator")
    browser = await box.signed_in("clerk")
    await browser.get("/admin/routers")
    saved = await browser.request(
        "POST", "/admin/routers", data=router_form(sims.router.port), headers=hx(browser)
    )
    assert saved.status_code == 403 and "plugins.manage" in saved.text and "mikrotik plugin on" in saved.text
    assert "mikrotik" not in box.hotspot.registry.enabled
    assert box.run(box.hotspot.router_store.listing) == [] and not audit_actions(box, "plugin.")
