"""The sessions page through the app: the list (full page, htmx fragment, "Load more"), and the
operator's actions (disconnect, extend, change speed) reaching the grant and the simulated router,
audited, refused to a viewer; on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from admin_support import ROUTER_PASSWORD, ROUTER_USER, Box, Simulators
from bs4 import BeautifulSoup

from hotspot.access.grants import GrantRequest
from hotspot.accounts.audit import AuditFilter
from hotspot.admin.sessions_page import parse_extend, parse_speed

HX = {"HX-Request": "true"}
PACKAGES = [{"name": "1 hour", "price": "20 KES", "duration": "1h", "down": "5M", "up": "2M"}]


def box_extra(sims: Simulators) -> dict[str, Any]:
    return {
        "plugins": {"mikrotik": {"enabled": True, "connect_timeout": 2, "command_timeout": 2}},
        "routers": [
            {
                "name": "cafe",
                "host": "127.0.0.1",
                "port": sims.router.port,
                "username": ROUTER_USER,
                "password": ROUTER_PASSWORD,
            }
        ],
        "packages": PACKAGES,
    }


def put_online(box: Box, sims: Simulators, n: int, *, seconds: int = 3600) -> int:
    """A customer's grant, logged in on the simulated router and seen by the usage sync (all on
    the app's event loop, where its database pool and router connections live)."""
    mac, ip = f"AA:BB:CC:00:01:{n:02X}", f"10.5.50.{n}"
    sims.router.add_host(mac, ip)
    hotspot = box.hotspot

    async def go() -> int:
        grant_id = await hotspot.grants.request(
            GrantRequest(
                profile="1 hour",
                seconds=seconds,
                down_bps=5_000_000,
                up_bps=2_000_000,
                mac=mac,
                ip=ip,
                router_hint="cafe",
                source="admin",
                source_ref=f"t{n}",
            )
        )
        await _settle(box)
        await hotspot.usage.run()
        return grant_id

    grant_id: int = box.run(go)
    return grant_id


async def _settle(box: Box) -> None:
    for _ in range(8):
        if not await box.hotspot.jobs.run_due(limit=50):
            return


def settle(box: Box) -> None:
    box.run(lambda: _settle(box))


def grant_of(box: Box, grant_id: int) -> dict[str, Any]:
    grant: dict[str, Any] = box.run(lambda: box.hotspot.grants.get(grant_id))
    return grant


def active_users(sims: Simulators) -> list[str]:
    return [row.get("user", "") for row in sims.router.active]


