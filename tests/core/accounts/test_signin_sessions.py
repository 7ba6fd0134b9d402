"""Signing in and out on both backends: generic errors, rotation, stolen cookies, timeouts, CSRF."""

from __future__ import annotations

from accounts_support import CSRF, PASSWORD, Box


async def test_sign_in_and_who_am_i(box: Box) -> None:
    box.admin("wanjiku", "operator", email="wanjiku@example.com")
    browser = box.browser()
    response = await browser.login("Wanjiku ", PASSWORD)  # usernames are case- and space-insensitive
    assert response.status_code == 200
    body = response.json()
    assert body["admin"]["username"] == "wanjiku" and body["must_enrol_2fa"] is False
    assert "password_hash" not in body["admin"] and "totp_secret_sealed" not in body["admin"]
    assert response.headers["cache-control"] == "no-store"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("hotspot_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    me = (await browser.get("/api/v1/auth/me")).json()
    assert me["admin"]["username"] == "wanjiku" and me["via"] == "session"
    assert "sessions.write" in me["permissions"] and "money.settings" not in me["permissions"]


async def test_wrong_password_and_unknown_user_get_the_same_answer(box: Box) -> None:
    box.admin("kamau", "admin")
    browser = box.browser()
    wrong = await browser.login("kamau", "not-the-password-1")
    unknown = await browser.login("nobody-here", "not-the-password-1")
    malformed = await browser.login("x", "not-the-password-1")
    for response in (wrong, unknown, malformed):
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "bad_credentials"
        assert error["message"] == "Wrong username or password."
    assert browser.cookie is None or (await browser.get("/api/v1/auth/me")).status_code == 401


async def test_a_deactivated_admin_cannot_sign_in_and_hears_nothing_special(box: Box) -> None:
    admin = box.admin("otieno", "viewer")
    box.run(lambda: box.accounts.update_admin(admin["id"], {"active": False}, by=None))
    response = await box.browser().login("otieno", PASSWORD)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_credentials"


async def test_missing_fields_are_named(box: Box) -> None:
    response = await box.browser().post("/api/v1/auth/login", json={"username": "a"})
    assert response.status_code == 400
    assert any(f["field"] == "password" for f in response.json()["error"]["fields"])


async def test_session_id_is_rotated_at_sign_in_and_the_planted_one_dies(box: Box) -> None:
    """Session fixation: an id the browser had before signing in is worthless after."""
    box.admin("achieng", "owner")
    browser = box.browser()
    browser.cookie = "f1" * 32  # planted by an attacker (the server-side store takes any id it is sent)
    await browser.get("/api/v1/auth/me")
    before = browser.cookie
    assert before == "f1" * 32
    response = await browser.login("achieng", PASSWORD)
    assert response.status_code == 200
    after = browser.cookie
    assert after and after != before
    attacker = box.browser()
    attacker.cookie = before
    assert (await attacker.get("/api/v1/auth/me")).status_code == 401
    assert (await browser.get("/api/v1/auth/me")).status_code == 200


async def test_stolen_cookie_stops_working_after_logout(box: Box) -> None:
    box.admin("mutua", "admin")
    browser = await box.signed_in("mutua")
    thief = box.browser()
    thief.cookie = browser.cookie
    assert (await thief.get("/api/v1/auth/me")).status_code == 200
    stolen = browser.cookie
    response = await browser.post("/api/v1/auth/logout")
    assert response.status_code == 204
    assert browser.cookie is None  # the browser's cookie is cleared
    thief.cookie = stolen
    assert (await thief.get("/api/v1/auth/me")).status_code == 401
    assert (await thief.post("/api/v1/auth/logout-all")).status_code == 401


async def test_logout_everywhere_ends_every_other_session(box: Box) -> None:
    box.admin("njeri", "accountant")
    laptop = await box.signed_in("njeri")
    phone = await box.signed_in("njeri")
    thief = box.browser()
    thief.cookie = phone.cookie
    old_laptop_cookie = laptop.cookie
    response = await laptop.post("/api/v1/auth/logout-all")
    assert response.status_code == 204
    assert laptop.cookie != old_laptop_cookie  # this session lives on under a new id
    assert (await laptop.get("/api/v1/auth/me")).status_code == 200
    assert (await phone.get("/api/v1/auth/me")).status_code == 401
    assert (await thief.get("/api/v1/auth/me")).status_code == 401
    replay = box.browser()
    replay.cookie = old_laptop_cookie
    assert (await replay.get("/api/v1/auth/me")).status_code == 401
    events = box.run(lambda: box.accounts.security_log.search(_kind("logout_all")))[0]
    assert [e["subject"] for e in events] == ["njeri"]


async def test_idle_timeout(box: Box) -> None:
    box.admin("kiprop", "viewer")
    browser = await box.signed_in("kiprop")
    box.clock.now += 29 * 60
    assert (await browser.get("/api/v1/auth/me")).status_code == 200  # activity renews it
    box.clock.now += 29 * 60
    assert (await browser.get("/api/v1/auth/me")).status_code == 200
    box.clock.now += 31 * 60
    assert (await browser.get("/api/v1/auth/me")).status_code == 401


async def test_absolute_timeout_even_when_active(box: Box) -> None:
    box.admin("wambui", "viewer")
    browser = await box.signed_in("wambui")
    start = box.clock.now
    while (await browser.get("/api/v1/auth/me")).status_code == 200:
        box.clock.now += 29 * 60  # active every half hour, less a minute
        assert box.clock.now - start < 13 * 3600
    assert box.clock.now - start > 12 * 3600  # ended by the 12-hour limit, not by idling


async def test_password_change_ends_other_sessions_and_keeps_this_one(box: Box) -> None:
    box.admin("chebet", "operator")
    here = await box.signed_in("chebet")
    there = await box.signed_in("chebet")
    wrong = await here.post(
        "/api/v1/auth/password", json={"current_password": "nope-nope-nope", "new_password": "x"}
    )
    assert wrong.status_code == 403 and wrong.json()["error"]["fields"][0]["field"] == "current_password"
    weak = await here.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "password123"}
    )
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "weak_password"
    old_cookie = here.cookie
    ok = await here.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "quiet-lantern-harbour-9"},
    )
    assert ok.status_code == 204
    assert here.cookie != old_cookie
    assert (await here.get("/api/v1/auth/me")).status_code == 200
    assert (await there.get("/api/v1/auth/me")).status_code == 401
    assert (await box.browser().login("chebet", PASSWORD)).status_code == 401
    assert (await box.browser().login("chebet", "quiet-lantern-harbour-9")).status_code == 200


