"""TOTP two-factor sign-in on both backends: enrol with a QR, confirm, codes, replay, recovery codes,
the owner's "require 2FA for everyone", and an admin resetting a lost phone."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pyotp
from accounts_support import PASSWORD, Box, Browser

from hotspot.accounts.tables import AdminUser


def code(secret: str, box: Box, steps: int = 0) -> str:
    return str(pyotp.TOTP(secret).at(box.clock.now + steps * 30))


async def enrol(box: Box, browser: Browser) -> tuple[str, list[str]]:
    started = await browser.post("/api/v1/auth/2fa/enrol")
    assert started.status_code == 200, started.text
    secret = started.json()["secret"]
    confirmed = await browser.post("/api/v1/auth/2fa/confirm", json={"code": code(secret, box)})
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


async def test_enrol_shows_a_qr_and_confirm_turns_2fa_on(box: Box) -> None:
    box.admin("amina", "owner")
    browser = await box.signed_in("amina")
    started = (await browser.post("/api/v1/auth/2fa/enrol")).json()
    uri = urllib.parse.urlparse(started["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert urllib.parse.parse_qs(uri.query)["secret"] == [started["secret"]]
    assert "amina" in urllib.parse.unquote(uri.path)
    assert started["qr_svg"].startswith("data:image/svg+xml")
    assert "svg" in urllib.parse.unquote(started["qr_svg"])
    me = (await browser.get("/api/v1/auth/me")).json()
    assert me["admin"]["totp_enabled"] is False  # not before a code is confirmed

    wrong = await browser.post("/api/v1/auth/2fa/confirm", json={"code": "000000"})
    assert wrong.status_code == 400 and wrong.json()["error"]["fields"][0]["field"] == "code"
    cookie = browser.cookie
    confirmed = await browser.post("/api/v1/auth/2fa/confirm", json={"code": code(started["secret"], box)})
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert browser.cookie != cookie  # a privilege change rotates the session id
    me = (await browser.get("/api/v1/auth/me")).json()
    assert me["admin"]["totp_enabled"] is True and me["admin"]["recovery_codes_left"] == 10

    row: dict[str, Any] = box.run(
        lambda: AdminUser.select().where(AdminUser.username == "amina").first().run()
    )
    stored = str(row)
    assert started["secret"] not in stored  # sealed with the box's key
    assert not any(c in stored or c.replace("-", "") in stored for c in codes)  # only digests


async def test_sign_in_needs_the_code_and_a_code_works_once(box: Box) -> None:
    box.admin("juma", "admin")
    secret, _ = await enrol(box, await box.signed_in("juma"))
    box.clock.now += 30
    browser = box.browser()
    missing = await browser.login("juma", PASSWORD)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "totp_required"
    assert missing.json()["error"]["fields"][0]["field"] == "totp_code"
    assert (await browser.get("/api/v1/auth/me")).status_code == 401

    bad = await browser.login("juma", PASSWORD, totp_code="123456")
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_totp"
    wrong_password = await browser.login("juma", "not-my-password-9", totp_code=code(secret, box))
    assert wrong_password.json()["error"]["code"] == "bad_credentials"

    good = code(secret, box)
    assert (await browser.login("juma", PASSWORD, totp_code=good)).status_code == 200
    replay = await box.browser().login("juma", PASSWORD, totp_code=good)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "bad_totp"
    box.clock.now += 30
    assert (await box.browser().login("juma", PASSWORD, totp_code=code(secret, box))).status_code == 200


async def test_a_code_from_the_neighbouring_step_is_accepted(box: Box) -> None:
    """Phone clocks drift: one 30-second step either side passes, two do not."""
    box.admin("pendo", "viewer")
    secret, _ = await enrol(box, await box.signed_in("pendo"))
    box.clock.now += 300
    assert (await box.browser().login("pendo", PASSWORD, totp_code=code(secret, box, -2))).status_code == 401
    assert (await box.browser().login("pendo", PASSWORD, totp_code=code(secret, box, -1))).status_code == 200
    box.clock.now += 300
    assert (await box.browser().login("pendo", PASSWORD, totp_code=code(secret, box, 1))).status_code == 200


async def test_a_recovery_code_signs_in_once(box: Box) -> None:
    box.admin("zawadi", "owner")
    _, codes = await enrol(box, await box.signed_in("zawadi"))
    browser = box.browser()
    first = await browser.login("zawadi", PASSWORD, recovery_code=codes[3].upper().replace("-", " "))
    assert first.status_code == 200
    assert first.json()["used_recovery_code"] is True
    assert first.json()["admin"]["recovery_codes_left"] == 9
    again = await box.browser().login("zawadi", PASSWORD, recovery_code=codes[3])
    assert again.status_code == 401 and again.json()["error"]["fields"][0]["field"] == "recovery_code"
    assert (await box.browser().login("zawadi", PASSWORD, recovery_code="aaaa-bbbb-cccc")).status_code == 401
    assert (await box.browser().login("zawadi", PASSWORD, recovery_code=codes[0])).status_code == 200
    events, _ = box.run(lambda: box.accounts.security_log.search(_filter("recovery_code_used")))
    assert len(events) == 2 and events[0]["severity"] == "warning"


async def test_switching_2fa_off_needs_password_and_code(box: Box) -> None:
    box.admin("imani", "operator")
    browser = await box.signed_in("imani")
    secret, _ = await enrol(box, browser)
    box.clock.now += 30
    refused = await browser.post(
        "/api/v1/auth/2fa/disable", json={"password": "wrong-password-11", "code": code(secret, box)}
    )
    assert refused.status_code == 403
    box.clock.now += 30
    ok = await browser.post(
        "/api/v1/auth/2fa/disable", json={"password": PASSWORD, "code": code(secret, box)}
    )
    assert ok.status_code == 204
    assert (await box.browser().login("imani", PASSWORD)).status_code == 200  # no code needed now


async def test_owner_requires_2fa_for_everyone(box: Box) -> None:
    box.admin("mama", "owner")
    box.admin("clerk", "operator")
    owner = await box.signed_in("mama")
    assert (await owner.get("/api/v1/security/policy")).json() == {
        "require_2fa": False,
        "pinned_by_config": False,
    }
    clerk = await box.signed_in("clerk")
    assert (
        await clerk.request("PUT", "/api/v1/security/policy", json={"require_2fa": True})
    ).status_code == 403
    switched = await owner.request("PUT", "/api/v1/security/policy", json={"require_2fa": True})
    assert switched.status_code == 200 and switched.json()["require_2fa"] is True

    # the clerk's running session is held to enrolment at its next request
    limited = await clerk.get("/api/v1/admins")
    assert limited.status_code == 403 and "two-factor" in limited.json()["error"]["message"]
    me = (await clerk.get("/api/v1/auth/me")).json()
    assert me["must_enrol_2fa"] is True and set(me["permissions"]) == {"account.read", "account.manage"}

    fresh = box.browser()
    signed = await fresh.login("clerk", PASSWORD)
    assert signed.status_code == 200 and signed.json()["must_enrol_2fa"] is True
    secret, _ = await enrol(box, fresh)
    me = (await fresh.get("/api/v1/auth/me")).json()
    assert me["must_enrol_2fa"] is False and "sessions.write" in me["permissions"]
    box.clock.now += 30
    refused = await fresh.post(
        "/api/v1/auth/2fa/disable", json={"password": PASSWORD, "code": code(secret, box)}
    )
    assert refused.status_code == 403  # cannot switch it off while it is required


async def test_config_file_pins_the_policy(box_factory: Any) -> None:
    box = await box_factory(security={"require_2fa": True})
    box.admin("boss", "owner")
    owner = await box.signed_in("boss")
    assert (await owner.get("/api/v1/security/policy")).status_code == 403  # enrol first
    await enrol(box, owner)
    assert (await owner.get("/api/v1/security/policy")).json()["pinned_by_config"] is True
    refused = await owner.request("PUT", "/api/v1/security/policy", json={"require_2fa": False})
    assert refused.status_code == 409


async def test_admin_resets_a_lost_phone_but_not_an_owners(box: Box) -> None:
    owner = box.admin("owner", "owner")
    box.admin("manager", "admin")
    staff = box.admin("staff", "operator")
    staff_browser = await box.signed_in("staff")
    await enrol(box, staff_browser)
    owner_browser = await box.signed_in("owner")
    await enrol(box, owner_browser)
    box.clock.now += 30

    manager = await box.signed_in("manager")
    refused = await manager.post(f"/api/v1/admins/{owner['id']}/reset-2fa")
    assert refused.status_code == 403 and "owner" in refused.json()["error"]["message"]
    reset = await manager.post(f"/api/v1/admins/{staff['id']}/reset-2fa")
    assert reset.status_code == 200 and reset.json()["totp_enabled"] is False
    assert (await staff_browser.get("/api/v1/auth/me")).status_code == 401  # their sessions ended
    assert (await box.browser().login("staff", PASSWORD)).status_code == 200  # no code needed


def _filter(kind: str) -> Any:
    from hotspot.accounts import SecurityFilter

    return SecurityFilter(kind=kind)
