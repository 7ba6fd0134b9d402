"""The admin shell and its pages: navigation by role, admins (owner/admin rules), the audit and
security logs (filters, keyset pages, CSV), settings and the sign-in policy; with and without htmx."""

from __future__ import annotations

import re

import pytest
from admin_support import HTML, PASSWORD, Box
from bs4 import BeautifulSoup


def nav_labels(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return [a.get_text(strip=True) for a in soup.select("nav[aria-label=Admin] a.nav-link")]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            "owner",
            [
                "Overview",
                "Sessions",
                "Payments",
                "Customers",
                "Vouchers",
                "Packages",
                "Promos & discounts",
                "Routers",
                "Reports",
                "Admins",
                "Audit log",
                "Security log",
                "Plugins",
                "Settings",
            ],
        ),
        (
            "viewer",
            [
                "Overview",
                "Sessions",
                "Payments",
                "Customers",
                "Vouchers",
                "Packages",
                "Promos & discounts",
                "Routers",
                "Reports",
                "Admins",
                "Audit log",
                "Security log",
                "Plugins",
                "Settings",
            ],
        ),
        (
            "accountant",
            [
                "Overview",
                "Sessions",
                "Payments",
                "Customers",
                "Vouchers",
                "Packages",
                "Promos & discounts",
                "Routers",
                "Reports",
                "Admins",
                "Audit log",
                "Security log",
                "Plugins",
                "Settings",
            ],
        ),
        (
            "operator",
            [
                "Overview",
                "Sessions",
                "Payments",
                "Customers",
                "Vouchers",
                "Packages",
                "Promos & discounts",
                "Routers",
            ],
        ),
    ],
)
async def test_the_menu_shows_what_the_role_may_open(box: Box, role: str, expected: list[str]) -> None:
    box.admin("someone", role)
    browser = await box.signed_in("someone")
    page = await browser.get("/admin")
    assert page.status_code == 200
    assert nav_labels(page.text) == expected
    assert "<script>" not in page.text and " onclick=" not in page.text  # CSP: external scripts only


async def test_pages_answer_the_same_with_htmx(box: Box) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    for path in (
        "/admin",
        "/admin/account",
        "/admin/admins",
        "/admin/audit",
        "/admin/security",
        "/admin/settings",
    ):
        plain = await browser.get(path)
        boosted = await browser.get(path, headers={"HX-Request": "true"})
        assert plain.status_code == boosted.status_code == 200, path
        assert plain.headers["cache-control"] == "no-store" and "HX-Request" in plain.headers["vary"]


async def test_admins_page_follows_the_owner_and_admin_rules(box: Box) -> None:
    box.admin("owner", "owner")
    box.admin("deputy", "admin")
    viewer = box.admin("watcher", "viewer")
    owner_page = await (await box.signed_in("owner")).get("/admin/admins")
    assert '<option value="owner"' in owner_page.text  # owners may make owners

    deputy = await box.signed_in("deputy")
    page = await deputy.get("/admin/admins")
    assert '<option value="owner"' not in page.text
    soup = BeautifulSoup(page.text, "html.parser")
    owner_row = next(
        tr for tr in soup.select("tbody tr") if "owner" in tr.get_text() and "deputy" not in tr.get_text()
    )
    assert owner_row.select_one(".dropdown") is None  # nothing to manage on an owner
    made = await deputy.submit(
        "/admin/admins",
        {"username": "clerk", "password": PASSWORD, "role": "operator", "email": "clerk@example.com"},
    )
    assert made.status_code == 303
    assert "clerk can sign in now as operator" in (await deputy.get("/admin/admins")).text
    taken = await deputy.submit(
        "/admin/admins", {"username": "clerk", "password": PASSWORD, "role": "viewer"}
    )
    assert taken.status_code == 409 and "taken" in taken.text
    sneaky = await deputy.submit(
        "/admin/admins", {"username": "boss2", "password": PASSWORD, "role": "owner"}
    )
    assert sneaky.status_code == 403 and "Only an owner" in sneaky.text
    missing = await deputy.submit("/admin/admins", {"username": "x", "password": "", "role": "viewer"})
    assert missing.status_code == 400

    await deputy.submit(f"/admin/admins/{viewer['id']}/role", {"role": "accountant"})
    assert "watcher is now accountant" in (await deputy.get("/admin/admins")).text
    await deputy.submit(f"/admin/admins/{viewer['id']}/active", {"active": "0"})
    assert "deactivated" in (await deputy.get("/admin/admins")).text
    assert (await box.browser().sign_in("watcher")).status_code == 401
    await deputy.submit(f"/admin/admins/{viewer['id']}/active", {"active": "1"})
    assert (await box.browser().sign_in("watcher")).status_code == 303
    self_change = await deputy.submit(f"/admin/admins/{_id(box, 'deputy')}/role", {"role": "viewer"})
    assert self_change.status_code == 303
    assert "cannot change your own role" in (await deputy.get("/admin/admins")).text

    watcher = await box.signed_in("watcher")
    read_only = await watcher.get("/admin/admins")
    assert read_only.status_code == 200 and "Add an admin" not in read_only.text
    assert (
        await watcher.submit("/admin/admins", {"username": "y", "password": PASSWORD, "role": "viewer"})
    ).status_code == 403


