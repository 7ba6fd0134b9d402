"""M-Pesa from the portal's order to the router, with the real plugin against the Daraja
simulator (real STK push, query and callback JSON through the real webhook route) and the
real MikroTik driver against the RouterOS simulator. Both storage backends."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import IP, MAC, PACKAGES, PHONE
from fakes import Clock

from hotspot.access.tables import Grant
from hotspot.app import create_app
from hotspot.payments import BuyRequest, OrderStatus
from hotspot.payments.tables import Payment, PaymentCallback
from hotspot.plugins import discover, settings_models
from hotspot.runtime import Hotspot
from hotspot.sim.daraja import SANDBOX_PASSKEY, DarajaSimulator
from hotspot.sim.routeros import RouterOSSimulator


@dataclass
class MBox:
    hotspot: Hotspot
    clock: Clock
    daraja: DarajaSimulator
    router: RouterOSSimulator

    async def settle(self, rounds: int = 8) -> None:
        for _ in range(rounds):
            if not await self.hotspot.jobs.run_due(limit=50):
                return

    async def later(self, seconds: float) -> None:
        """Time passes for the box and M-Pesa; whatever falls due at M-Pesa happens (callbacks)."""
        self.clock.now += seconds
        self.router.advance(seconds)
        await self.daraja.tick()
        await self.settle()

    async def buy(self, phone: str = "0712 345 678") -> OrderStatus:
        [offer] = [p for p in await self.hotspot.checkout.packages() if p.name == "1 hour"]
        return await self.hotspot.checkout.buy(
            BuyRequest(
                offer.id, phone, mac=MAC, ip=IP, router="cafe", link_login_only="http://10.5.50.1/login"
            )
        )

    async def status(self, order_id: str) -> OrderStatus:
        return await self.hotspot.checkout.status(order_id)

    async def verdicts(self) -> list[str]:
        rows = await PaymentCallback.select(PaymentCallback.verdict).order_by(PaymentCallback.id).run()
        return [r["verdict"] for r in rows]


async def open_box(make_settings: Any, *, public_url: str | None) -> AsyncIterator[MBox]:
    clock = Clock(time.time())
    transport = httpx.ASGITransport(app=None)  # type: ignore[arg-type]  # the app comes next
    daraja = DarajaSimulator("ck", "cs", "174379", SANDBOX_PASSKEY, clock=clock, callback_transport=transport)
    await daraja.start("127.0.0.1", 0)
    async with RouterOSSimulator("api", "pw", "cafe", clock=Clock(1000.0)) as router:
        router.add_host(MAC, IP)
        settings = make_settings(
            {
                "server": {"public_url": public_url},
                "jobs": {"enabled": False},
                "packages": PACKAGES,
                "routers": [
                    {
                        "name": "cafe",
                        "host": "127.0.0.1",
                        "port": router.port,
                        "username": "api",
                        "password": "pw",
                    }
                ],
                "plugins": {
                    "mikrotik": {"enabled": True, "connect_timeout": 1, "command_timeout": 1},
                    "mpesa": {
                        "enabled": True,
                        "environment": "custom",
                        "base_url": daraja.base_url,
                        "shortcode": "174379",
                        "passkey": SANDBOX_PASSKEY,
                        "consumer_key": "ck",
                        "consumer_secret": "cs",
                    },
                },
            },
            plugins=settings_models(discover()),
        )
        app = create_app(settings)
        transport.app = app
        hotspot: Hotspot = app.state.hotspot
        for part in (hotspot.jobs, hotspot.grants, hotspot.payments, hotspot.checkout):
            part.clock = clock
        await hotspot.open()  # in this loop (the callbacks arrive through ASGITransport, no lifespan)
        try:
            yield MBox(hotspot, clock, daraja, router)
        finally:
            await hotspot.close()
            await daraja.stop()


@pytest.fixture
async def box(make_settings: Any) -> AsyncIterator[MBox]:
    async for b in open_box(make_settings, public_url="https://box.example.net"):
        yield b


@pytest.fixture
async def nat_box(make_settings: Any) -> AsyncIterator[MBox]:
    """The usual appliance: behind NAT, no public URL at all."""
    async for b in open_box(make_settings, public_url=None):
        yield b


async def test_paying_puts_the_device_online_through_the_real_callback(box: MBox) -> None:
    box.daraja.set_outcome(PHONE, "success", after_seconds=6)
    status = await box.buy()
    [push] = box.daraja.pushes.values()
    assert push.amount == 20 and push.phone == PHONE
    assert push.callback_url.startswith("https://box.example.net/hooks/lnm/")
    assert (await box.status(status.order_id)).state == "waiting"

    await box.later(6)  # the customer enters the PIN; Daraja calls back
    [delivery] = box.daraja.callbacks_sent
    assert delivery.status_code == 200 and delivery.response_text and "Accepted" in delivery.response_text
    assert await box.verdicts() == ["accepted"]
    status = await box.status(status.order_id)
    assert status.state == "online" and status.remaining_seconds == 3600
    payment = await Payment.select().first().run()
    assert payment is not None and payment["receipt"] == push.receipt and payment["payer"] == PHONE
    [grant] = await Grant.select().run()
    assert [a["user"] for a in box.router.active] == [grant["username"]]


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        ("cancelled", "cancelled"),
        ("unreachable", "unreachable"),
        ("insufficient_funds", "insufficient_funds"),
        ("wrong_pin", "wrong_pin"),
        ("expired", "timeout"),
    ],
)
async def test_each_daraja_outcome_reaches_the_portal(box: MBox, outcome: str, reason: str) -> None:
    box.daraja.set_outcome(PHONE, outcome, after_seconds=8)
    status = await box.buy()
    await box.later(8)
    status = await box.status(status.order_id)
    assert (status.state, status.reason, status.retry) == ("failed", reason, True)
    assert await Grant.count().run() == 0
    assert await box.verdicts() == ["accepted"]  # a real callback, believed only via the query


async def test_duplicate_and_replayed_callbacks_grant_once(box: MBox) -> None:
    box.daraja.set_outcome(PHONE, "success", after_seconds=5)
    box.daraja.duplicate_callbacks = 2
    status = await box.buy()
    await box.later(5)
    [checkout_id] = box.daraja.pushes
    await box.daraja.resend_callback(checkout_id)  # a replay, later
    await box.later(1)
    assert await box.verdicts() == ["accepted", "duplicate", "duplicate", "duplicate"]
    assert await Grant.count().run() == 1
    assert (await box.status(status.order_id)).state == "online"


@pytest.mark.parametrize(
    "forge",
    [
        {"checkout_request_id": None},  # an id we never issued
        {"amount": 1},  # the wrong amount for a real push
        {"phone": "254799999999"},  # someone else's phone
    ],
)
async def test_forged_callbacks_grant_nothing(box: MBox, forge: dict[str, Any]) -> None:
    box.daraja.set_outcome(PHONE, "never")
    status = await box.buy()
    [checkout_id] = box.daraja.pushes
    kwargs = {"checkout_request_id": checkout_id, **forge}
    delivery = await box.daraja.forge_callback(**kwargs)
    assert delivery.status_code == 200  # nothing to learn from the answer
    await box.settle()
    verdict = "unknown_reference" if forge.get("checkout_request_id", 1) is None else "mismatch"
    assert await box.verdicts() == [verdict]
    assert await Grant.count().run() == 0
    assert (await box.status(status.order_id)).state == "waiting"


async def test_a_callback_on_the_wrong_path_is_stored_and_refused(box: MBox) -> None:
    box.daraja.set_outcome(PHONE, "never")
    await box.buy()
    [checkout_id] = box.daraja.pushes
    delivery = await box.daraja.forge_callback(
        checkout_id, url="https://box.example.net/hooks/lnm/guessed-token"
    )
    assert delivery.status_code == 404
    rows = await PaymentCallback.select().run()
    assert [(r["verdict"], r["detail"]) for r in rows] == [("rejected", "wrong callback path")]
    assert checkout_id in rows[0]["body"]
    assert await Grant.count().run() == 0


async def test_a_callback_that_never_comes_is_settled_by_stk_query(box: MBox) -> None:
    box.daraja.set_outcome(PHONE, "success", after_seconds=12)
    box.daraja.drop_callbacks = True
    status = await box.buy()
    await box.later(10)  # first check: still being processed
    assert (await box.status(status.order_id)).state == "waiting"
    assert box.daraja.queries  # "The transaction is being processed" was pending, not failed
    await box.later(5)
    assert (await box.status(status.order_id)).state == "online"
    assert await box.verdicts() == []


async def test_a_late_callback_after_the_query_settled_is_a_duplicate(box: MBox) -> None:
    box.daraja.set_outcome(PHONE, "success", after_seconds=8)
    box.daraja.callback_delay = 60
    status = await box.buy()
    await box.later(10)
    assert (await box.status(status.order_id)).state == "online"
    await box.later(60)
    assert await box.verdicts() == ["duplicate"]
    payment = await Payment.select().first().run()
    assert payment is not None and payment["receipt"]  # the late callback still filled the receipt in
    assert await Grant.count().run() == 1


async def test_no_public_url_at_all_payments_complete_by_polling(nat_box: MBox) -> None:
    nat_box.daraja.set_outcome(PHONE, "success", after_seconds=4)
    status = await nat_box.buy()
    [push] = nat_box.daraja.pushes.values()
    assert push.callback_url.startswith("https://callback.invalid/")
    await nat_box.later(4)
    assert await nat_box.verdicts() == []  # the callback went nowhere near the box
    await nat_box.later(10)
    assert (await nat_box.status(status.order_id)).state == "online"
