"""A discounted price through the real M-Pesa plugin and the Daraja simulator: the promo lands
on whole shillings (M-Pesa's declared step), the STK push asks exactly the quoted total, and the
promo use is counted once the STK query confirms it. Both backends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from billing_support import ShopPlugin, TillGateway
from fakes import Clock

from hotspot.app import create_app
from hotspot.billing.promos import PromoSpec
from hotspot.billing.tables import PromoUse
from hotspot.config import PluginSettings
from hotspot.contracts import ChargeLimits, Money
from hotspot.payments import BuyRequest, CheckoutError
from hotspot.plugins import discover, settings_models
from hotspot.runtime import Hotspot
from hotspot.sim.daraja import SANDBOX_PASSKEY, DarajaSimulator

PHONE = "254712345678"


class RouterOnly(ShopPlugin):
    """The shop's fake router driver, without its gateway: M-Pesa is the only way to pay."""

    def register_payment_gateways(self, config: PluginSettings) -> list[Any]:  # type: ignore[override]
        return []


@pytest.fixture
async def mpesa_box(make_settings: Any) -> AsyncIterator[tuple[Hotspot, Clock, DarajaSimulator]]:
    clock = Clock(time.time())
    daraja = DarajaSimulator("ck", "cs", "174379", SANDBOX_PASSKEY, clock=clock)
    await daraja.start("127.0.0.1", 0)
    settings = make_settings(
        {
            "jobs": {"enabled": False},
            "packages": [{"name": "1 hour", "price": ["20 KES", "0.15 USD"], "duration": "1h"}],
            "routers": [
                {"name": "cafe", "driver": "fake", "host": "10.5.50.1", "username": "a", "password": "b"}
            ],
            "plugins": {
                "mpesa": {
                    "enabled": True,
                    "environment": "custom",
                    "base_url": daraja.base_url,
                    "shortcode": "174379",
                    "passkey": SANDBOX_PASSKEY,
                    "consumer_key": "ck",
                    "consumer_secret": "cs",
                }
            },
        },
        plugins=settings_models(discover()),
    )
    app = create_app(
        settings, extra_plugins=[("routers", RouterOnly(TillGateway()), PluginSettings(enabled=True))]
    )
    hotspot: Hotspot = app.state.hotspot
    for part in (hotspot.jobs, hotspot.grants, hotspot.payments, hotspot.checkout):
        part.clock = clock
    await hotspot.open()
    try:
        yield hotspot, clock, daraja
    finally:
        await hotspot.close()
        await daraja.stop()


async def test_a_promo_through_mpesa_charges_whole_shillings(
    mpesa_box: tuple[Hotspot, Clock, DarajaSimulator],
) -> None:
    hotspot, clock, daraja = mpesa_box
    checkout = hotspot.checkout
    assert checkout.pricing.currencies.limits("KES") == ChargeLimits(
        step=100, minimum=100, maximum=25_000_000
    )
    assert await checkout.currencies() == ["KES"]  # M-Pesa takes KES only, whatever the packages say
    await checkout.pricing.promos.create(PromoSpec(code="EIGHTH", percent_bp=1250))
    [package] = await hotspot.catalog.visible()
    # 12.5% of KES 20 = KES 2.50 -> KES 3 off: KES 17, never KES 17.50 (M-Pesa would refuse it)
    quote = await checkout.quote(package.id, promo="EIGHTH")
    assert (quote.promo and quote.promo.amount, quote.total) == (Money(300, "KES"), Money(1700, "KES"))
    with pytest.raises(CheckoutError) as err:
        await checkout.quote(package.id, "USD")
    assert err.value.field == "currency"

    daraja.set_outcome(PHONE, "success", after_seconds=5)
    status = await checkout.buy(BuyRequest(package.id, "0712345678", promo="eighth"))
    assert status.state == "waiting" and status.amount == Money(1700, "KES")
    [push] = daraja.pushes.values()
    assert push.amount == 17
    for _ in range(10):  # the box polls the STK query until M-Pesa says paid
        clock.now += 5
        await daraja.tick()
        while await hotspot.jobs.run_due(limit=50):
            pass
        if (await checkout.status(status.order_id)).state != "waiting":
            break
    assert (await checkout.status(status.order_id)).state in ("activating", "online")
    use = await PromoUse.select().where(PromoUse.order_id == status.order_id).first().run()
    assert use is not None and (use["state"], use["discount"]) == ("used", 300)
