"""Blocking a phone or a device, and binding a phone to its devices, on both backends, through
the real MikroTik driver on a simulated router: a block stops purchases, voucher redeems and
moves, drops the devices and suspends the grants; lifting it (or its expiry) restores them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from customer_support import DEVICES, NEW, OLD, PACKAGES, PHONE, THIRD, Box, RecordingNotifier, Texts, on
from fakes import Clock

from hotspot import hookimpl
from hotspot.access.tables import Grant, GrantState
from hotspot.app import create_app
from hotspot.config import PluginSettings
from hotspot.contracts import GatewayResult, Health, PaymentRequest, PaymentStatus
from hotspot.customers import BlockError, CustomerRefused, MoveError
from hotspot.customers.tables import Block
from hotspot.payments import BuyRequest
from hotspot.payments.checkout import CheckoutError
from hotspot.plugins import discover, settings_models
from hotspot.runtime import Hotspot
from hotspot.sim.routeros import RouterOSSimulator
from hotspot.vouchers import RedeemRequest, VoucherError
from hotspot.vouchers.service import BatchSpec


class PendingGateway:
    """A gateway that accepts every prompt and never settles (a purchase that started)."""

    id = "pending"
    display_name = "Pending Pay"
    currencies = frozenset({"KES"})

    def __init__(self) -> None:
        self.requests: list[PaymentRequest] = []

    async def initiate(self, request: PaymentRequest) -> GatewayResult:
        self.requests.append(request)
        return GatewayResult(PaymentStatus.PENDING, reference=f"ref-{len(self.requests)}")

    async def verify(self, reference: str) -> GatewayResult:
        return GatewayResult(PaymentStatus.PENDING)

    async def health(self) -> Health:
        return Health("ok")


class Gateways:
    def __init__(self, gateway: PendingGateway) -> None:
        self.gateway = gateway

    @hookimpl
    def register_payment_gateways(self, config: PluginSettings) -> list[Any]:
        return [self.gateway]


@pytest.fixture
async def box(make_settings: Any) -> AsyncIterator[Box]:
    """The customers' box (see conftest.py) with a payment gateway, so purchases can start."""
    async with RouterOSSimulator("api", "pw", "cafe", clock=Clock(1000.0)) as router:
        for mac, ip in DEVICES.items():
            router.add_host(mac, ip)
        settings = make_settings(
            {
                "business": {"name": "Mama Mboga Cafe"},
                "jobs": {"enabled": False},
                "plugins": {"mikrotik": {"enabled": True, "connect_timeout": 1, "command_timeout": 1}},
                "routers": [
                    {
                        "name": "cafe",
                        "host": "127.0.0.1",
                        "port": router.port,
                        "username": "api",
                        "password": "pw",
                    }
                ],
                "packages": PACKAGES,
            },
            plugins=settings_models(discover()),
        )
        notifier = RecordingNotifier()
        gateway = PendingGateway()
        app = create_app(
            settings,
            extra_plugins=[
                ("texts", Texts(notifier), PluginSettings(enabled=True)),
                ("pending", Gateways(gateway), PluginSettings(enabled=True)),
            ],
        )
        hotspot: Hotspot = app.state.hotspot
        clock = Clock()
        for part in (hotspot.jobs, hotspot.grants, hotspot.usage, hotspot.routers, hotspot.customers):
            part.clock = clock
        hotspot.checkout.clock = hotspot.payments.clock = hotspot.vouchers.clock = clock
        await hotspot.open()
        try:
            yield Box(hotspot, clock, router, notifier)
        finally:
            await hotspot.close()


def buying(mac: str = NEW, phone: str = PHONE) -> BuyRequest:
    return BuyRequest(package_id=1, phone=phone, mac=mac, ip=DEVICES[mac], router="cafe")


async def grant_state(grant_id: int) -> str:
    row = await Grant.select(Grant.state).where(Grant.id == grant_id).first().run()
    assert row is not None
    return str(row["state"])


