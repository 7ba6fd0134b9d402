"""The M-Pesa plugin's test rig: the Daraja simulator in-process, the gateway talking to it through
an httpx.ASGITransport, and the plugin's callback route mounted in a tiny Litestar app whose
`payment_inbox` records every CallbackReport. The simulator's callbacks are POSTed straight into
that app (its callback_transport), from a Safaricom source address.

One fake clock drives the simulator, the token cache and the STK Timestamp, so expiry is exact:
1_800_000_000 is 2027-01-15 11:00:00 in Nairobi.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fakes import Clock
from litestar import Litestar, Request, Router
from litestar.di import Provide

from hotspot.contracts import CallbackReport, Money, PaymentRequest
from hotspot.sim.daraja import SANDBOX_PASSKEY, DarajaSimulator
from hotspot_mpesa import ROUTES_PATH, MpesaSettings, register_routes
from hotspot_mpesa.daraja import TokenCache
from hotspot_mpesa.gateway import MpesaGateway

KEY, SECRET, SHORTCODE, TILL = "ck_test_3f9c1e", "cs_test_7ab2d4", "174379", "987654"
PHONE, PHONE2 = "254712345678", "254110000001"
START = 1_800_000_000.0
START_STAMP = "20270115110000"  # START as a Daraja Timestamp (EAT)
DARAJA = "http://daraja.test"
BOX = "http://box.test"
CALLBACK_BASE = f"{BOX}{ROUTES_PATH}"  # what the core passes as PaymentRequest.callback_url
SAFARICOM_IP = "196.201.214.200"
FOREIGN_IP = "203.0.113.9"
OAUTH = "/oauth/v1/generate"
PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"
PROCESSING = "The transaction is being processed"


def settings(**changes: Any) -> MpesaSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "environment": "custom",
        "base_url": DARAJA,
        "shortcode": SHORTCODE,
        "passkey": SANDBOX_PASSKEY,
        "consumer_key": KEY,
        "consumer_secret": SECRET,
    }
    values.update(changes)
    return MpesaSettings(**values)


def pay(
    amount: int = 5000,
    currency: str = "KES",
    *,
    phone: str | None = PHONE,
    payment_id: str = "pay_01J9ZK3M2QABCDEF",
    callback_url: str | None = CALLBACK_BASE,
    description: str = "Wifi 1 day",
) -> PaymentRequest:
    return PaymentRequest(
        payment_id=payment_id,
        order_id="ord_1",
        amount=Money(amount, currency),
        description=description,
        phone=phone,
        callback_url=callback_url,
    )


class RecordingInbox:
    """The core's PaymentInbox as the route sees it: keeps every report, answers `verdict`."""

    def __init__(self) -> None:
        self.reports: list[CallbackReport] = []
        self.verdict = "accepted"

    async def callback(self, report: CallbackReport) -> str:
        self.reports.append(report)
        return self.verdict


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and records the path of every request (OAuth calls, pushes, queries)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)

    def count(self, path: str) -> int:
        return self.paths.count(path)


def _client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


def hooks_app(config: MpesaSettings, inbox: RecordingInbox) -> Litestar:
    """The routes mounted the way the core mounts them, with the two app-level dependencies."""
    return Litestar(
        route_handlers=[Router(path=ROUTES_PATH, route_handlers=register_routes(config))],
        dependencies={
            "payment_inbox": Provide(lambda: inbox, sync_to_thread=False),
            "client_ip": Provide(_client_ip, sync_to_thread=False),
        },
        logging_config=None,
    )


@dataclass
class Rig:
    clock: Clock
    config: MpesaSettings
    inbox: RecordingInbox
    app: Litestar
    sim: DarajaSimulator
    wire: CountingTransport
    tokens: TokenCache
    gateway: MpesaGateway
    closers: list[Callable[[], Any]] = field(default_factory=list)

    def token(self) -> str:
        return self.config.effective_callback_token()

    async def post(self, path: str, body: bytes, ip: str = SAFARICOM_IP) -> httpx.Response:
        """POST to the hooks app from `ip`."""
        transport = httpx.ASGITransport(app=self.app, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BOX) as http:
            return await http.post(path, content=body, headers={"Content-Type": "application/json"})

    def gateway_for(
        self, config: MpesaSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> MpesaGateway:
        gateway = MpesaGateway(
            config, transport=transport or self.wire, tokens=self.tokens, wall_clock=self.clock
        )
        self.closers.append(gateway.aclose)
        return gateway


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def rigs(clock: Clock) -> AsyncIterator[Callable[..., Rig]]:
    """Builds rigs (config changes as keywords); closes their gateways and simulators at the end."""
    built: list[Rig] = []

    def make(source_ip: str = SAFARICOM_IP, sim_till: str | None = TILL, **config: Any) -> Rig:
        cfg = settings(**config)
        inbox = RecordingInbox()
        app = hooks_app(cfg, inbox)
        sim = DarajaSimulator(
            KEY,
            SECRET,
            SHORTCODE,
            SANDBOX_PASSKEY,
            clock=clock,
            till=sim_till,
            callback_transport=httpx.ASGITransport(app=app, client=(source_ip, 443)),
        )
        wire = CountingTransport(httpx.ASGITransport(app=sim.app))
        tokens = TokenCache(clock=clock)
        gateway = MpesaGateway(cfg, transport=wire, tokens=tokens, wall_clock=clock)
        rig = Rig(clock, cfg, inbox, app, sim, wire, tokens, gateway)
        built.append(rig)
        return rig

    yield make
    for rig in built:
        await rig.gateway.aclose()
        for close in rig.closers:
            await close()
        await rig.sim.stop()


@pytest.fixture
def rig(rigs: Callable[..., Rig]) -> Rig:
    return rigs()
