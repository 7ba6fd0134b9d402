"""The sign-in page: password, then the 2FA code; plain errors, lockout times, local `next` only,
a new session id at sign-in, and pages that send a stranger to it (JSON callers get 401)."""

from __future__ import annotations

import time

import pyotp
import pytest
from admin_support import COOKIE, HTML, PASSWORD, Box

from hotspot.accounts.principal import Principal


async def _enrol(box: Box, username: str) -> tuple[str, list[str]]:
    """2FA on for `username` through the service; (the TOTP secret, the recovery codes)."""
    admin = next(a for a in box.run(box.accounts.list_admins) if a["username"] == username)
    principal = Principal(admin["id"], username, admin["role"], frozenset({"account.manage"}), "session")
    enrolment = box.run(lambda: box.accounts.begin_enrolment(principal))
    codes = box.run(lambda: box.accounts.confirm_enrolment(principal, pyotp.TOTP(enrolment.secret).now()))
    return enrolment.secret, codes


def _later_code(secret: str, steps: int = 1) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


async def test_strangers_are_sent_to_sign_in_and_back(box: Box) -> None:
    box.admin("owner", "owner")
    browser = box.browser()
    page = await browser.get("/admin/audit?actor=owner")
    assert page.status_code == 303
    assert page.headers["location"] == "/admin/login?next=/admin/audit%3Factor%3Downer"
    htmx = await browser.request("GET", "/admin/admins", headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and htmx.headers["HX-Redirect"].startswith("/admin/login?next=")
    api = await browser.request("GET", "/admin/admins", headers={"accept": "application/json"})
    assert api.status_code == 401 and api.json()["error"]["status"] == 401
    form = await browser.get("/admin/login?next=/admin/audit%3Factor%3Downer")
    assert 'name="next" value="/admin/audit?actor=owner"' in form.text
    done = await browser.submit(
        "/admin/login", {"username": "owner", "password": PASSWORD, "next": "/admin/audit?actor=owner"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/audit?actor=owner"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "admin"]
)
async def test_next_only_goes_to_a_path_on_this_box(box: Box, target: str) -> None:
    box.admin("owner", "owner")
    browser = box.browser()
    await browser.get("/admin/login")
    done = await browser.submit("/admin/login", {"username": "owner", "password": PASSWORD, "next": target})
    assert done.status_code == 303 and done.headers["location"] == "/admin"


async def test_wrong_password_and_unknown_user_read_the_same(box: Box) -> None:
    box.admin("owner", "owner")
    browser = box.browser()
    await browser.get("/admin/login")
    wrong = await browser.submit("/admin/login", {"username": "owner", "password": "nope-nope-nope"})
    unknown = await browser.submit("/admin/login", {"username": "nobody", "password": "nope-nope-nope"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
    empty = await browser.submit("/admin/login", {"username": "", "password": ""})
    assert empty.status_code == 400 and "Enter your username and password." in empty.text


async def test_lockout_says_when_to_try_again(box: Box) -> None:
    box.admin("owner", "owner")
    browser = box.browser()
    await browser.get("/admin/login")
    limit = box.hotspot.settings.security.login_max_failures
    for _ in range(limit):
        await browser.submit("/admin/login", {"username": "owner", "password": "wrong-wrong-wrong"})
    locked = await browser.submit("/admin/login", {"username": "owner", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many wrong attempts. Try again in 60 seconds." in locked.text


async def test_sign_in_rotates_the_session_and_sign_out_ends_it(box: Box) -> None:
    box.admin("owner", "owner")
    browser = box.browser()
    await browser.get("/admin/login")
    before = browser.cookies.get(COOKIE)
    await browser.submit("/admin/login", {"username": "owner", "password": "wrong-wrong-wrong"})
    planted = browser.cookies.get(COOKIE) or before
    done = await browser.submit("/admin/login", {"username": "owner", "password": PASSWORD})
    assert done.status_code == 303
    signed_in = browser.cookies[COOKIE]
    assert signed_in != planted
    stolen = box.browser()
    stolen.cookies = dict(browser.cookies)
    assert (await stolen.get("/admin")).status_code == 200
    await browser.get("/admin")
    out = await browser.submit("/admin/logout")
    assert out.status_code == 303 and out.headers["location"] == "/admin/login?signed_out=1"
    assert (await browser.get("/admin/login?signed_out=1")).text.count("You have signed out.") == 1
    assert (await stolen.get("/admin")).status_code == 303  # the copied cookie is worthless now


async def test_two_step_sign_in_with_a_code_or_a_recovery_code(box: Box) -> None:
    box.admin("owner", "owner")
    secret, codes = await _enrol(box, "owner")
    browser = box.browser()
    await browser.get("/admin/login")
    step = await browser.submit(
        "/admin/login", {"username": "owner", "password": PASSWORD, "next": "/admin/audit"}
    )
    assert step.status_code == 200 and "6-digit code" in step.text
    assert PASSWORD not in step.text  # the password is not carried in the page
    assert COOKIE in browser.cookies
    bad = await browser.submit("/admin/login/code", {"code": "000000", "next": "/admin/audit"})
    assert bad.status_code == 401 and "not right" in bad.text
    ok = await browser.submit("/admin/login/code", {"code": _later_code(secret), "next": "/admin/audit"})
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/audit"
    assert (await browser.get("/admin/audit")).status_code == 200

    # a recovery code instead (the switch shows the other form, without an error)
    other = box.browser()
    await other.get("/admin/login")
    await other.submit("/admin/login", {"username": "owner", "password": PASSWORD})
    switched = await other.submit("/admin/login/code", {"method": "recovery", "code": "", "switch": "1"})
    assert (
        switched.status_code == 200
        and "recovery code" in switched.text
        and "alert-danger" not in switched.text
    )
    used = await other.submit("/admin/login/code", {"method": "recovery", "code": codes[0]})
    assert used.status_code == 303
    landing = await other.get("/admin")
    assert "recovery code" in landing.text and "9 left" in landing.text
    again = box.browser()
    await again.get("/admin/login")
    await again.submit("/admin/login", {"username": "owner", "password": PASSWORD})
    reused = await again.submit("/admin/login/code", {"method": "recovery", "code": codes[0]})
    assert reused.status_code == 401


async def test_the_code_step_needs_a_fresh_password_step(box: Box) -> None:
    box.admin("owner", "owner")
    secret, _ = await _enrol(box, "owner")
    browser = box.browser()
    await browser.get("/admin/login")
    no_step_one = await browser.submit("/admin/login/code", {"code": _later_code(secret)})
    assert no_step_one.status_code == 401 and "sign in again" in no_step_one.text
    await browser.submit("/admin/login", {"username": "owner", "password": PASSWORD})
    box.accounts.clock = lambda: time.time() + 301  # five minutes and a second later
    try:
        late = await browser.submit("/admin/login/code", {"code": _later_code(secret)})
    finally:
        box.accounts.clock = time.time
    assert late.status_code == 401 and "took too long" in late.text


async def test_an_admin_who_must_enrol_is_sent_to_the_account_page(box: Box) -> None:
    box.admin("owner", "owner")
    box.admin("deputy", "admin")
    box.run(lambda: box.accounts.set_require_2fa(True, by=None))
    browser = box.browser()
    await browser.get("/admin/login")
    done = await browser.submit("/admin/login", {"username": "deputy", "password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/admin/account#two-step"
    page = await browser.get("/admin/audit")  # an admin may read it, once enrolled
    assert page.status_code == 303 and page.headers["location"] == "/admin/account#two-step"
    account = await browser.get("/admin/account")
    assert account.status_code == 200 and "requires two-step sign-in" in account.text
    assert (
        await browser.request("GET", "/admin/admins", headers={"accept": "application/json"})
    ).status_code == 403


async def test_signed_in_admins_skip_the_form_and_a_fresh_box_goes_to_setup(box: Box) -> None:
    fresh = box.browser()
    assert (await fresh.get("/admin/login")).headers["location"] == "/setup"
    assert (await fresh.get("/admin")).headers["location"].startswith("/admin/login")
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    again = await browser.get("/admin/login?next=/admin/settings")
    assert again.status_code == 303 and again.headers["location"] == "/admin/settings"
    assert HTML  # pages are asked for as a browser does