async def test_a_blocked_phone_is_dropped_suspended_refused_and_restored(box: Box) -> None:
    grant_id = await box.paid()
    user = box.online()[OLD]
    blocks = box.hotspot.customers.blocks
    outcome = await blocks.block("phone", "0712 345 678", reason="chargeback fraud", by="owner")
    assert outcome.block.value == PHONE and outcome.suspended == 1 and outcome.disconnected == 1
    assert box.online() == {}  # dropped now, as the sessions page's Disconnect does
    assert await grant_state(grant_id) == GrantState.SUSPENDED
    await box.settle()
    assert user not in box.router.users  # the durable revoke took the user off the router

    with pytest.raises(CustomerRefused) as refused:  # a purchase from the blocked number
        await box.hotspot.checkout.buy(buying())
    assert refused.value.status_code == 403 and refused.value.field == "phone"
    assert "chargeback" not in refused.value.message and "ask at the counter" in refused.value.message
    with pytest.raises(MoveError) as move:  # moving its package to another device
        await box.hotspot.customers.send_move_code(PHONE, on(NEW))
    assert move.value.reason == "blocked" and move.value.status_code == 403
    assert box.notifier.sent == []
    with pytest.raises(BlockError) as twice:
        await blocks.block("phone", PHONE, reason="again", by="owner")
    assert twice.value.status_code == 409

    box.later(600)  # 10 of the package's 60 minutes pass while blocked: the rest comes back
    lifted, restored = await blocks.unblock("phone", PHONE, by="owner")
    assert restored == 1 and lifted.lifted_by == "owner"
    await box.settle()
    assert await grant_state(grant_id) == GrantState.ACTIVE
    assert box.online() == {OLD: user}  # back on the router and logged in again
    status = await box.hotspot.checkout.buy(buying(THIRD, "0722 000 111"))  # others buy as ever
    assert status.state == "waiting"
    assert (await box.hotspot.checkout.buy(buying())).state == "waiting"  # and so does the phone now
    with pytest.raises(BlockError):
        await blocks.unblock("phone", PHONE, by="owner")


async def test_a_blocked_device_cannot_buy_redeem_or_take_a_package(box: Box) -> None:
    await box.paid(mac=OLD)
    blocks = box.hotspot.customers.blocks
    await blocks.block("mac", NEW.lower().replace(":", "-"), reason="abusive", by="owner")
    assert await blocks.current("mac", NEW) is not None

    with pytest.raises(CheckoutError) as refused:
        await box.hotspot.checkout.buy(buying(NEW, "0722 000 111"))
    assert refused.value.status_code == 403 and "device" in refused.value.message

    issued = await box.hotspot.vouchers.generate(BatchSpec(package="1 hour", count=1))
    code = issued.vouchers[0].code
    with pytest.raises(VoucherError) as redeem:
        await box.hotspot.vouchers.redeem(RedeemRequest(code=code, mac=NEW, ip=DEVICES[NEW], router="cafe"))
    assert redeem.value.reason == "blocked" and redeem.value.status_code == 403
    with pytest.raises(MoveError) as move:
        await box.hotspot.customers.send_move_code(PHONE, on(NEW))
    assert move.value.reason == "blocked"
    # Another device redeems the same voucher as ever: only the blocked one is stopped.
    status = await box.hotspot.vouchers.redeem(
        RedeemRequest(code=code, mac=THIRD, ip=DEVICES[THIRD], router="cafe")
    )
    assert status.state in ("activating", "online")


async def test_blocking_the_device_a_package_is_on_drops_it_and_the_block_expires(box: Box) -> None:
    grant_id = await box.paid(mac=OLD)
    blocks = box.hotspot.customers.blocks
    outcome = await blocks.block("mac", OLD, reason="shared", by="owner", expires_at=box.clock() + 300)
    assert outcome.suspended == 1 and box.online() == {}
    with pytest.raises(BlockError) as past:
        await blocks.block("mac", NEW, reason="x", by="owner", expires_at=box.clock() - 1)
    assert past.value.field == "expires"

    box.later(301)  # the block is over: the gate opens at once, the sweep resumes the package
    assert await blocks.current("mac", OLD) is None
    await box.hotspot.checkout.admit(None, OLD)
    assert await blocks.sweep() == 1
    await box.settle()
    assert await grant_state(grant_id) == GrantState.ACTIVE and OLD in box.online()
    row = await Block.select().where(Block.value == OLD).first().run()
    assert (
        row is not None and row["lifted_at"] == pytest.approx(row["expires_at"]) and row["lifted_by"] is None
    )
    assert await blocks.sweep() == 0


async def test_a_package_paid_after_the_block_is_suspended_by_the_sweep(box: Box) -> None:
    blocks = box.hotspot.customers.blocks
    await blocks.block("phone", PHONE, reason="fraud", by="owner")
    grant_id = await box.paid(mac=OLD)  # prompted before the block, paid after it
    assert OLD in box.online()
    await box.hotspot.jobs.enqueue("customers.blocks.sweep", {})
    await box.settle()
    assert await grant_state(grant_id) == GrantState.SUSPENDED and box.online() == {}
    assert await blocks.enforce() == 0


async def test_a_package_whose_time_ran_out_while_blocked_ends(box: Box) -> None:
    grant_id = await box.paid(mac=OLD)
    blocks = box.hotspot.customers.blocks
    await blocks.block("phone", PHONE, reason="late", by="owner")
    box.later(3700)
    _, restored = await blocks.unblock("phone", PHONE, by="owner")
    assert restored == 0
    row = await Grant.select().where(Grant.id == grant_id).first().run()
    assert row is not None and row["state"] == GrantState.ENDED and row["end_reason"] == "time"


