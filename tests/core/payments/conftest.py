"""A whole box for payment tests: the real core on both backends, the real MikroTik driver
talking to a simulated router, and a gateway the test scripts (ScriptedGateway) or the real
M-Pesa plugin against the Daraja simulator (see test_mpesa_end_to_end.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakes import Clock

from hotspot import hookimpl
from hotspot.app import create_app
from hotspot.config import PluginSettings
from hotspot.contracts import GatewayResult, Health, Money, PaymentRequest, PaymentStatus
from hotspot.payments import BuyRequest, OrderStatus
from hotspot.plugins import discover, settings_models
from hotspot.runtime import Hotspot
from hotspot.sim.routeros import RouterOSSimulator

MAC, IP, PHONE = "AA:BB:CC:00:00:01", "10.5.50.11", "254712345678"
PACKAGES = [
    {"name": "1 hour", "price": "20 KES", "duration": "1h", "down": "5M", "up": "2M", "sort_order": 1},
    {
        "name": "1 day",
        "price": "50 KES",
        "duration": "1d",
        "data": "2GB",
        "down": "10M",
        "up": "5M",
        "devices": 2,
        "sort_order": 2,
    },
]


class ScriptedGateway:
    """A gateway whose answers the test sets: `outcome` for verify, `start` for initiate."""

    id = "scripted"
    display_name = "Scripted Pay"
    currencies = frozenset({"KES"})

    def __init__(self) -> None:
        self.requests: list[PaymentRequest] = []
        self.verifies: list[str] = []
        self.start: GatewayResult | Exception | None = None
        self.outcome: GatewayResult | Exception = GatewayResult(PaymentStatus.PENDING)

    async def initiate(self, request: PaymentRequest) -> GatewayResult:
        self.requests.append(request)
        if isinstance(self.start, Exception):
            raise self.start
        if self.start is not None:
            return self.start
        return GatewayResult(PaymentStatus.PENDING, reference=f"ref-{len(self.requests)}")

    async def verify(self, reference: str) -> GatewayResult:
        self.verifies.append(reference)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    async def health(self) -> Health:
        return Health("ok")

    def succeed(self, amount: Money | None = None, receipt: str | None = None) -> None:
        self.outcome = GatewayResult(PaymentStatus.SUCCEEDED, amount=amount, receipt=receipt)


class ScriptedPlugin:
    def __init__(self, gateway: ScriptedGateway) -> None:
        self.gateway = gateway

    @hookimpl
    def register_payment_gateways(self, config: PluginSettings) -> list[Any]:
        return [self.gateway]


@dataclass
class Box:
    hotspot: Hotspot
    clock: Clock
    router: RouterOSSimulator
    gateway: ScriptedGateway
    events: list[tuple[str, Any]] = field(default_factory=list)

    async def settle(self, rounds: int = 8) -> None:
        """Run every due job, repeatedly (jobs queue jobs)."""
        for _ in range(rounds):
            if not await self.hotspot.jobs.run_due(limit=50):
                return

    def later(self, seconds: float) -> None:
        self.clock.now += seconds
        self.router.advance(seconds)

    async def buy(self, package: str = "1 hour", **kw: Any) -> OrderStatus:
        offers = {p.name: p for p in await self.hotspot.checkout.packages()}
        values: dict[str, Any] = {
            "package_id": offers[package].id,
            "phone": "0712 345 678",
            "mac": MAC,
            "ip": IP,
            "router": "cafe",
            "link_login_only": "http://10.5.50.1/login",
            "link_orig": "http://example.com/",
        }
        values.update(kw)
        return await self.hotspot.checkout.buy(BuyRequest(**values))

    async def status(self, order_id: str) -> OrderStatus:
        return await self.hotspot.checkout.status(order_id)


def box_settings(make_settings: Callable[..., Any], router: RouterOSSimulator, **extra: Any) -> Any:
    overrides: dict[str, Any] = {
        "jobs": {"enabled": False},  # tests run the jobs themselves, with their own clock
        "plugins": {"mikrotik": {"enabled": True, "connect_timeout": 1, "command_timeout": 1}},
        "routers": [
            {"name": "cafe", "host": "127.0.0.1", "port": router.port, "username": "api", "password": "pw"}
        ],
        "packages": PACKAGES,
    }
    overrides.update(extra)
    return make_settings(overrides, plugins=settings_models(discover()))


def use_clock(hotspot: Hotspot, clock: Clock) -> None:
    for part in (
        hotspot.jobs,
        hotspot.grants,
        hotspot.usage,
        hotspot.routers,
        hotspot.payments,
        hotspot.checkout,
    ):
        part.clock = clock


@pytest.fixture
async def box(make_settings: Any) -> AsyncIterator[Box]:
    sim_clock = Clock(1000.0)
    async with RouterOSSimulator("api", "pw", "cafe", clock=sim_clock) as router:
        router.add_host(MAC, IP)
        gateway = ScriptedGateway()
        app = create_app(
            box_settings(make_settings, router),
            extra_plugins=[("scripted", ScriptedPlugin(gateway), PluginSettings(enabled=True))],
        )
        hotspot: Hotspot = app.state.hotspot
        clock = Clock()
        use_clock(hotspot, clock)
        result = Box(hotspot, clock, router, gateway)

        async def record(hook: str, **kwargs: Any) -> list[Any]:
            result.events.append((hook, kwargs.get("event")))
            return []

        hotspot.payments.emit = record
        await hotspot.open()
        try:
            yield result
        finally:
            await hotspot.close()
