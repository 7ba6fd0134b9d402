"""The overview's snapshot on both backends: online per router and site, money, in flight, alerts."""

from __future__ import annotations

from conftest import PHONE, Box

from hotspot.admin.payments import PaymentList
from hotspot.admin.snapshot import OverviewService
from hotspot.analytics.reports import Reports
from hotspot.contracts import CallbackReport, GatewayResult, Money, PaymentStatus


def overview(box: Box) -> OverviewService:
    hotspot = box.hotspot
    return OverviewService(
        hotspot.routers,
        Reports(hotspot.db, hotspot.settings.business.timezone),
        PaymentList(hotspot.db, hotspot.payments),
        hotspot.accounts.security_log,
    )


async def test_snapshot_follows_a_sale_from_prompt_to_online(box: Box) -> None:
    await box.hotspot.routers.check()
    service = overview(box)
    before = await service.snapshot()
    assert before.online == 0 and before.in_flight == [] and before.revenue[1] == {}
    [card] = before.routers
    assert (card.name, card.site, card.status, card.online) == ("cafe", "default", "ok", 0)

    await box.buy()
    waiting = await service.snapshot()
    assert [p.state for p in waiting.in_flight] == ["pending"]

    forged = GatewayResult(PaymentStatus.SUCCEEDED, reference="ref-9", amount=Money(2000, "KES"), payer=PHONE)
    box.hotspot.payments.emit = box.hotspot.emit  # the real fan-out: stored in the security log
    await box.hotspot.payments.callback(CallbackReport("scripted", b"{}", "203.0.113.9", "ref-9", forged))
    box.gateway.succeed(Money(2000, "KES"), receipt="TC17H2Q9XZ")
    await box.hotspot.payments.check((await service.payments.page()).rows[0].id)
    await box.settle()
    box.later(5)
    await box.hotspot.usage.run()

    after = await service.snapshot()
    assert after.online == 1 and after.sites == {"default": 1}
    assert after.routers[0].online == 1
    assert after.in_flight == []
    assert after.revenue[1] == {"KES": 2000} and after.revenue[30] == {"KES": 2000}
    assert [e["kind"] for e in after.security] == ["payment_callback"]
    assert after.routers_down == []
