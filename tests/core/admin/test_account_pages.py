"""One's own account page: password, 2FA enrolment (QR, confirm, recovery codes once), switching it
off, API tokens (shown once, revocable) and signing out everywhere else."""

from __future__ import annotations

import re
import time

import pyotp
from admin_support import COOKIE, PASSWORD, Box

from hotspot.accounts.audit import AuditFilter


async def test_change_password_keeps_this_browser_and_ends_the_others(box: Box) -> None:
    box.admin("owner", "owner")
    here, there = await box.signed_in("owner"), await box.signed_in("owner")
    await here.get("/admin/account")
    mismatch = await here.submit(
        "/admin/account/password",
        {"current_password": PASSWORD, "new_password": "river-lamp-copper-91", "confirm_password": "other"},
    )
    assert mismatch.status_code == 400 and "not the same" in mismatch.text
    wrong = await here.submit(
        "/admin/account/password",
        {
            "current_password": "nope-nope-nope",
            "new_password": "river-lamp-copper-91",
            "confirm_password": "river-lamp-copper-91",
        },
    )
    assert wrong.status_code == 403 and "current password is not right" in wrong.text
    weak = await here.submit(
        "/admin/account/password",
        {"current_password": PASSWORD, "new_password": "password123", "confirm_password": "password123"},
    )
    assert weak.status_code == 400 and "is-invalid" in weak.text
    before = here.cookies[COOKIE]
    done = await here.submit(
        "/admin/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "river-lamp-copper-91",
            "confirm_password": "river-lamp-copper-91",
        },
    )
    assert done.status_code == 303
    assert here.cookies[COOKIE] != before  # rotated
    assert "Password changed" in (await here.get("/admin/account")).text
    assert (await there.get("/admin")).status_code == 303  # the other browser is signed out
    assert (await box.browser().sign_in("owner", "river-lamp-copper-91")).status_code == 303


async def test_two_step_enrolment_shows_the_qr_then_recovery_codes_once(box: Box) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    page = await browser.get("/admin/account")
    assert "Set up two-step sign-in" in page.text
    started = await browser.submit("/admin/account/2fa/enrol")
    assert started.status_code == 303
    page = await browser.get("/admin/account")
    assert 'src="data:image/svg+xml' in page.text  # the QR code (segno SVG), allowed by the CSP
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret is not None
    wrong = await browser.submit("/admin/account/2fa/confirm", {"code": "000000"})
    assert wrong.status_code == 400 and "not right" in wrong.text
    assert secret[1] in wrong.text  # the same QR stays on screen: no need to scan again
    done = await browser.submit("/admin/account/2fa/confirm", {"code": pyotp.TOTP(secret[1]).now()})
    assert done.status_code == 200
    codes = re.findall(r"<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>", done.text)
    assert len(codes) == 10
    later = await browser.get("/admin/account")
    assert not any(code in later.text for code in codes)  # shown once
    assert "10</strong> recovery codes left" in later.text
    me = box.run(box.accounts.list_admins)[0]
    assert me["totp_enabled"] and me["recovery_codes_left"] == 10


async def test_enrolment_can_be_cancelled_and_two_step_switched_off(box: Box) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    await browser.get("/admin/account")
    await browser.submit("/admin/account/2fa/enrol")
    await browser.get("/admin/account")
    await browser.submit("/admin/account/2fa/cancel")
    assert "totp-secret" not in (await browser.get("/admin/account")).text
    await browser.submit("/admin/account/2fa/enrol")
    page = await browser.get("/admin/account")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret is not None
    await browser.submit("/admin/account/2fa/confirm", {"code": pyotp.TOTP(secret[1]).now()})
    await browser.get("/admin/account")
    refused = await browser.submit(
        "/admin/account/2fa/disable",
        {"password": "nope-nope-nope", "code": pyotp.TOTP(secret[1]).at(time.time() + 30)},
    )
    assert refused.status_code == 403 and "not right" in refused.text
    off = await browser.submit(
        "/admin/account/2fa/disable",
        {"password": PASSWORD, "code": pyotp.TOTP(secret[1]).at(time.time() + 30)},
    )
    assert off.status_code == 303
    assert "Two-step sign-in is off" in (await browser.get("/admin/account")).text
    assert not box.run(box.accounts.list_admins)[0]["totp_enabled"]


async def test_api_tokens_are_shown_once_and_revocable(box: Box) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    page = await browser.get("/admin/account")
    assert 'value="account.manage"' not in page.text  # a token can never manage the account
    empty = await browser.submit("/admin/account/tokens", {"name": "script", "expires_in_days": "30"})
    assert empty.status_code == 400 and "at least one scope" in empty.text
    made = await browser.submit(
        "/admin/account/tokens",
        {"name": "Books export", "expires_in_days": "30", "scopes": ["audit.read", "payments.read"]},
    )
    assert made.status_code == 201
    token = re.search(r'id="new-token">(hst_[A-Za-z0-9_-]+)<', made.text)
    assert token is not None
    api = box.browser()
    auth = {"Authorization": f"Bearer {token[1]}"}
    assert (await api.request("GET", "/api/v1/audit/", headers=auth)).status_code == 200
    assert (await api.request("GET", "/api/v1/admins/", headers=auth)).status_code == 403
    listing = await browser.get("/admin/account")
    assert "Books export" in listing.text and token[1] not in listing.text
    token_id = re.search(r"/admin/account/tokens/(\d+)/revoke", listing.text)
    assert token_id is not None
    revoked = await browser.submit(f"/admin/account/tokens/{token_id[1]}/revoke")
    assert revoked.status_code == 303
    assert (await api.request("GET", "/api/v1/audit/", headers=auth)).status_code == 401
    assert "revoked" in (await browser.get("/admin/account")).text


async def test_sign_out_everywhere_else(box: Box) -> None:
    box.admin("owner", "owner")
    here, phone = await box.signed_in("owner"), await box.signed_in("owner")
    await here.get("/admin/account")
    done = await here.submit("/admin/account/logout-all")
    assert done.status_code == 303
    assert (await here.get("/admin/account")).status_code == 200
    assert (await phone.get("/admin/account")).status_code == 303


async def test_every_change_is_in_the_audit_log(box: Box) -> None:
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    await browser.get("/admin/account")
    await browser.submit(
        "/admin/account/tokens", {"name": "x", "expires_in_days": "1", "scopes": "audit.read"}
    )
    await browser.submit(
        "/admin/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "river-lamp-copper-91",
            "confirm_password": "river-lamp-copper-91",
        },
    )
    actions = [e["action"] for e in box.run(lambda: box.accounts.audit.search(AuditFilter())).entries]
    assert {"token.create", "account.password"} <= set(actions)
