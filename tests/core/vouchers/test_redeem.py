"""Redeeming vouchers through the whole core and the real MikroTik driver on a simulated router
(both backends): every state transition, expiry, device limits at once and in total, MAC
binding, revoke, PINs, the attempt log and the per-voucher usage history."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from voucher_support import IPS, LOGIN_URL, PHONE_A, PHONE_B, PHONE_C, Box

from hotspot.access.tables import Grant, GrantState
from hotspot.payments.tables import Order
from hotspot.vouchers import VoucherError, VoucherState
from hotspot.vouchers.states import TRANSITIONS, InvalidVoucherTransition, check_transition
from hotspot.vouchers.tables import Voucher, VoucherAttempt, VoucherDevice


async def refused(box: Box, code: str, mac: str = PHONE_A, **kw: Any) -> VoucherError:
    with pytest.raises(VoucherError) as caught:
        await box.redeem(code, mac, **kw)
    return caught.value


async def grant_of(code: str) -> dict[str, Any]:
    voucher = await Voucher.select().where(Voucher.code == code).first().run()
    assert voucher is not None and voucher["grant_id"] is not None
    row = await Grant.select().where(Grant.id == voucher["grant_id"]).first().run()
    assert row is not None
    return dict(row)


async def state_of(box: Box, code: str) -> str:
    return (await box.vouchers.get(code)).state


# --- the state machine ------------------------------------------------------------------------


def test_state_machine_allows_exactly_the_documented_moves() -> None:
    allowed = {(a, b) for a, moves in TRANSITIONS.items() for b in moves}
    assert allowed == {
        ("unused", "active"),
        ("unused", "expired"),
        ("unused", "revoked"),
        ("active", "exhausted"),
        ("active", "revoked"),
        ("exhausted", "active"),
        ("exhausted", "revoked"),
        ("expired", "revoked"),
    }
    for state in VoucherState.ALL:
        for target in VoucherState.ALL:
            if (state, target) in allowed:
                check_transition(state, target)
            else:
                with pytest.raises(InvalidVoucherTransition):
                    check_transition(state, target)


# --- unused -> active: the first redeem --------------------------------------------------------


async def test_first_redeem_puts_the_device_online_and_answers_the_order_shape(box: Box) -> None:
    batch = await box.batch()
    code = batch.vouchers[0].code
    status = await box.redeem(code.lower()[:5] + "-" + code.lower()[5:])  # as typed: case and dashes
    assert status.state == "activating" and status.order_id.startswith("v")
    assert status.package == "1 hour" and status.amount.amount == 2000 and status.phone is None
    assert status.payment_id is None and status.seconds_total == 3600
    voucher = await box.vouchers.get(code)
    assert voucher.state == VoucherState.ACTIVE and voucher.devices_used == 1 and voucher.first_used_at

    await box.settle()
    grant = await grant_of(code)
    assert grant["source"] == "voucher" and grant["source_ref"] == str(voucher.id)
    assert grant["state"] == GrantState.ACTIVE and grant["devices"] == 1
    assert grant["mac"] is None  # a code other devices may use later is not bound on the router
    assert box.online() == {PHONE_A: grant["username"]}
    status = await box.hotspot.checkout.status(status.order_id)
    assert status.state == "online" and status.remaining_seconds == 3600 and status.login is None
    # The portal finds it when the device comes back, like a purchase.
    again = await box.hotspot.checkout.for_device(PHONE_A)
    assert again is not None and again.order_id == status.order_id
    order = await Order.select().where(Order.id == status.order_id).first().run()
    assert order is not None and order["state"] == "voucher" and order["grant_id"] == grant["id"]


async def test_a_returning_device_reuses_its_order_and_the_vouchers_grant(box: Box) -> None:
    code = (await box.batch()).vouchers[0].code
    first = await box.redeem(code)
    await box.settle()
    box.router.remove_host(PHONE_A)  # walked away: the session ends
    box.router.add_host(PHONE_A, IPS[PHONE_A])
    box.later(60)
    again = await box.redeem(code)
    assert again.order_id == first.order_id and again.state == "online"
    assert PHONE_A in box.online()
    assert await Grant.count().run() == 1
    assert (await box.vouchers.get(code)).devices_used == 1


async def test_a_single_device_voucher_is_bound_on_the_router_and_logged_in_by_the_grant(box: Box) -> None:
    code = (await box.batch(devices_total=1)).vouchers[0].code
    await box.redeem(code)
    await box.settle()
    grant = await grant_of(code)
    assert grant["mac"] == PHONE_A and grant["ip"] == IPS[PHONE_A]
    user = box.router.users[grant["username"]]
    assert user["mac-address"] == PHONE_A
    assert box.online() == {PHONE_A: grant["username"]}


# --- device limits ------------------------------------------------------------------------------


async def test_devices_at_once_is_the_routers_shared_users(box: Box) -> None:
    code = (await box.batch("1 day")).vouchers[0].code  # the package allows 2 devices at once
    await box.redeem(code, PHONE_A)
    await box.settle()
    second = await box.redeem(code, PHONE_B)
    assert second.state == "online"  # the grant is live: logged in at once
    grant = await grant_of(code)
    assert box.online() == {PHONE_A: grant["username"], PHONE_B: grant["username"]}
    profile = next(p for p in box.router.profiles.values() if p["name"].startswith("hs-1-day"))
    assert profile["shared-users"] == "2"

    third = await refused(box, code, PHONE_C)
    assert third.reason == "device_limit" and third.status_code == 409
    assert "2 devices at once" in third.message
    assert PHONE_C not in box.online()
    assert (await box.vouchers.get(code)).devices_used == 2  # a refused device does not count

    box.router.remove_host(PHONE_A)  # one leaves: the third may join
    status = await box.redeem(code, PHONE_C)
    assert status.state == "online" and PHONE_C in box.online()
    assert (await box.vouchers.get(code)).devices_used == 3


async def test_devices_in_total_counts_distinct_macs(box: Box) -> None:
    code = (await box.batch(devices_total=2)).vouchers[0].code
    await box.redeem(code, PHONE_A)
    await box.settle()
    busy = await refused(box, code, PHONE_B)
    assert busy.reason == "device_limit"  # one at once: A is online
    box.router.remove_host(PHONE_A)
    await box.redeem(code, PHONE_B)
    assert PHONE_B in box.online()
    box.router.remove_host(PHONE_B)
    over = await refused(box, code, PHONE_C)
    assert over.reason == "devices_total_reached" and over.status_code == 409
    assert "2 devices" in over.message
    box.router.add_host(PHONE_A, IPS[PHONE_A])
    assert (await box.redeem(code, PHONE_A)).state == "online"  # a known device is welcome back
    devices = await VoucherDevice.select(VoucherDevice.mac).order_by(VoucherDevice.id).run()
    assert [d["mac"] for d in devices] == [PHONE_A, PHONE_B]


async def test_mac_binding_refuses_every_other_device(box: Box) -> None:
    code = (await box.batch(bind_mac=True)).vouchers[0].code
    await box.redeem(code, PHONE_A)
    await box.settle()
    voucher = await box.vouchers.get(code)
    assert voucher.bound_mac == PHONE_A
    other = await refused(box, code, PHONE_B)
    assert other.reason == "bound_to_other_device" and other.status_code == 403
    assert "locked to the device that first used it" in other.message
    box.router.remove_host(PHONE_A)
    assert (await refused(box, code, PHONE_B)).reason == "bound_to_other_device"  # even when A is away
    box.router.add_host(PHONE_A, IPS[PHONE_A])
    assert (await box.redeem(code, PHONE_A)).state == "online"


async def test_two_devices_racing_for_a_bound_voucher_one_wins(box: Box) -> None:
    code = (await box.batch(bind_mac=True)).vouchers[0].code
    results = await asyncio.gather(
        box.redeem(code, PHONE_A), box.redeem(code, PHONE_B), return_exceptions=True
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, VoucherError)]
    assert len(won) == 1 and len(lost) == 1 and lost[0].reason == "bound_to_other_device"
    assert await Grant.count().run() == 1 and await VoucherDevice.count().run() == 1


# --- expiry -------------------------------------------------------------------------------------


async def test_an_unused_voucher_expires_on_its_date(box: Box) -> None:
    batch = await box.batch(count=2, expires_at=box.clock.now + 3600)
    first, second = (v.code for v in batch.vouchers)
    box.later(3601)
    late = await refused(box, first)
    assert late.reason == "expired" and late.status_code == 409
    assert await state_of(box, first) == VoucherState.EXPIRED
    row = await Voucher.select().where(Voucher.code == second).first().run()
    assert row is not None and row["state"] == VoucherState.UNUSED
    await box.vouchers.sweep()  # the recurring job does the rest without anyone asking
    row = await Voucher.select().where(Voucher.code == second).first().run()
    assert row is not None and row["state"] == VoucherState.EXPIRED and row["end_reason"] == "expiry"


async def test_a_used_voucher_runs_its_package_past_the_expiry_date(box: Box) -> None:
    code = (await box.batch(expires_at=box.clock.now + 600)).vouchers[0].code
    await box.redeem(code)
    await box.settle()
    box.later(1800)  # past the date, within the hour bought
    await box.vouchers.sweep()
    assert await state_of(box, code) == VoucherState.ACTIVE
    assert (await box.redeem(code)).state == "online"


# --- active -> exhausted -> active ------------------------------------------------------------


async def test_a_voucher_is_exhausted_when_its_time_is_up_and_lives_again_when_topped_up(box: Box) -> None:
    code = (await box.batch()).vouchers[0].code
    await box.redeem(code)
    await box.settle()
    box.later(3601)
    await box.hotspot.usage.run()  # ends the grant; the grant's change moves the voucher
    voucher = await box.vouchers.get(code)
    assert voucher.state == VoucherState.EXHAUSTED and voucher.end_reason == "time"
    used = await refused(box, code)
    assert used.reason == "exhausted" and used.status_code == 409
    await box.settle()
    assert PHONE_A not in box.online()

    await box.hotspot.grants.extend(int(voucher.grant_id or 0), seconds=600)
    await box.settle()
    assert await state_of(box, code) == VoucherState.ACTIVE
    assert (await box.redeem(code)).state == "online"


async def test_exhausted_is_seen_even_when_the_grants_change_was_not_heard(box: Box) -> None:
    code = (await box.batch()).vouchers[0].code
    await box.redeem(code)
    await box.settle()
    box.hotspot.grants.on_change = None  # another process ended it, say
    box.later(3601)
    await box.hotspot.usage.run()
    row = await Voucher.select().where(Voucher.code == code).first().run()
    assert row is not None and row["state"] == VoucherState.ACTIVE  # not heard yet
    await box.vouchers.sweep()
    row = await Voucher.select().where(Voucher.code == code).first().run()
    assert row is not None and row["state"] == VoucherState.EXHAUSTED and row["end_reason"] == "time"


# --- revoked ------------------------------------------------------------------------------------


async def test_revoking_an_active_voucher_disconnects_its_devices(box: Box) -> None:
    code = (await box.batch("1 day")).vouchers[0].code
    await box.redeem(code, PHONE_A)
    await box.settle()
    await box.redeem(code, PHONE_B)
    grant = await grant_of(code)
    assert set(box.online()) == {PHONE_A, PHONE_B}
    view = await box.vouchers.revoke(code)
    assert view.state == VoucherState.REVOKED and view.end_reason == "revoked"
    assert (await grant_of(code))["state"] == GrantState.REVOKED
    await box.settle()  # the durable revoke job reaches the router
    assert box.online() == {} and grant["username"] not in box.router.users
    gone = await refused(box, code)
    assert gone.reason == "revoked" and gone.status_code == 409
    status = await box.hotspot.checkout.for_device(PHONE_A)
    assert status is None  # nothing left to greet the device with


async def test_revoking_unused_and_whole_batches_and_twice(box: Box) -> None:
    batch = await box.batch(count=3)
    one, two, three = (v.code for v in batch.vouchers)
    assert (await box.vouchers.revoke(one)).state == VoucherState.REVOKED
    assert (await box.vouchers.revoke(one)).state == VoucherState.REVOKED  # idempotent
    await box.redeem(two)
    assert await box.vouchers.revoke_batch(batch.batch.id) == 2
    assert {await state_of(box, c) for c in (one, two, three)} == {VoucherState.REVOKED}
    assert (await refused(box, three)).reason == "revoked"
    with pytest.raises(VoucherError) as missing:
        await box.vouchers.revoke("NOPE-NOPE")
    assert missing.value.status_code == 404


async def test_revoking_an_expired_voucher_and_a_grant_revoked_elsewhere(box: Box) -> None:
    batch = await box.batch(count=2, expires_at=box.clock.now + 60)
    old, used = (v.code for v in batch.vouchers)
    await box.redeem(used)
    box.later(120)
    assert await state_of(box, old) == VoucherState.EXPIRED
    assert (await box.vouchers.revoke(old)).state == VoucherState.REVOKED
    await box.hotspot.grants.revoke((await grant_of(used))["id"], "refund")  # an operator, on the grant
    voucher = await box.vouchers.get(used)
    assert voucher.state == VoucherState.REVOKED and voucher.end_reason == "refund"


# --- PINs ----------------------------------------------------------------------------------------


async def test_a_voucher_with_a_pin_needs_the_right_one(box: Box) -> None:
    batch = await box.batch(pin=True)
    issued = batch.vouchers[0]
    assert issued.pin is not None and len(issued.pin) == 6 and issued.pin.isdigit()
    row = await Voucher.select(Voucher.pin_hash).where(Voucher.code == issued.code).first().run()
    assert row is not None and row["pin_hash"] and issued.pin not in row["pin_hash"]
    missing = await refused(box, issued.code)
    assert missing.reason == "pin_required" and missing.field == "pin"
    wrong = await refused(box, issued.code, pin="000000" if issued.pin != "000000" else "111111")
    assert wrong.reason == "wrong_pin" and wrong.field == "pin" and wrong.status_code == 400
    assert await state_of(box, issued.code) == VoucherState.UNUSED
    assert (await box.redeem(issued.code, pin=f" {issued.pin} ")).state == "activating"


# --- logging in when the router will not ---------------------------------------------------------


async def test_a_device_the_router_cannot_log_in_gets_the_routers_login_page(box: Box) -> None:
    stranger = "AA:BB:CC:00:00:09"  # not (yet) in the router's host list
    code = (await box.batch("1 day")).vouchers[0].code
    status = await box.redeem(code, stranger, ip="10.5.50.99")
    await box.settle()  # the grant goes on the router, then the box tries the login
    status = await box.hotspot.checkout.status(status.order_id)
    assert status.state == "online" and status.login is not None
    grant = await grant_of(code)
    assert status.login.username == grant["username"] and status.login.link_login_only == LOGIN_URL
    device = await VoucherDevice.select().where(VoucherDevice.mac == stranger).first().run()
    assert device is not None and not device["needs_login"]
    assert "not found" in (device["login_error"] or "")
    # A second device on the live grant: logged in on the spot.
    assert (await box.redeem(code, PHONE_B)).login is None and PHONE_B in box.online()


# --- the attempt log and the usage history --------------------------------------------------------


async def test_every_attempt_is_logged_and_the_history_has_sessions_and_usage(box: Box) -> None:
    code = (await box.batch()).vouchers[0].code
    await refused(box, "ABCDE-FGHJK")
    await box.redeem(code, PHONE_A)
    await box.settle()
    await refused(box, code, PHONE_B)
    box.router.set_demand(PHONE_A, 2_000_000, 500_000)
    box.later(600)
    await box.hotspot.usage.run()
    attempts = [
        (a["code_tried"], a["outcome"], a["reason"], a["mac"], a["ip"], a["router"], a["source_ip"])
        for a in await VoucherAttempt.select().order_by(VoucherAttempt.id).run()
    ]
    assert attempts == [
        ("ABCDEFGHJK", "refused", "unknown_code", PHONE_A, IPS[PHONE_A], "cafe", "10.5.50.1"),
        (code, "accepted", "", PHONE_A, IPS[PHONE_A], "cafe", "10.5.50.1"),
        (code, "refused", "device_limit", PHONE_B, IPS[PHONE_B], "cafe", "10.5.50.1"),
    ]
    history = await box.vouchers.history(code)
    assert [a["reason"] for a in history.attempts] == ["", "device_limit"]
    [session] = history.sessions
    assert session["mac"] == PHONE_A and session["router"] == "cafe" and session["ended_at"] is None
    assert session["bytes_out"] > 0 and session["uptime_seconds"] >= 590
    assert history.bytes_out == session["bytes_out"] and history.bytes_in == session["bytes_in"]
    assert history.seconds_online >= 590
    assert [d["mac"] for d in history.devices] == [PHONE_A]