def _id(box: Box, username: str) -> int:
    return int(next(a["id"] for a in box.run(box.accounts.list_admins) if a["username"] == username))


async def test_reset_2fa_for_a_lost_phone(box: Box) -> None:
    import pyotp

    from hotspot.accounts.principal import Principal

    box.admin("owner", "owner")
    clerk = box.admin("clerk", "operator")
    principal = Principal(clerk["id"], "clerk", "operator", frozenset({"account.manage"}), "session")
    enrolment = box.run(lambda: box.accounts.begin_enrolment(principal))
    box.run(lambda: box.accounts.confirm_enrolment(principal, pyotp.TOTP(enrolment.secret).now()))
    owner = await box.signed_in("owner")
    page = await owner.get("/admin/admins")
    assert f"/admin/admins/{clerk['id']}/reset-2fa" in page.text
    done = await owner.submit(f"/admin/admins/{clerk['id']}/reset-2fa")
    assert done.status_code == 303
    assert "Two-step sign-in is off for clerk" in (await owner.get("/admin/admins")).text
    assert (await box.browser().sign_in("clerk")).status_code == 303  # no code asked any more


async def test_audit_log_search_pages_and_export(box: Box) -> None:
    box.admin("owner", "owner")
    for i in range(55):
        box.admin(f"user{i:02d}", "viewer")
    browser = await box.signed_in("owner")
    first = await browser.get("/admin/audit")
    soup = BeautifulSoup(first.text, "html.parser")
    assert len(soup.select("tbody tr")) == 50
    older = soup.find("a", rel="next")
    assert older is not None and "before=" in older["href"]
    second = await browser.get(older["href"])
    rows = BeautifulSoup(second.text, "html.parser").select("tbody tr")
    assert 1 <= len(rows) <= 50 and "Newest" in second.text
    shown = {c.get_text() for c in BeautifulSoup(first.text, "html.parser").select("tbody code")}
    assert shown == {"admin.create"}
    filtered = await browser.get("/admin/audit?actor=nobody")
    assert "Nothing matches these filters." in filtered.text
    export = re.search(
        r'href="(/api/v1/audit/export\.csv[^"]*)"', (await browser.get("/admin/audit?action=admin.")).text
    )
    assert export is not None
    csv = await browser.request("GET", export[1].replace("&amp;", "&"))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.count("admin.create") == 56
    bad = await browser.get("/admin/audit?since=yesterday")
    assert bad.status_code == 200 and "Dates are written like" in bad.text
    for far in ("since=0001-01-01", "until=9999-12-31"):  # no Unix time in every zone: was a 500
        assert (await browser.get(f"/admin/audit?{far}")).status_code == 200, far


async def test_security_log_shows_failed_sign_ins(box: Box) -> None:
    box.admin("owner", "owner")
    stranger = box.browser()
    await stranger.sign_in("owner", "wrong-wrong-wrong")
    browser = await box.signed_in("owner")
    page = await browser.get("/admin/security?kind=login_failed")
    assert page.status_code == 200
    assert "sign-in failed for owner: wrong password" in page.text
    assert "owner signed in" not in page.text
    assert (await browser.get("/admin/security?severity=bogus")).status_code == 400


async def test_settings_page_and_the_sign_in_policy(box: Box) -> None:
    box.admin("owner", "owner")
    box.admin("deputy", "admin")
    deputy = await box.signed_in("deputy")
    page = await deputy.get("/admin/settings")
    assert page.status_code == 200 and "Only an owner changes this." in page.text
    for href in ("/setup/business", "/setup/router", "/setup/payments", "/setup/packages"):
        assert f'href="{href}"' in page.text
    assert (await deputy.submit("/admin/settings/require-2fa", {"require_2fa": "1"})).status_code == 403

    owner = await box.signed_in("owner")
    await owner.get("/admin/settings")
    done = await owner.submit("/admin/settings/require-2fa", {"require_2fa": "1"})
    assert done.status_code == 303
    # the owner has no 2FA either: from now on only the account page opens until they set it up
    assert (await owner.get("/admin/settings")).headers["location"] == "/admin/account#two-step"
    assert "Every admin now needs two-step sign-in." in (await owner.get("/admin/account")).text
    assert box.run(box.accounts.require_2fa) is True
    assert (await deputy.get("/admin/audit")).headers["location"] == "/admin/account#two-step"


async def test_a_role_without_the_permission_gets_403(box: Box) -> None:
    box.admin("clerk", "operator")
    browser = await box.signed_in("clerk")
    for path in ("/admin/admins", "/admin/audit", "/admin/settings", "/setup/business"):
        response = await browser.get(path)
        assert response.status_code == 403, path
        assert "not allowed" in response.text
    assert HTML
