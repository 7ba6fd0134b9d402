"""Shared by the portal tests: the real Checkout on both backends, and what it needs.

`ScriptedGateway` is a tiny in-test M-Pesa stand-in: the phone number decides what happens
(`FAIL_PHONES` fail at once with that reason, every other number is confirmed when checked).
`portal_app` runs with payment checks far in the future, so orders stay "waiting" unless a test
asks for `fast=True` (checks within ~0.1 s, a router that accepts everything: orders go online).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bs4 import BeautifulSoup
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hotspot import hookimpl
from hotspot.contracts import GatewayResult, Health, Notification, PaymentRequest, PaymentStatus
from hotspot.runtime import Hotspot

PACKAGES: list[dict[str, Any]] = [
    {"name": "1 hour", "price": "20 KES", "duration": "1h", "down": "5M", "sort_order": 1},
    {
        "name": "1 day",
        "description": "All-day browsing",
        "price": ["50 KES", "0.40 USD"],
        "duration": "1d",
        "data": "2GB",
        "down": "5M",
        "sort_order": 2,
    },
    {"name": "1 week", "price": "1000 KES", "duration": "7d", "devices": 3, "sort_order": 3},
]
FAIL_PHONES = {"254700000002": "insufficient_funds", "254700000004": "unreachable"}
MAC = "02:AB:CD:00:00:01"
REDIRECT = {
    "mac": "02-ab-cd-00-00-01",
    "ip": "10.5.50.23",
    "username": "T-02:AB:CD:00:00:01",
    "link-login": "http://10.5.50.1/login?dst=http%3A%2F%2Fexample.com%2F",
    "link-login-only": "http://10.5.50.1/login",
    "link-orig": "http://example.com/news",
    "chap-id": "\\371",
    "chap-challenge": "\\357\\015\\330\\013\\021\\042\\063\\104\\125\\146\\167\\210\\231\\252\\273\\314",
    "server-name": "hotspot1",
    "identity": "cafe-main",
}


class ScriptedGateway:
    id = "scripted"
    display_name = "M-Pesa (scripted)"
    currencies = frozenset({"KES", "USD"})

    def __init__(self) -> None:
        self.requests: dict[str, PaymentRequest] = {}

    async def initiate(self, request: PaymentRequest) -> GatewayResult:
        if request.phone in FAIL_PHONES:
            return GatewayResult(PaymentStatus.FAILED, reason=FAIL_PHONES[request.phone])  # type: ignore[arg-type]
        reference = f"SCR-{request.payment_id}"
        self.requests[reference] = request
        return GatewayResult(PaymentStatus.PENDING, reference=reference)

    async def verify(self, reference: str) -> GatewayResult:
        request = self.requests[reference]
        return GatewayResult(PaymentStatus.SUCCEEDED, reference=reference, amount=request.amount)

    async def health(self) -> Health:
        return Health("ok", "scripted")


class AcceptingRouter:
    kind = "fake"

    async def health(self, target: Any) -> Health:
        return Health("ok", "fake")

    async def grant(self, target: Any, spec: Any) -> None: ...

    async def login(self, *args: Any) -> None: ...

    async def revoke(self, target: Any, username: str) -> None: ...

    async def disconnect(self, target: Any, session_id: str) -> None: ...

    async def set_speed(self, *args: Any) -> None: ...

    async def active_sessions(self, target: Any) -> list[Any]:
        return []

    async def user_usage(self, target: Any) -> list[Any]:
        return []


class RecordingNotifier:
    """A notifier that keeps what it was asked to send (customers' SMS codes among them)."""

    id = "recording"

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.down = False

    async def send(self, notification: Notification) -> None:
        if self.down:
            raise RuntimeError("the SMS gateway is down")
        self.sent.append(notification)


class PortalPlugins:
    def __init__(self, *, gateway: bool = True, notifier: bool = False) -> None:
        self.gateway = ScriptedGateway() if gateway else None
        self.router = AcceptingRouter()
        self.notifier = RecordingNotifier() if notifier else None

    @hookimpl
    def register_notifiers(self, config: Any) -> list[Any]:
        return [self.notifier] if self.notifier else []

    @hookimpl
    def register_payment_gateways(self, config: Any) -> list[Any]:
        return [self.gateway] if self.gateway else []

    @hookimpl
    def register_router_drivers(self, config: Any) -> list[Any]:
        return [self.router]


AppFactory = Callable[..., Awaitable[AsyncTestClient[Litestar]]]


def router_fields(html: str, form_id: str = "buy-form") -> dict[str, str]:
    """What a browser posts with a form besides the customer's input: its hidden inputs, the
    router's redirect (a new phone's landing keeps it in the page, not in a session)."""
    form = BeautifulSoup(html, "html.parser").select_one(f"form#{form_id}")
    assert form is not None
    return {str(i["name"]): str(i["value"]) for i in form.select("input[type=hidden]")}


async def land(client: AsyncTestClient[Litestar], params: dict[str, str] | None = None) -> dict[str, str]:
    """Open the portal as the router sends a phone there; returns the buy form's hidden inputs."""
    response = await client.get("/portal", params=REDIRECT if params is None else params)
    assert response.status_code == 200, response.text
    return router_fields(response.text)


def hotspot_of(client: AsyncTestClient[Litestar]) -> Hotspot:
    hotspot: Hotspot = client.app.state.hotspot
    return hotspot


def in_app(client: AsyncTestClient[Litestar], fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine on the app's own event loop (its DB pool and channels live there)."""
    assert client.blocking_portal is not None
    return client.blocking_portal.call(fn)


async def wait_for_state(
    client: AsyncTestClient[Litestar], order_id: str, states: set[str], timeout: float = 15.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = (await client.get(f"/api/v1/portal/orders/{order_id}")).json()
        if body.get("state") in states or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.1)
