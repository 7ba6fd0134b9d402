"""Moving a paid session to another device with a code sent to the phone that paid, on both
backends, through the real MikroTik driver on a simulated router."""

from __future__ import annotations

import pytest
from customer_support import DEVICES, NEW, OLD, PHONE, THIRD, Box, on

from hotspot.access.tables import Grant
from hotspot.customers import MoveError, MoveRequest
from hotspot.customers.tables import CodeState, MoveCode
from hotspot.payments.tables import Order


async def test_the_code_moves_the_session_to_the_new_device(box: Box) -> None:
    grant_id = await box.paid()
    user = box.online()[OLD]
    sent = await box.hotspot.customers.send_move_code("0712 345 678", on(NEW))
    assert sent.phone == "2547•••••678"
    [sms] = box.notifier.sent
    assert sms.to == ("+254712345678",) and sms.kind == "customer_move_code"
    assert "Mama Mboga Cafe WiFi" in sms.body and "5 minutes" in sms.body
    code = box.last_code()

    async def row() -> dict[str, object]:
        found = await MoveCode.select().where(MoveCode.challenge == sent.challenge).first().run()
        assert found is not None
        return dict(found)

    stored = await row()
    assert code not in str(stored.values()) and len(str(stored["code_hash"])) == 64  # never in clear

    order_id = await box.hotspot.customers.move_here(sent.challenge, code[:3] + " " + code[3:], on(NEW))
    assert order_id == "o-paid-1"
    await box.settle()
    # On the router: the user is bound to the new device, which is online; the old one is not.
    assert box.online() == {NEW: user}
    assert box.router.users[user]["mac-address"] == NEW
    grant = await Grant.select().where(Grant.id == grant_id).first().run()
    assert grant is not None and grant["mac"] == NEW and grant["ip"] == DEVICES[NEW]
    assert grant["applied_version"] == grant["version"] and grant["last_error"] is None
    # The order follows the device (the portal greets NEW with it), the code row says from where.
    order = await Order.select().where(Order.id == order_id).first().run()
    assert order is not None and order["mac"] == NEW and order["ip"] == DEVICES[NEW]
    used = await row()
    assert used["state"] == CodeState.USED and used["from_mac"] == OLD and used["grant_id"] == grant_id
    # The customer, known by phone: both devices, one paid order, the live package on NEW.
    customer = await box.hotspot.customers.directory.find(PHONE)
    assert customer is not None and customer.paid_orders == 1
    assert {d.mac for d in customer.devices} == {OLD, NEW}
    assert customer.live is not None and customer.live.mac == NEW and customer.live.grant_id == grant_id
    # A code works once.
    with pytest.raises(MoveError) as again:
        await box.hotspot.customers.move_here(sent.challenge, code, on(NEW))
    assert again.value.reason == "used"


async def test_wrong_codes_count_down_then_the_code_dies(box: Box) -> None:
    await box.paid()
    sent = await box.hotspot.customers.send_move_code(PHONE, on(NEW))
    code = box.last_code()
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        with pytest.raises(MoveError) as refused:
            await box.hotspot.customers.move_here(sent.challenge, wrong, on(NEW))
        assert refused.value.reason == "wrong_code" and f"{left} tr" in refused.value.message
    with pytest.raises(MoveError) as dead:
        await box.hotspot.customers.move_here(sent.challenge, wrong, on(NEW))
    assert dead.value.reason == "failed"
    [event] = box.security_events()
    assert event.kind == "move_code_guessing" and event.subject == NEW
    # Even the right code is no good now.
    with pytest.raises(MoveError) as late:
        await box.hotspot.customers.move_here(sent.challenge, code, on(NEW))
    assert late.value.reason == "failed"
    assert box.online().keys() == {OLD}


async def test_a_code_expires_and_works_only_on_the_device_that_asked(box: Box) -> None:
    await box.paid()
    sent = await box.hotspot.customers.send_move_code(PHONE, on(NEW))
    code = box.last_code()
    with pytest.raises(MoveError) as elsewhere:
        await box.hotspot.customers.move_here(sent.challenge, code, on(THIRD))
    assert elsewhere.value.reason == "no_code"
    with pytest.raises(MoveError) as short:
        await box.hotspot.customers.move_here(sent.challenge, "123", on(NEW))
    assert short.value.reason == "malformed" and short.value.field == "code"
    box.later(5 * 60 + 1)
    with pytest.raises(MoveError) as expired:
        await box.hotspot.customers.move_here(sent.challenge, code, on(NEW))
    assert expired.value.reason == "expired" and "5 minutes" in expired.value.message
    # A newer code replaces the older one.
    first = await box.hotspot.customers.send_move_code(PHONE, on(NEW))
    first_code = box.last_code()
    second = await box.hotspot.customers.send_move_code(PHONE, on(NEW))
    with pytest.raises(MoveError) as replaced:
        await box.hotspot.customers.move_here(first.challenge, first_code, on(NEW))
    assert replaced.value.reason == "replaced"
    assert await box.hotspot.customers.move_here(second.challenge, box.last_code(), on(NEW)) == "o-paid-1"


