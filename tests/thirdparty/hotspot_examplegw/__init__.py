"""A third-party plugin as a pip package would ship it: a gateway plus one impl of every hook.

It lives outside the project (tests/thirdparty is put on sys.path with its .dist-info, exactly
what `pip install` leaves behind) and the core knows nothing about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import post
from litestar.params import FromPath
from pydantic import BaseModel

from hotspot import PluginInfo, PluginSettings, hookimpl
from hotspot.contracts import (
    GatewayResult,
    Health,
    Money,
    PaymentRequest,
    PaymentStatus,
    SetupStep,
)

EVENTS: list[tuple[str, Any]] = []


class ExampleSettings(PluginSettings):
    counter_name: str = "Front desk"
    fail_health: bool = False
    fail_registration: bool = False


PLUGIN = PluginInfo(
    name="examplegw",
    kind="payment_gateway",
    description="Pay at the counter (test plugin)",
    config=ExampleSettings,
)


class CounterGateway:
    id = "counter"
    display_name = "Pay at the counter"
    currencies = frozenset({"KES", "USD"})

    def __init__(self, config: ExampleSettings) -> None:
        self.config = config
        self.payments: dict[str, PaymentRequest] = {}

    async def initiate(self, request: PaymentRequest) -> GatewayResult:
        reference = f"CTR-{request.payment_id}"
        self.payments[reference] = request
        return GatewayResult(PaymentStatus.PENDING, reference=reference, message=self.config.counter_name)

    async def verify(self, reference: str) -> GatewayResult:
        request = self.payments.get(reference)
        if request is None:
            return GatewayResult(PaymentStatus.FAILED, reference=reference, message="unknown reference")
        return GatewayResult(PaymentStatus.SUCCEEDED, reference=reference, amount=request.amount)

    async def health(self) -> Health:
        if self.config.fail_health:
            return Health("down", "counter closed")
        return Health("ok", self.config.counter_name)


class CounterForm(BaseModel):
    counter_name: str


async def validate_counter(form: BaseModel) -> dict[str, str]:
    assert isinstance(form, CounterForm)
    return {} if form.counter_name.strip() else {"counter_name": "Give the counter a name"}


@post("/paid/{reference:str}")
async def paid_webhook(reference: FromPath[str]) -> dict[str, str]:
    EVENTS.append(("webhook", reference))
    return {"received": reference}


@hookimpl
def register_payment_gateways(config: ExampleSettings) -> list[Any]:
    if config.fail_registration:
        raise RuntimeError("counter API key rejected")
    return [CounterGateway(config)]


@hookimpl
def register_router_drivers(config: ExampleSettings) -> list[Any]:
    return []


@hookimpl
def register_notifiers(config: ExampleSettings) -> list[Any]:
    return []


@hookimpl
def register_accounting_sinks(config: ExampleSettings) -> list[Any]:
    return []


@hookimpl
def register_fraud_detectors(config: ExampleSettings) -> list[Any]:
    return []


@hookimpl
def register_routes(config: ExampleSettings) -> list[Any]:
    return [paid_webhook]


@hookimpl
def register_template_dirs(config: ExampleSettings) -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def register_setup_steps(config: ExampleSettings) -> list[SetupStep]:
    return [
        SetupStep(
            "counter", "Counter payments", "hotspot_examplegw/pay_form.html", CounterForm, validate_counter
        )
    ]


@hookimpl
async def startup(hotspot: Any) -> None:
    EVENTS.append(("startup", hotspot.settings.business.name))


@hookimpl
async def shutdown(hotspot: Any) -> None:
    EVENTS.append(("shutdown", None))


@hookimpl
async def payment_confirmed(event: Any) -> None:
    EVENTS.append(("payment_confirmed", event))


@hookimpl
def session_changed(event: Any) -> None:
    EVENTS.append(("session_changed", event))


@hookimpl
async def router_status_changed(event: Any) -> None:
    EVENTS.append(("router_status_changed", event))


@hookimpl
async def security_event(event: Any) -> None:
    EVENTS.append(("security_event", event))


def counter_amount() -> Money:
    return Money(10000, "KES")
