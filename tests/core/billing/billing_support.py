"""A shop for the pricing tests: the real core (both backends) with packages priced in KES, USD
and UGX, conversion rates, the owner's discount rules, and a gateway that charges whole
shillings like M-Pesa and answers as the test scripts it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakes import Clock, IdleRouterDriver

from hotspot import hookimpl
from hotspot.config import PluginSettings
from hotspot.contracts import (
    ChargeLimits,
    GatewayResult,
    Health,
    Money,
    PaymentRequest,
    PaymentStatus,
)
from hotspot.payments import BuyRequest, OrderStatus
from hotspot.runtime import Hotspot

PACKAGES: list[dict[str, Any]] = [
    {"name": "1 hour", "price": "20 KES", "duration": "1h", "sort_order": 1},
    {
        "name": "1 day",
        "price": ["50 KES", "0.40 USD", "1,500 UGX"],
        "duration": "1d",
        "data": "2GB",
        "sort_order": 2,
    },
    {"name": "1 week", "price": "250 KES", "duration": "7d", "data": "15GB", "sort_order": 3},
    {"name": "30 days", "price": ["999 KES", "7.99 USD"], "duration": "30d", "sort_order": 4},
    {"name": "Tanzania day", "price": "2,000 TZS", "duration": "1d", "sort_order": 5},
]
RATES = {"USD": "129.50 KES", "UGX": "0.0345 KES"}
DISCOUNTS: list[dict[str, Any]] = [
    {"id": "weekly", "kind": "bundle", "percent": 10, "min_duration": "7d"},
    {"id": "loyalty", "kind": "repeat", "every": 3, "within": "30d", "percent": 20},
    {"id": "month-extra", "kind": "bundle", "packages": ["30 days"], "amount": "50 KES", "stacks": True},
]


class TillGateway:
    """Takes KES in whole shillings (KES 1 to 250,000, as M-Pesa does), USD, UGX and TZS."""

    id = "till"
    display_name = "Till"
    currencies = frozenset({"KES", "USD", "UGX", "TZS"})
    charge_limits = {"KES": ChargeLimits(step=100, minimum=100, maximum=25_000_000)}

    def __init__(self) -> None:
        self.requests: list[PaymentRequest] = []
        self.refuse: set[str] = set()  # phones whose prompt fails at once
        self.outcome = GatewayResult(PaymentStatus.PENDING)

    async def initiate(self, request: PaymentRequest) -> GatewayResult:
        self.requests.append(request)
        if request.phone in self.refuse:
            return GatewayResult(
                PaymentStatus.FAILED, reason="cancelled", message="cancelled by the customer"
            )
        return GatewayResult(PaymentStatus.PENDING, reference=f"till-{request.payment_id}")

    async def verify(self, reference: str) -> GatewayResult:
        request = next(r for r in self.requests if f"till-{r.payment_id}" == reference)
        if self.outcome.status == PaymentStatus.SUCCEEDED:
            return GatewayResult(PaymentStatus.SUCCEEDED, reference=reference, amount=request.amount)
        return self.outcome

    async def health(self) -> Health:
        return Health("ok")


class ShopPlugin:
    def __init__(self, gateway: TillGateway) -> None:
        self.gateway = gateway

    @hookimpl
    def register_payment_gateways(self, config: PluginSettings) -> list[Any]:
        return [self.gateway]

    @hookimpl
    def register_router_drivers(self, config: PluginSettings) -> list[Any]:
        return [IdleRouterDriver()]


def shop_overrides(**extra: Any) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "jobs": {"enabled": False},
        "packages": PACKAGES,
        "currencies": {"rates": RATES},
        "discounts": DISCOUNTS,
        "routers": [
            {"name": "cafe", "driver": "fake", "host": "10.5.50.1", "username": "a", "password": "b"}
        ],
    }
    overrides.update(extra)
    return overrides


@dataclass
class Shop:
    hotspot: Hotspot
    gateway: TillGateway
    clock: Clock
    ids: dict[str, int]

    @property
    def pricing(self) -> Any:
        return self.hotspot.checkout.pricing

    async def quote(self, package: str, currency: str | None = None, **kw: Any) -> Any:
        return await self.hotspot.checkout.quote(self.ids[package], currency, **kw)

    async def buy(
        self, package: str, phone: str = "0712345678", mac: str | None = None, **kw: Any
    ) -> OrderStatus:
        request = BuyRequest(package_id=self.ids[package], phone=phone, mac=mac, **kw)
        return await self.hotspot.checkout.buy(request)

    async def pay(self, status: OrderStatus) -> None:
        """The customer enters the PIN: the gateway confirms and the core settles the payment."""
        assert status.payment_id is not None
        self.gateway.outcome = GatewayResult(PaymentStatus.SUCCEEDED)
        await self.hotspot.payments.check(status.payment_id)
        self.gateway.outcome = GatewayResult(PaymentStatus.PENDING)

    def money(self, amount: int, currency: str = "KES") -> Money:
        return Money(amount, currency)


MakeSettings = Callable[..., Any]


async def add_promos(settings: Any, *specs: Any) -> None:
    """Create promos in the configured database from outside the app (as `hotspot promos create`
    does while the server runs): the app's own engine lives on its test client's event loop."""
    from hotspot.billing.promos import Promos
    from hotspot.db import Database, all_tables, migrate

    db = Database(settings.database_url)
    await db.open(all_tables())
    try:
        await migrate(db)
        for spec in specs:
            await Promos(db).create(spec)
    finally:
        await db.close()