async def test_the_list_as_a_page_a_fragment_and_in_keyset_pages(box_factory: Any, sims: Simulators) -> None:
    box = await box_factory(box_extra(sims))
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    for n in range(1, 4):
        put_online(box, sims, n)

    full = await browser.get("/admin/sessions")
    assert full.status_code == 200
    soup = BeautifulSoup(full.text, "html.parser")
    assert soup.select_one("nav[aria-label=Admin] a[href='/admin/sessions']") is not None
    assert len(soup.select("tr.hs-session")) == 3 and "3 online now" in full.text
    assert soup.select("a[data-action=disconnect]")  # the owner may act
    assert "<script>" not in full.text

    fragment = await browser.get("/admin/sessions?q=10.5.50.2", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    rows = BeautifulSoup(fragment.text, "html.parser").select("tr.hs-session")
    assert len(rows) == 1 and "10.5.50.2" in rows[0].text

    # keyset pages through the same URL: two pages of the three sessions (50 a page is the real size)
    import hotspot.admin.sessions_page as sessions_page

    sessions_page.PAGE_SIZE = 2
    try:
        first = BeautifulSoup((await browser.get("/admin/sessions", headers=HX)).text, "html.parser")
        more = first.select_one("tr.hs-more a")
        assert more is not None and len(first.select("tr.hs-session")) == 2
        rest = await browser.get(str(more["hx-get"]), headers=HX)
        rest_soup = BeautifulSoup(rest.text, "html.parser")
        assert "<table" not in rest.text and len(rest_soup.select("tr.hs-session")) == 1
        assert rest_soup.select_one("tr.hs-more") is None
        seen = {r["data-session"] for r in first.select("tr.hs-session") + rest_soup.select("tr.hs-session")}
        assert len(seen) == 3
    finally:
        sessions_page.PAGE_SIZE = 50

    bad = await browser.get("/admin/sessions?q=0812+345+678", headers=HX)
    assert bad.status_code == 400 and "Search" in bad.text  # names the field, never a 500
    history = await browser.get("/admin/sessions?tab=history")
    assert history.status_code == 200 and "No session has ended yet" in history.text


async def test_disconnect_extend_and_speed_reach_the_grant_and_the_router(
    box_factory: Any, sims: Simulators
) -> None:
    box = await box_factory(box_extra(sims))
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    grant_id = put_online(box, sims, 7)
    grant = grant_of(box, grant_id)
    assert grant["username"] in active_users(sims)
    base = f"/admin/sessions/grants/{grant_id}"

    form = await browser.get(f"{base}/extend?back=/admin/sessions%3Ftab%3Dactive", headers=HX)
    assert form.status_code == 200 and 'name="time"' in form.text and "<html" not in form.text
    # inline errors keep what was typed
    wrong = await browser.submit(
        f"{base}/extend", {"time": "abc", "time_unit": "hours", "data": "2", "data_unit": "GB"}, headers=HX
    )
    assert wrong.status_code == 400
    soup = BeautifulSoup(wrong.text, "html.parser")
    assert soup.select_one("#extend-time.is-invalid")["value"] == "abc"
    assert soup.select_one("#extend-data")["value"] == "2"
    assert grant_of(box, grant_id)["seconds"] == 3600

    done = await browser.submit(
        f"{base}/extend",
        {
            "time": "30",
            "time_unit": "minutes",
            "data": "",
            "data_unit": "GB",
            "back": "/admin/sessions?tab=active",
        },
        headers=HX,
    )
    assert done.status_code == 200 and done.headers["HX-Redirect"] == "/admin/sessions?tab=active"
    extended = grant_of(box, grant_id)
    assert extended["seconds"] == 3600 + 1800
    assert extended["expires_at"] == pytest.approx(grant["expires_at"] + 1800)
    settle(box)
    user = sims.router.users[grant["username"]]
    assert user["limit-uptime"] == "1h30m"  # the router hears of the extra half hour

    speed = await browser.submit(f"{base}/speed", {"down": "1M", "up": "512k"})
    assert speed.status_code == 303  # without htmx: a plain redirect back
    changed = grant_of(box, grant_id)
    assert (changed["down_bps"], changed["up_bps"]) == (1_000_000, 512_000)
    settle(box)
    assert any("512k/1M" in str(p.get("rate-limit", "")) for p in sims.router.profiles.values()), (
        sims.router.profiles
    )

    gone = await browser.submit(f"{base}/disconnect", {"back": "/admin/sessions"}, headers=HX)
    assert gone.status_code == 200 and gone.headers["HX-Redirect"] == "/admin/sessions"
    assert grant["username"] not in active_users(sims)
    page = await browser.get("/admin/sessions")
    assert "1 device disconnected" in page.text and "Nobody is online right now" in page.text

    entries = box.run(lambda: box.hotspot.accounts.audit.search(AuditFilter(action="session."))).entries
    assert sorted(e["action"] for e in entries) == ["session.disconnect", "session.extend", "session.speed"]
    assert all(e["actor"] == "owner" and e["target_id"] == str(grant_id) for e in entries)


async def test_a_viewer_sees_no_actions_and_cannot_post(box_factory: Any, sims: Simulators) -> None:
    box = await box_factory(box_extra(sims))
    box.admin("watcher", "viewer")
    browser = await box.signed_in("watcher")
    grant_id = put_online(box, sims, 9)
    page = await browser.get("/admin/sessions")
    assert page.status_code == 200 and "tr" in page.text
    soup = BeautifulSoup(page.text, "html.parser")
    assert len(soup.select("tr.hs-session")) == 1 and not soup.select("[data-action]")
    for action in ("disconnect", "extend", "speed"):
        assert (await browser.get(f"/admin/sessions/grants/{grant_id}/{action}")).status_code == 403
        posted = await browser.submit(
            f"/admin/sessions/grants/{grant_id}/{action}", {"time": "1", "time_unit": "hours"}
        )
        assert posted.status_code == 403, action
    grant = grant_of(box, grant_id)
    assert grant["seconds"] == 3600 and grant["username"] in active_users(sims)


async def test_unknown_grant_or_action_is_404(box_factory: Any, sims: Simulators) -> None:
    box = await box_factory(box_extra(sims))
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    assert (await browser.get("/admin/sessions/grants/999/extend")).status_code == 404
    assert (await browser.get("/admin/sessions/grants/1/explode")).status_code == 404


def test_form_parsing_names_the_field() -> None:
    assert parse_extend({"time": "2", "time_unit": "hours", "data": "500", "data_unit": "MB"}) == (
        7200,
        500_000_000,
    )
    assert parse_speed({"down": "5M", "up": ""}) == (5_000_000, None)
    for form, field in (
        ({"time": "", "time_unit": "hours", "data": "", "data_unit": "GB"}, "time"),
        ({"time": "-1", "time_unit": "hours", "data_unit": "GB"}, "time"),
        ({"time": "1", "time_unit": "weeks", "data_unit": "GB"}, "time_unit"),
        ({"time": "400", "time_unit": "days", "data_unit": "GB"}, "time"),
    ):
        with pytest.raises(ValueError) as caught:
            parse_extend(form)
        assert field in caught.value.errors  # type: ignore[attr-defined]
    with pytest.raises(ValueError) as caught:
        parse_speed({"down": "fast", "up": "1k"})
    assert set(caught.value.errors) == {"down", "up"}  # type: ignore[attr-defined]
