"""What the admin sees of payments: the trail of one payment, flags, pages, re-verify."""

from __future__ import annotations

import pytest
from conftest import PHONE, Box

from hotspot.admin.payments import PaymentFilter, PaymentList, PaymentQueryError
from hotspot.contracts import CallbackReport, GatewayResult, Money, PaymentStatus


def forged(reference: str, amount: int) -> CallbackReport:
    claimed = GatewayResult(
        PaymentStatus.SUCCEEDED, reference=reference, amount=Money(amount, "KES"), receipt="TX1", payer=PHONE
    )
    return CallbackReport("scripted", b'{"forged": 1}', "203.0.113.9", reference, claimed)


async def test_one_payment_shows_its_whole_trail_and_reverify_settles_it(box: Box) -> None:
    listing = PaymentList(box.hotspot.db, box.hotspot.payments)
    first = await box.buy()
    [waiting] = await listing.in_flight()
    assert waiting.state == "pending" and waiting.package == "1 hour" and waiting.amount == 2000

    assert await box.hotspot.payments.callback(forged("ref-1", 1)) == "mismatch"
    [row] = (await listing.page(PaymentFilter(flagged=True))).rows
    assert row.id == waiting.id and row.suspicious == 1 and row.flagged

    box.gateway.succeed(Money(2000, "KES"), receipt="TC17H2Q9XZ")
    assert await listing.reverify(waiting.id) == "succeeded"
    assert await listing.reverify(waiting.id) == "succeeded"  # settled: answered without asking again
    detail = await listing.detail(waiting.id)
    assert detail is not None
    assert detail.payment.state == "succeeded" and detail.payment.receipt == "TC17H2Q9XZ"
    assert detail.order["id"] == first.order_id and detail.order["state"] == "paid"
    assert [c["verdict"] for c in detail.callbacks] == ["mismatch"]
    assert detail.callbacks[0]["body"] == '{"forged": 1}'
    assert detail.payment.checks == 1
    assert await listing.in_flight() == []
    assert await listing.detail("nope") is None


async def test_pages_filters_and_failed_ones_flagged(box: Box) -> None:
    listing = PaymentList(box.hotspot.db, box.hotspot.payments)
    box.gateway.start = GatewayResult(PaymentStatus.FAILED, reason="declined", message="no such account")
    await box.buy(phone="0799 000 111")
    box.gateway.start = None
    for n in range(3):
        box.later(1)
        await box.buy(phone=f"0711 222 33{n}", mac=f"AA:BB:CC:00:01:0{n}")
    everything = await listing.page(limit=2)
    assert len(everything.rows) == 2 and everything.next_cursor
    rest = await listing.page(after=everything.next_cursor, limit=2)
    ids = [r.id for r in everything.rows + rest.rows]
    assert len(ids) == len(set(ids)) == 4 and rest.next_cursor is None
    [failed] = (await listing.page(PaymentFilter(flagged=True))).rows
    assert failed.state == "failed" and failed.reason == "declined" and failed.flagged
    [by_phone] = (await listing.page(PaymentFilter(phone="0711222332"))).rows
    assert by_phone.phone == "254711222332" and by_phone.mac == "AA:BB:CC:00:01:02"
    assert len((await listing.page(PaymentFilter(state="pending", gateway="scripted"))).rows) == 3
    for kw, field in (({"state": "lost"}, "state"), ({"phone": "12"}, "phone")):
        with pytest.raises(PaymentQueryError) as caught:
            await listing.page(PaymentFilter(**kw))  # type: ignore[arg-type]
        assert caught.value.field == field
    with pytest.raises(PaymentQueryError):
        await listing.page(after="x")