async def test_both_blocks_must_go_before_the_package_comes_back(box: Box) -> None:
    grant_id = await box.paid(mac=OLD)
    blocks = box.hotspot.customers.blocks
    await blocks.block("phone", PHONE, reason="fraud", by="owner")
    await blocks.block("mac", OLD, reason="fraud", by="owner")
    assert (await blocks.unblock("phone", PHONE, by="owner"))[1] == 0  # the device is still blocked
    assert await grant_state(grant_id) == GrantState.SUSPENDED
    assert (await blocks.unblock("mac", OLD, by="owner"))[1] == 1
    assert await grant_state(grant_id) == GrantState.ACTIVE


async def test_an_unblock_whose_resume_fails_is_finished_by_the_sweep(
    box: Box, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    grant_id = await box.paid(mac=OLD)
    user = box.online()[OLD]
    blocks = box.hotspot.customers.blocks
    await blocks.block("phone", PHONE, reason="fraud", by="owner")
    await box.settle()
    resume = box.hotspot.grants.resume

    async def database_gone(grant_ids: list[int]) -> list[int]:
        raise OSError("disk I/O error")

    monkeypatch.setattr(box.hotspot.grants, "resume", database_gone)
    lifted, restored = await blocks.unblock("phone", PHONE, by="owner")  # the lift itself holds
    assert lifted.lifted_by == "owner" and restored == 0
    assert "resuming its access failed (the sweep retries)" in caplog.text
    assert await blocks.current("phone", PHONE) is None
    assert await grant_state(grant_id) == GrantState.SUSPENDED

    monkeypatch.setattr(box.hotspot.grants, "resume", resume)
    await box.hotspot.jobs.enqueue("customers.blocks.sweep", {})
    await box.settle()
    assert await grant_state(grant_id) == GrantState.ACTIVE
    assert box.online() == {OLD: user}
    assert await blocks.restore_unheld() == 0  # nothing left; a block in force still holds its own:
    await blocks.block("mac", OLD, reason="again", by="owner")
    assert await blocks.restore_unheld() == 0 and await grant_state(grant_id) == GrantState.SUSPENDED


async def test_a_bound_phone_buys_and_moves_only_on_its_devices(box: Box) -> None:
    await box.paid(mac=OLD)
    blocks = box.hotspot.customers.blocks
    binding = await blocks.bind("0712345678", OLD.lower(), by="owner")
    assert binding.phone == PHONE and binding.mac == OLD
    with pytest.raises(BlockError) as twice:
        await blocks.bind(PHONE, OLD, by="owner")
    assert twice.value.field == "mac"
    with pytest.raises(BlockError) as bad:
        await blocks.bind(PHONE, "not-a-mac", by="owner")
    assert bad.value.field == "mac"

    with pytest.raises(CustomerRefused) as buy:
        await box.hotspot.checkout.buy(buying(NEW))
    assert buy.value.reason == "not_bound_device" and buy.value.status_code == 403
    with pytest.raises(CustomerRefused):  # a purchase that names no device at all
        await box.hotspot.checkout.admit(PHONE, None)
    with pytest.raises(MoveError) as move:
        await box.hotspot.customers.send_move_code(PHONE, on(NEW))
    assert move.value.reason == "not_bound_device" and box.notifier.sent == []
    await box.hotspot.checkout.admit(PHONE, OLD)  # its own device is fine
    await box.hotspot.checkout.admit("0722000111", NEW)  # and other numbers are not bound

    await blocks.bind(PHONE, NEW, by="owner")
    sent = await box.hotspot.customers.send_move_code(PHONE, on(NEW))
    await blocks.unbind(PHONE, NEW)  # unbound between the code and its use: refused still
    with pytest.raises(MoveError) as late:
        await box.hotspot.customers.move_here(sent.challenge, box.last_code(), on(NEW))
    assert late.value.reason == "not_bound_device"
    await blocks.unbind(PHONE, OLD)
    assert await blocks.bindings(PHONE) == []
    with pytest.raises(BlockError) as gone:
        await blocks.unbind(PHONE, OLD)
    assert gone.value.status_code == 404
    assert (await box.hotspot.checkout.buy(buying(NEW))).state == "waiting"  # free again


async def test_bad_input_names_the_field(box: Box) -> None:
    blocks = box.hotspot.customers.blocks
    for kind, value, reason, field in (
        ("phone", "12345", "x", "phone"),
        ("mac", "zz", "x", "mac"),
        ("sim", PHONE, "x", "kind"),
        ("phone", PHONE, "   ", "reason"),
        ("phone", PHONE, "x" * 201, "reason"),
    ):
        with pytest.raises(BlockError) as refused:
            await blocks.block(kind, value, reason=reason, by="owner")
        assert refused.value.field == field
    assert await Block.count().run() == 0
