"""The payment state machine and the money rules, through the whole core (both backends):
verify before granting, idempotent callbacks, one transaction from "paid" to "grant queued",
auto-extension, retries when the router or the gateway is away, rate limits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import MAC, PHONE, Box, ScriptedGateway, ScriptedPlugin, box_settings, use_clock

from hotspot.access.tables import Grant
from hotspot.app import create_app
from hotspot.config import PluginSettings
from hotspot.contracts import CallbackReport, GatewayResult, Money, PaymentStatus
from hotspot.payments import BuyRequest, CheckoutError
from hotspot.payments.states import FINAL, TRANSITIONS, InvalidTransition, PaymentState, check_transition
from hotspot.payments.tables import Order, Payment, PaymentCallback
from hotspot.runtime import Hotspot

KES20 = Money(2000, "KES")


def report(
    reference: str,
    *,
    status: PaymentStatus = PaymentStatus.SUCCEEDED,
    amount: Money | None = KES20,
    payer: str | None = PHONE,
    receipt: str | None = "TC17H2Q9XZ",
    **kw: Any,
) -> CallbackReport:
    claimed = GatewayResult(status, reference=reference, amount=amount, receipt=receipt, payer=payer)
    return CallbackReport("scripted", b'{"raw": true}', "196.201.214.200", reference, claimed, **kw)


async def payment_of(order_id: str) -> dict[str, Any]:
    row = await Payment.select().where(Payment.order_id == order_id).first().run()
    assert row is not None
    return dict(row)


async def grants() -> list[dict[str, Any]]:
    return [dict(r) for r in await Grant.select().run()]


# --- the state machine ------------------------------------------------------------------------


def test_state_machine_allows_exactly_the_documented_moves() -> None:
    allowed = {(a.value, b.value) for a, moves in TRANSITIONS.items() for b in moves}
    assert allowed == {
        ("created", "pending"),
        ("created", "failed"),
        ("pending", "succeeded"),
        ("pending", "failed"),
        ("pending", "cancelled"),
        ("pending", "expired"),
        ("expired", "succeeded"),
        ("failed", "pending"),  # only a start request that got no answer, adopted by its callback
    }
    assert {PaymentState.SUCCEEDED, PaymentState.CANCELLED} == FINAL
    for state in PaymentState:
        for target in PaymentState:
            if (state.value, target.value) in allowed:
                check_transition(state, target)
            else:
                with pytest.raises(InvalidTransition):
                    check_transition(state, target)


# --- the happy path ---------------------------------------------------------------------------


async def test_a_verified_payment_puts_the_device_online(box: Box) -> None:
    status = await box.buy()
    assert status.state == "waiting" and status.phone == "2547•••••678"
    assert status.amount == KES20 and status.package == "1 hour"
    [request] = box.gateway.requests
    assert request.amount == KES20 and request.phone == PHONE and request.description == "1 hour"
    payment = await payment_of(status.order_id)
    assert payment["state"] == "pending" and payment["reference"] == "ref-1"

    await box.settle()  # first check not due yet
    assert box.gateway.verifies == []
    box.later(10)
    await box.settle()  # due: still pending at the gateway
    assert box.gateway.verifies == ["ref-1"]
    assert (await box.status(status.order_id)).state == "waiting"

    box.gateway.succeed(receipt="TC17H2Q9XZ")
    box.later(5)
    await box.settle()
    status = await box.status(status.order_id)
    assert status.state == "online"
    assert status.remaining_seconds == 3600 and status.login is None  # logged in over the API
    [grant] = await grants()
    assert grant["source"] == "order" and grant["source_ref"] == status.order_id
    assert grant["mac"] == MAC and grant["router"] == "cafe"
    user = box.router.users[grant["username"]]
    assert user["mac-address"] == MAC
    assert [a["mac-address"] for a in box.router.active] == [MAC]
    payment = await payment_of(status.order_id)
    assert payment["state"] == "succeeded" and payment["receipt"] == "TC17H2Q9XZ"
    [(_hook, event)] = [e for e in box.events if e[0] == "payment_confirmed"]
    assert event.amount == KES20 and event.order_id == status.order_id

    box.later(600)
    assert (await box.status(status.order_id)).remaining_seconds == 3000


async def test_each_failure_is_explained_and_the_order_can_be_paid_again(box: Box) -> None:
    status = await box.buy()
    box.gateway.outcome = GatewayResult(PaymentStatus.FAILED, reason="insufficient_funds", message="balance")
    box.later(10)
    await box.settle()
    status = await box.status(status.order_id)
    assert (status.state, status.reason, status.retry) == ("failed", "insufficient_funds", True)

    box.gateway.outcome = GatewayResult(PaymentStatus.CANCELLED, reason="cancelled")
    status = await box.hotspot.checkout.retry(status.order_id, "0722 000 111")
    assert status.state == "waiting" and status.phone == "2547•••••111"
    assert box.gateway.requests[-1].phone == "254722000111"
    box.later(10)
    await box.settle()
    status = await box.status(status.order_id)
    assert (status.state, status.reason) == ("failed", "cancelled")
    with pytest.raises(CheckoutError) as err:
        await box.hotspot.checkout.retry(status.order_id, "12345")
    assert err.value.field == "phone"


async def test_an_unanswered_prompt_times_out_and_a_late_payment_still_counts(box: Box) -> None:
    status = await box.buy()
    for _ in range(60):
        box.later(5)
        await box.settle()
    status = await box.status(status.order_id)
    assert (status.state, status.reason) == ("failed", "timeout")
    assert (await payment_of(status.order_id))["state"] == "expired"
    assert await grants() == []

    box.gateway.succeed()  # the customer paid after we stopped waiting: the callback says so
    verdict = await box.hotspot.payments.callback(report("ref-1"))
    assert verdict == "accepted"
    await box.settle()
    assert (await box.status(status.order_id)).state == "online"


async def test_a_gateway_that_cannot_be_reached_fails_the_attempt_cleanly(box: Box) -> None:
    box.gateway.start = ConnectionError("no route to host")
    status = await box.buy()
    assert (status.state, status.reason) == ("failed", "error")
    assert (await payment_of(status.order_id))["message"] == "could not reach Scripted Pay"


async def test_a_prompt_whose_start_timed_out_is_adopted_when_its_paid_callback_comes(box: Box) -> None:
    """The start request timed out, but Daraja had sent the prompt and the customer paid: the
    callback (a reference the box never stored) is matched to the failed attempt by phone and
    amount, verified with the gateway, and the customer is online; nothing else is adopted."""
    box.gateway.start = TimeoutError("read timed out")
    status = await box.buy()
    assert (status.state, status.reason) == ("failed", "error")
    box.gateway.succeed(KES20)

    # not this one: another amount, another phone, or a callback saying it was not paid
    assert (
        await box.hotspot.payments.callback(report("ws_x1", amount=Money(5000, "KES"))) == "unknown_reference"
    )
    assert await box.hotspot.payments.callback(report("ws_x2", payer="254799999999")) == "unknown_reference"
    unpaid = report("ws_x3", status=PaymentStatus.CANCELLED, receipt=None)
    assert await box.hotspot.payments.callback(unpaid) == "unknown_reference"
    assert (await payment_of(status.order_id))["state"] == "failed"

    box.later(5)
    assert await box.hotspot.payments.callback(report("ws_lost")) == "accepted"
    await box.settle()
    assert (await box.status(status.order_id)).state == "online"
    payment = await payment_of(status.order_id)
    assert (payment["state"], payment["reference"], payment["receipt"]) == (
        "succeeded",
        "ws_lost",
        "TC17H2Q9XZ",
    )
    assert box.gateway.verifies[-1] == "ws_lost"  # believed only once the gateway agreed
    assert len(await grants()) == 1
    assert await box.hotspot.payments.callback(report("ws_lost")) == "duplicate"


async def test_a_lost_start_is_not_adopted_after_the_prompt_would_have_expired(box: Box) -> None:
    box.gateway.start = TimeoutError("read timed out")
    status = await box.buy()
    box.gateway.succeed(KES20)
    box.later(box.hotspot.settings.payments.timeout_seconds + 1)
    assert await box.hotspot.payments.callback(report("ws_late")) == "unknown_reference"
    assert (await payment_of(status.order_id))["state"] == "failed"
    assert await grants() == []


async def test_verify_errors_are_retried_until_the_gateway_answers(box: Box) -> None:
    status = await box.buy()
    box.gateway.outcome = TimeoutError("gateway timed out")
    box.later(10)
    await box.settle()
    assert (await box.status(status.order_id)).state == "waiting"
    box.gateway.succeed()
    box.later(400)
    await box.settle()
    assert (await box.status(status.order_id)).state == "online"


# --- callbacks --------------------------------------------------------------------------------


async def test_a_callback_is_believed_only_after_verify_agrees(box: Box) -> None:
    status = await box.buy()
    assert await box.hotspot.payments.callback(report("ref-1")) == "accepted"
    await box.settle()
    assert (await box.status(status.order_id)).state == "waiting"  # verify still says pending
    assert await grants() == []

    box.gateway.succeed()
    assert await box.hotspot.payments.callback(report("ref-1")) == "accepted"
    await box.settle()
    assert (await box.status(status.order_id)).state == "online"
    payment = await payment_of(status.order_id)
    assert payment["receipt"] == "TC17H2Q9XZ" and payment["payer"] == PHONE

    # Replays and duplicates are stored and grant nothing more.
    assert await box.hotspot.payments.callback(report("ref-1")) == "duplicate"
    assert await box.hotspot.payments.callback(report("ref-1")) == "duplicate"
    await box.settle()
    assert len(await grants()) == 1
    rows = await PaymentCallback.select().order_by(PaymentCallback.id).run()
    assert [r["verdict"] for r in rows] == ["accepted", "accepted", "duplicate", "duplicate"]
    assert all(r["body"] == '{"raw": true}' and r["payment_id"] == payment["id"] for r in rows)


@pytest.mark.parametrize(
    ("forged", "verdict"),
    [
        (report("ws_CO_unknown"), "unknown_reference"),
        (report("ref-1", amount=Money(100, "KES")), "mismatch"),
        (report("ref-1", amount=Money(2000, "USD")), "mismatch"),
        (report("ref-1", payer="254799999999"), "mismatch"),
        (CallbackReport("scripted", b"junk", "1.2.3.4", problem="wrong callback path"), "rejected"),
    ],
)
async def test_forged_callbacks_grant_nothing_and_are_reported(
    box: Box, forged: CallbackReport, verdict: str
) -> None:
    status = await box.buy()
    box.gateway.succeed()  # even if the customer really paid, a bad callback is not the proof
    assert await box.hotspot.payments.callback(forged) == verdict
    assert await grants() == []
    assert (await payment_of(status.order_id))["state"] == "pending"
    [row] = await PaymentCallback.select().run()
    assert row["verdict"] == verdict and row["body"] == forged.raw.decode()
    [(_, event)] = [e for e in box.events if e[0] == "security_event"]
    assert event.kind == "payment_callback" and event.severity == "warning"
    # the real outcome still arrives through polling
    box.later(10)
    await box.settle()
    assert (await box.status(status.order_id)).state == "online"


async def test_a_receipt_is_never_used_twice(box: Box) -> None:
    first = await box.buy()
    box.gateway.succeed()
    await box.hotspot.payments.callback(report("ref-1"))
    second = await box.buy(mac="AA:BB:CC:00:00:02", phone="0711 111 111")
    box.gateway.outcome = GatewayResult(PaymentStatus.PENDING)
    verdict = await box.hotspot.payments.callback(report("ref-2", payer="254711111111"))
    assert verdict == "receipt_reused"
    assert (await payment_of(second.order_id))["state"] == "pending"
    assert (await payment_of(first.order_id))["receipt"] == "TC17H2Q9XZ"


async def test_concurrent_confirmations_grant_once(box: Box) -> None:
    status = await box.buy()
    box.gateway.succeed()
    payment = await payment_of(status.order_id)
    results = await asyncio.gather(*(box.hotspot.payments.confirm(payment["id"]) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert len(await grants()) == 1
    verdicts = await asyncio.gather(*(box.hotspot.payments.callback(report("ref-1")) for _ in range(3)))
    assert set(verdicts) == {"duplicate"} and len(await grants()) == 1


# --- nothing lost -----------------------------------------------------------------------------


async def test_a_router_down_at_payment_time_gets_the_grant_later(box: Box) -> None:
    status = await box.buy()
    box.router.faults.drop("*")
    box.gateway.succeed()
    box.later(10)
    await box.settle()
    status = await box.status(status.order_id)
    assert status.state == "activating"  # paid; the router is not reachable yet
    [grant] = await grants()
    assert grant["state"] == "pending" and grant["last_error"]
    box.router.faults.clear()
    box.later(400)
    await box.hotspot.routers.check()  # the periodic health check sees it back
    await box.settle()
    assert (await box.status(status.order_id)).state == "online"
    assert [a["mac-address"] for a in box.router.active] == [MAC]


async def test_a_crash_inside_the_confirmation_leaves_the_payment_to_be_checked_again(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = await box.buy()
    box.gateway.succeed()
    payment = await payment_of(status.order_id)

    async def crash(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("power cut")

    monkeypatch.setattr(box.hotspot.grants, "request", crash)
    with pytest.raises(RuntimeError):
        await box.hotspot.payments.confirm(payment["id"])
    assert (await payment_of(status.order_id))["state"] == "pending"  # rolled back, all of it
    assert (await Order.select(Order.state).where(Order.id == status.order_id).first().run()) == {
        "state": "open"
    }
    monkeypatch.undo()
    box.later(10)
    await box.settle()
    assert (await box.status(status.order_id)).state == "online"


async def test_a_crash_after_confirmation_is_finished_by_the_next_process(
    box: Box, make_settings: Any
) -> None:
    status = await box.buy()
    box.gateway.succeed()
    payment = await payment_of(status.order_id)
    assert await box.hotspot.payments.confirm(payment["id"])
    await box.hotspot.close()  # the process dies before any job ran

    gateway = ScriptedGateway()
    app = create_app(
        box_settings(make_settings, box.router),
        extra_plugins=[("scripted", ScriptedPlugin(gateway), PluginSettings(enabled=True))],
    )
    again: Hotspot = app.state.hotspot
    use_clock(again, box.clock)
    await again.open()
    try:
        for _ in range(5):
            await again.jobs.run_due(limit=50)
        status = await again.checkout.status(status.order_id)
        assert status.state == "online"
        assert [a["mac-address"] for a in box.router.active] == [MAC]
        assert gateway.verifies == []  # confirmed before the crash: nothing asked again
    finally:
        await again.close()
        await box.hotspot.open()  # the fixture closes it


# --- auto-extension ---------------------------------------------------------------------------


async def test_buying_while_online_extends_the_same_grant(box: Box) -> None:
    first = await box.buy("1 hour")
    box.gateway.succeed()
    box.later(10)
    await box.settle()
    [grant] = await grants()
    expires = grant["expires_at"]
    box.later(600)

    second = await box.buy("1 day")
    box.later(10)
    await box.settle()
    [grant] = await grants()  # still one grant: extended, not a second session
    assert grant["expires_at"] == expires + 86400
    assert (grant["down_bps"], grant["up_bps"]) == (10_000_000, 5_000_000)  # the better package's speed
    assert grant["bytes_total"] is None  # an uncapped grant stays uncapped
    assert grant["devices"] == 2  # and its devices: two phones at once, on the router too
    profile = box.router.users[grant["username"]]["profile"]
    assert box.router.profiles[profile]["shared-users"] == "2"
    status = await box.status(second.order_id)
    assert status.state == "online" and status.remaining_seconds == int(expires + 86400 - box.clock.now)
    assert (await box.status(first.order_id)).state == "online"
    assert len(box.router.active) == 1


# --- rate limits and bad input ----------------------------------------------------------------


async def test_one_prompt_at_a_time_per_phone_and_hourly_limits(box: Box) -> None:
    await box.buy()
    with pytest.raises(CheckoutError) as err:
        await box.buy(mac="AA:BB:CC:00:00:09")
    assert (err.value.field, err.value.status_code) == ("phone", 429)

    box.gateway.outcome = GatewayResult(PaymentStatus.CANCELLED, reason="cancelled")
    for _ in range(4):
        box.later(10)
        await box.settle()
        status = await box.buy(mac="AA:BB:CC:00:00:09")
    box.later(10)
    await box.settle()
    with pytest.raises(CheckoutError) as err:  # five prompts to one phone within the hour
        await box.buy(mac="AA:BB:CC:00:00:08")
    assert "too many payment prompts" in err.value.message
    box.later(3600)
    assert (await box.buy(mac="AA:BB:CC:00:00:08")).state == "waiting"
    assert status.order_id


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"phone": "0812 345 678"}, "phone"),
        ({"phone": "+1 555 0100"}, "phone"),
        ({"promo": "FREE"}, "promo"),
        ({"currency": "USD"}, "currency"),
        ({"gateway": "bitcoin"}, "gateway"),
    ],
)
async def test_bad_input_names_the_field(box: Box, kw: dict[str, Any], field: str) -> None:
    with pytest.raises(CheckoutError) as err:
        await box.buy(**kw)
    assert err.value.field == field and err.value.status_code == 400
    assert await Payment.count().run() == 0


async def test_unknown_package_and_order(box: Box) -> None:
    with pytest.raises(CheckoutError) as err:
        await box.hotspot.checkout.buy(BuyRequest(999, "0712345678"))
    assert err.value.field == "package_id"
    with pytest.raises(CheckoutError) as err:
        await box.status("o-nope")
    assert err.value.status_code == 404


async def test_returning_device_finds_its_payment_then_its_session(box: Box) -> None:
    assert await box.hotspot.checkout.for_device(MAC) is None
    status = await box.buy()
    found = await box.hotspot.checkout.for_device(MAC)
    assert found is not None and (found.order_id, found.state) == (status.order_id, "waiting")
    box.gateway.succeed()
    box.later(10)
    await box.settle()
    found = await box.hotspot.checkout.for_device(MAC)
    assert found is not None and found.state == "online"
    assert await box.hotspot.checkout.for_device("AA:BB:CC:00:00:77") is None


async def test_device_login_is_handed_to_the_browser_when_the_router_refuses_it(box: Box) -> None:
    status = await box.buy(mac="AA:BB:CC:00:00:55", ip="10.5.50.55")  # the router has no such host
    box.gateway.succeed()
    box.later(10)
    await box.settle()
    status = await box.status(status.order_id)
    assert status.state == "online"
    assert status.login is not None and status.login.link_login_only == "http://10.5.50.1/login"
    grant = (await grants())[0]
    assert status.login.username == grant["username"] and status.login.dst == "http://example.com/"
    assert grant["last_error"].startswith("device login refused")