async def test_codes_per_phone_and_per_device_are_limited(box: Box) -> None:
    await box.paid()
    customers = box.hotspot.customers
    for _ in range(3):
        await customers.send_move_code(PHONE, on(NEW))
    with pytest.raises(MoveError) as flood:
        await customers.send_move_code(PHONE, on(NEW))
    assert flood.value.reason == "rate_limited" and flood.value.status_code == 429
    assert flood.value.retry_after is not None and 0 < flood.value.retry_after <= 3600
    assert "Try again in" in flood.value.message
    assert len(box.notifier.sent) == 3
    with pytest.raises(MoveError):
        await customers.send_move_code(PHONE, on(NEW))
    events = [e.kind for e in box.security_events()]
    assert events == ["move_code_flood"]  # once per window, not per refusal
    box.later(3601)  # an hour later the limit has lifted (and the 1-hour package has ended)
    with pytest.raises(MoveError) as later:
        await customers.send_move_code(PHONE, on(NEW))
    assert later.value.reason == "no_package"
    # Asking about numbers that never paid counts against the device that asks.
    for n in range(5):
        with pytest.raises(MoveError) as unknown:
            await customers.send_move_code(f"07000000{n + 10}", on(THIRD))
        assert unknown.value.reason == "no_package" and unknown.value.status_code == 404
    with pytest.raises(MoveError) as probing:
        await customers.send_move_code("0700000020", on(THIRD))
    assert probing.value.reason == "rate_limited"


async def test_refusals_in_plain_words(box: Box) -> None:
    customers = box.hotspot.customers
    with pytest.raises(MoveError) as bad:
        await customers.send_move_code("0812", on(NEW))
    assert bad.value.field == "phone" and bad.value.reason == "invalid_input"
    with pytest.raises(MoveError) as none:
        await customers.send_move_code(PHONE, on(NEW))
    assert none.value.reason == "no_package" and "2547•••••678" in none.value.message
    await box.paid()
    with pytest.raises(MoveError) as here:
        await customers.send_move_code(PHONE, on(OLD))
    assert here.value.reason == "already_here"
    with pytest.raises(MoveError) as nowhere:
        await customers.send_move_code(PHONE, MoveRequest(mac=None, ip=DEVICES[NEW]))
    assert nowhere.value.reason == "no_device"
    # The SMS cannot go out: said so, and the code row does not count as sent.
    box.notifier.down = True
    with pytest.raises(MoveError) as down:
        await customers.send_move_code(PHONE, on(NEW))
    assert down.value.reason == "not_sent" and down.value.status_code == 503
    assert [r["state"] for r in await MoveCode.select(MoveCode.state).run()][-1] == CodeState.UNSENT


async def test_a_device_with_its_own_package_keeps_it(box: Box) -> None:
    await box.paid()
    await box.paid(mac=NEW, phone="254712000000", order_id="o-paid-2")
    sent = await box.hotspot.customers.send_move_code(PHONE, on(NEW))
    with pytest.raises(MoveError) as busy:
        await box.hotspot.customers.move_here(sent.challenge, box.last_code(), on(NEW))
    assert busy.value.reason == "device_busy"
    assert box.online().keys() == {OLD, NEW}


async def test_the_link_is_offered_only_with_a_notifier(box: Box) -> None:
    customers = box.hotspot.customers
    assert customers.otp_enabled  # default: on, a notifier is enabled
    customers.settings = customers.settings.model_copy(update={"otp_enabled": False})
    assert not customers.otp_enabled
    with pytest.raises(MoveError) as off:
        await customers.send_move_code(PHONE, on(NEW))
    assert off.value.reason == "disabled"
    customers.settings = customers.settings.model_copy(update={"otp_enabled": True})
    customers.notifiers = {}
    assert not customers.otp_enabled  # asked for, but nothing could carry the code