async def test_cookie_sessions_need_the_csrf_header_to_change_things(box: Box) -> None:
    box.admin("omondi", "owner")
    browser = await box.signed_in("omondi")
    browser.csrf = False
    assert (await browser.get("/api/v1/auth/me")).status_code == 200  # reading is fine
    refused = await browser.post("/api/v1/auth/logout")
    assert refused.status_code == 403
    assert "X-Requested-With" in refused.json()["error"]["message"]
    assert (await browser.post("/api/v1/auth/logout", headers={"HX-Request": "true"})).status_code == 204


async def test_login_itself_needs_the_csrf_header(box: Box) -> None:
    """Login CSRF: a cross-site form must not sign the victim into the attacker's account."""
    box.admin("halima", "owner")
    browser = box.browser()
    browser.csrf = False
    response = await browser.login("halima", PASSWORD)
    assert response.status_code == 403
    browser.csrf = True
    assert (await browser.get("/api/v1/auth/me")).status_code == 401


async def test_nobody_signed_in_is_401_json(box: Box) -> None:
    response = await box.client.get("/api/v1/auth/me", headers=CSRF)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Please sign in first."


async def test_logins_and_failures_are_security_events(box: Box) -> None:
    box.admin("baraka", "viewer")
    browser = box.browser()
    await browser.login("baraka", "wrong-password-1")
    await browser.login("baraka", PASSWORD)
    await browser.post("/api/v1/auth/logout")
    events, _ = box.run(lambda: box.accounts.security_log.search(_kind(None)))
    kinds = [e["kind"] for e in events]
    assert kinds[:3] == ["logout", "login", "login_failed"]
    assert all(e["subject"] == "baraka" for e in events[:3])
    assert events[2]["severity"] == "info" and "wrong password" in events[2]["detail"]


def _kind(kind: str | None) -> object:
    from hotspot.accounts import SecurityFilter

    return SecurityFilter(kind=kind)
