"""Brute-force protection on both backends (the counters live in Redis there): lockout per
username and per IP, for passwords and 2FA codes, its expiry and doubling, and the alerts."""

from __future__ import annotations

import pyotp
from accounts_support import PASSWORD, Box

from hotspot.accounts import SecurityFilter
from hotspot.accounts.alerts import ALERT_JOB


async def wrong(box: Box, username: str, times: int, *, ip: str | None = None) -> list[int]:
    headers = {"X-Forwarded-For": ip} if ip else {}
    statuses = []
    for i in range(times):
        response = await box.browser().login(username, f"wrong-password-{i}", headers=headers)
        statuses.append(response.status_code)
    return statuses


async def test_five_wrong_passwords_lock_the_username_for_a_minute(box: Box) -> None:
    box.admin("kevin", "admin")
    assert await wrong(box, "kevin", 5) == [401] * 5
    locked = await box.browser().login("kevin", PASSWORD)  # even the right password waits
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "locked"
    assert locked.headers["retry-after"] == "60"
    box.clock.now += 59
    assert (await box.browser().login("kevin", PASSWORD)).status_code == 429
    box.clock.now += 2
    assert (await box.browser().login("kevin", PASSWORD)).status_code == 200


async def test_each_further_lockout_doubles_up_to_the_cap(box_factory: object) -> None:
    box: Box = await box_factory(security={"lockout_max_seconds": 200})  # type: ignore[operator]
    box.admin("sarah", "viewer")
    for expected in (60, 120, 200, 200):
        await wrong(box, "sarah", 5)
        locked = await box.browser().login("sarah", "wrong-again-x")
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) == expected
        box.clock.now += expected + 1
    assert (await box.browser().login("sarah", PASSWORD)).status_code == 200
    await wrong(box, "sarah", 4)  # a success cleared the count: four more are not enough
    assert (await box.browser().login("sarah", PASSWORD)).status_code == 200


async def test_old_failures_are_forgotten(box: Box) -> None:
    box.admin("peter", "viewer")
    await wrong(box, "peter", 4)
    box.clock.now += 16 * 60
    await wrong(box, "peter", 4)
    assert (await box.browser().login("peter", PASSWORD)).status_code == 200


async def test_unknown_usernames_lock_like_real_ones(box: Box) -> None:
    """Otherwise a lockout would tell an attacker which usernames exist."""
    await wrong(box, "ghost", 5)
    response = await box.browser().login("ghost", "anything-at-all-1")
    assert response.status_code == 429


async def test_one_address_guessing_many_usernames_is_locked(box: Box) -> None:
    box.admin("victim", "owner")
    attacker = "203.0.113.9"
    for i in range(20):  # the per-IP limit, spread thin over usernames
        await wrong(box, f"user{i:02d}", 1, ip=attacker)
    response = await box.browser().login("victim", PASSWORD, headers={"X-Forwarded-For": attacker})
    assert response.status_code == 429
    assert (
        await box.browser().login("victim", PASSWORD, headers={"X-Forwarded-For": "198.51.100.7"})
    ).status_code == 200


async def test_the_owner_is_not_locked_out_from_a_known_address(box: Box) -> None:
    """A stranger's guesses lock the username for strangers; the owner's usual address still works."""
    box.admin("owner", "owner")
    home = "192.0.2.10"
    assert (
        await box.browser().login("owner", PASSWORD, headers={"X-Forwarded-For": home})
    ).status_code == 200
    await wrong(box, "owner", 5, ip="203.0.113.50")
    from_elsewhere = await box.browser().login("owner", PASSWORD, headers={"X-Forwarded-For": "198.51.100.1"})
    assert from_elsewhere.status_code == 429
    at_home = await box.browser().login("owner", PASSWORD, headers={"X-Forwarded-For": home})
    assert at_home.status_code == 200


async def test_wrong_2fa_codes_lock_too(box: Box) -> None:
    box.admin("lucy", "admin")
    browser = await box.signed_in("lucy")
    secret = (await browser.post("/api/v1/auth/2fa/enrol")).json()["secret"]
    totp = pyotp.TOTP(secret)
    assert (
        await browser.post("/api/v1/auth/2fa/confirm", json={"code": totp.at(box.clock.now)})
    ).status_code == 200
    box.clock.now += 30
    for _ in range(5):
        bad = await box.browser().login("lucy", PASSWORD, totp_code="000000")
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_totp"
    locked = await box.browser().login("lucy", PASSWORD, totp_code=totp.at(box.clock.now))
    assert locked.status_code == 429
    box.clock.now += 61
    assert (await box.browser().login("lucy", PASSWORD, totp_code=totp.at(box.clock.now))).status_code == 200


async def test_lockouts_are_security_events_and_alert_the_owner(box: Box) -> None:
    box.admin("grace", "admin")
    await wrong(box, "grace", 5, ip="203.0.113.77")
    events, _ = box.run(lambda: box.accounts.security_log.search(SecurityFilter(subject="grace")))
    kinds = [e["kind"] for e in events]
    assert kinds.count("login_failed") == 5 and kinds.count("login_lockout") == 1
    lockout = next(e for e in events if e["kind"] == "login_lockout")
    assert lockout["severity"] == "warning" and lockout["ip"] == "203.0.113.77"
    assert "locked for 60 seconds" in lockout["detail"]
    assert box.run(box.hotspot.jobs.counts).get("pending") == 1
    assert box.notifier.sent == []
    assert box.run(box.hotspot.jobs.run_due) == 1
    [alert] = box.notifier.sent
    assert alert.kind == "security.login_lockout" and alert.severity == "warning"
    assert "grace" in alert.body and "203.0.113.77" in alert.body


async def test_an_alert_is_retried_while_no_notifier_accepts_it(box: Box) -> None:
    box.admin("dan", "viewer")
    box.notifier.fail = True
    await wrong(box, "dan", 5)
    box.run(box.hotspot.jobs.run_due)
    assert box.notifier.sent == []
    box.notifier.fail = False
    box.clock.now += 600  # past the retry backoff
    box.run(box.hotspot.jobs.run_due)
    assert [n.kind for n in box.notifier.sent] == ["security.login_lockout"]
    assert ALERT_JOB in box.hotspot.jobs.kinds


async def test_owner_sign_in_from_a_new_address_alerts(box: Box) -> None:
    box.admin("mwangi", "owner")
    box.admin("clerk", "operator")
    for who, ip in (
        ("mwangi", "192.0.2.1"),
        ("mwangi", "192.0.2.1"),
        ("clerk", "192.0.2.1"),
        ("clerk", "192.0.2.99"),
    ):
        assert (await box.browser().login(who, PASSWORD, headers={"X-Forwarded-For": ip})).status_code == 200
    events, _ = box.run(lambda: box.accounts.security_log.search(SecurityFilter(kind="owner_new_ip")))
    assert events == []  # the first sign-in ever is not "new", and staff do not alert
    assert (
        await box.browser().login("mwangi", PASSWORD, headers={"X-Forwarded-For": "198.51.100.23"})
    ).status_code == 200
    events, _ = box.run(lambda: box.accounts.security_log.search(SecurityFilter(kind="owner_new_ip")))
    assert len(events) == 1 and events[0]["ip"] == "198.51.100.23" and events[0]["subject"] == "mwangi"
    box.run(box.hotspot.jobs.run_due)
    assert [n.kind for n in box.notifier.sent] == ["security.owner_new_ip"]
