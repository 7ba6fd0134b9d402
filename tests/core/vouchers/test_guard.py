"""Guessing protection (both backends: in-process stores, and Redis with PostgreSQL): rate limits
per MAC, per IP, per source and for everyone, lockouts that grow, and the security events."""

from __future__ import annotations

from typing import Any

import pytest
from voucher_support import IPS, PHONE_A, PHONE_B, Box

from hotspot.vouchers import GuardLimits, VoucherError
from hotspot.vouchers.tables import VoucherAttempt

WRONG = "ABCDE-FGHJK"


async def attempt(box: Box, code: str = WRONG, mac: str = PHONE_A, **kw: Any) -> VoucherError | None:
    try:
        await box.redeem(code, mac, **kw)
    except VoucherError as exc:
        return exc
    return None


async def test_five_wrong_codes_lock_the_device_out_for_a_growing_period(box: Box) -> None:
    box.vouchers.guard.limits = GuardLimits(per_mac=100, per_ip=100)  # lockouts alone here
    good = (await box.batch()).vouchers[0].code
    for _ in range(5):
        error = await attempt(box)
        assert error is not None and error.reason == "unknown_code" and error.status_code == 400
    locked = await attempt(box, good)  # even the right code waits now
    assert locked is not None and locked.reason == "locked_out" and locked.status_code == 429
    assert locked.retry_after == 60 and "1 minute" not in locked.message and "60 seconds" in locked.message
    [event] = box.security_events()
    assert event.kind == "voucher_guessing" and event.severity == "warning"
    assert event.subject == PHONE_A and "locked out for 1 minute" in event.detail
    assert (await attempt(box, good, PHONE_B)) is None  # another device (and IP) is not affected

    box.later(61)
    for _ in range(5):
        error = await attempt(box)
        assert error is not None and error.reason == "unknown_code"
    locked = await attempt(box)
    assert locked is not None and locked.reason == "locked_out" and locked.retry_after == 120
    box.later(121)
    for _ in range(5):
        await attempt(box)
    locked = await attempt(box)
    assert locked is not None and locked.retry_after == 240
    events = box.security_events()
    assert [e.detail.split("(")[-1] for e in events if e.subject == PHONE_A][-3:] == [
        "lockout #1)",
        "lockout #2)",
        "lockout #3)",
    ]
    assert events[-1].severity == "critical"
    box.later(241)
    assert (await attempt(box, good)) is None


async def test_the_lockout_doubling_is_forgotten_after_a_quiet_day(box: Box) -> None:
    box.vouchers.guard.limits = GuardLimits(per_mac=100, per_ip=100)
    for _ in range(2):
        for _ in range(5):
            await attempt(box)
        box.later(300)
    box.later(86_400)
    for _ in range(5):
        await attempt(box)
    locked = await attempt(box)
    assert locked is not None and locked.retry_after == 60


async def test_wrong_pins_count_like_wrong_codes(box: Box) -> None:
    issued = (await box.batch(pin=True)).vouchers[0]
    bad = "000000" if issued.pin != "000000" else "111111"
    for _ in range(5):
        error = await attempt(box, issued.code, pin=bad)
        assert error is not None and error.reason == "wrong_pin"
    locked = await attempt(box, issued.code, pin=issued.pin)
    assert locked is not None and locked.reason == "locked_out"


async def test_per_mac_per_ip_and_everyone_rate_limits(box: Box) -> None:
    box.vouchers.guard.limits = GuardLimits(per_mac=3, per_ip=5, per_source=100, everyone=7)
    good = (await box.batch(count=2)).vouchers
    for _ in range(3):
        error = await attempt(box, good[0].code)  # not failures: a device redeeming again and again
        assert error is None
    limited = await attempt(box, good[0].code)
    assert limited is not None and limited.reason == "rate_limited" and limited.status_code == 429
    assert 0 < (limited.retry_after or 0) <= 600
    # Refused attempts count too. Same IP, another MAC: one more allowed per IP, then the IP is over.
    assert (await attempt(box, good[1].code, PHONE_B, ip=IPS[PHONE_A])) is None
    over_ip = await attempt(box, good[1].code, PHONE_B, ip=IPS[PHONE_A])
    assert over_ip is not None and over_ip.reason == "rate_limited"
    # Everyone together: the seventh attempt of the window passes, the eighth does not.
    assert (await attempt(box, good[1].code, PHONE_B)) is None
    flood = await attempt(box, good[1].code, "AA:BB:CC:00:00:07", ip="10.5.50.77")
    assert flood is not None and flood.reason == "rate_limited"
    [event] = [e for e in box.security_events() if e.kind == "voucher_flood"]
    assert event.severity == "critical"
    box.later(601)
    assert (await attempt(box, good[1].code, PHONE_B)) is None


async def test_a_source_inventing_macs_and_ips_is_locked_out_by_its_address(box: Box) -> None:
    box.vouchers.guard.limits = GuardLimits(source_failures_before_lockout=4)
    for n in range(4):
        error = await attempt(
            box, mac=f"AA:BB:CC:00:01:{n:02X}", ip=f"10.5.51.{n + 1}", source_ip="198.51.100.7"
        )
        assert error is not None and error.reason == "unknown_code"
    locked = await attempt(box, mac="AA:BB:CC:00:01:99", ip="10.5.51.99", source_ip="198.51.100.7")
    assert locked is not None and locked.reason == "locked_out"
    [event] = box.security_events()
    assert "source 198.51.100.7" in event.detail and event.ip == "198.51.100.7"


async def test_refused_attempts_are_logged_with_why(box: Box) -> None:
    box.vouchers.guard.limits = GuardLimits(per_mac=2)
    await attempt(box)
    await attempt(box)
    await attempt(box)
    reasons = [
        r["reason"]
        for r in await VoucherAttempt.select(VoucherAttempt.reason).order_by(VoucherAttempt.id).run()
    ]
    assert reasons == ["unknown_code", "unknown_code", "rate_limited"]


@pytest.mark.parametrize(
    ("code", "mac", "ip", "field", "reason"),
    [
        ("", PHONE_A, "10.5.50.11", "code", "invalid_input"),
        ("0OIL1-0OIL1", PHONE_A, "10.5.50.11", "code", "malformed_code"),
        ("ABCDE-FGHJK", "not-a-mac", "10.5.50.11", "mac", "invalid_input"),
        ("ABCDE-FGHJK", PHONE_A, "10.5.50.300", "ip", "invalid_input"),
    ],
)
async def test_bad_input_names_the_field_and_is_not_a_guess(
    box: Box, code: str, mac: str, ip: str, field: str, reason: str
) -> None:
    for _ in range(6):
        error = await attempt(box, code, mac, ip=ip)
        assert error is not None and error.field == field and error.reason == reason
        assert error.status_code == 400
    assert box.security_events() == []
