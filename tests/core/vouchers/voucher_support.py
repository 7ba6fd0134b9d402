"""Shared by the voucher tests: a whole box with the real MikroTik driver on a simulated router.

The box runs the real core on the test's backend with jobs switched off: a test runs the due
jobs itself (`settle`) and moves one hand clock for the box and the router (`later`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import httpx
import pypdfium2
import zxingcpp
from fakes import Clock
from pypdf import PdfReader

from hotspot.payments import OrderStatus
from hotspot.runtime import Hotspot
from hotspot.sim.routeros import RouterOSSimulator
from hotspot.vouchers import BatchSpec, GeneratedBatch, RedeemRequest, Vouchers

PHONE_A, PHONE_B, PHONE_C = "AA:BB:CC:00:00:01", "AA:BB:CC:00:00:02", "AA:BB:CC:00:00:03"
IPS = {PHONE_A: "10.5.50.11", PHONE_B: "10.5.50.12", PHONE_C: "10.5.50.13"}
LOGIN_URL = "http://10.5.50.1/login"
PACKAGES: list[dict[str, Any]] = [
    {"name": "1 hour", "price": "20 KES", "duration": "1h", "down": "5M", "up": "2M", "sort_order": 1},
    {"name": "1 day", "price": ["50 KES", "0.40 USD"], "duration": "1d", "data": "2GB", "devices": 2},
]


@dataclass
class Box:
    hotspot: Hotspot
    clock: Clock
    router: RouterOSSimulator
    events: list[tuple[str, Any]] = field(default_factory=list)
    client: httpx.AsyncClient | None = None

    @property
    def api(self) -> httpx.AsyncClient:
        assert self.client is not None
        return self.client

    @property
    def vouchers(self) -> Vouchers:
        return self.hotspot.vouchers

    async def settle(self, rounds: int = 8) -> None:
        """Run every due job, repeatedly (jobs queue jobs)."""
        for _ in range(rounds):
            if not await self.hotspot.jobs.run_due(limit=50):
                return

    def later(self, seconds: float) -> None:
        self.clock.now += seconds
        self.router.advance(seconds)

    async def batch(self, package: str = "1 hour", count: int = 3, **kw: Any) -> GeneratedBatch:
        return await self.vouchers.generate(BatchSpec(package=package, count=count, **kw))

    async def redeem(self, code: str, mac: str = PHONE_A, **kw: Any) -> OrderStatus:
        values: dict[str, Any] = {
            "code": code,
            "mac": mac,
            "ip": IPS.get(mac, "10.5.50.99"),
            "router": "cafe",
            "link_login_only": LOGIN_URL,
            "source_ip": "10.5.50.1",
        }
        values.update(kw)
        return await self.vouchers.redeem(RedeemRequest(**values))

    def online(self) -> dict[str, str]:
        """MAC -> hotspot user of every device the router has logged in."""
        return {row["mac-address"]: row["user"] for row in self.router.active}

    def security_events(self) -> list[Any]:
        return [event for hook, event in self.events if hook == "security_event"]


def use_clock(hotspot: Hotspot, clock: Clock) -> None:
    for part in (
        hotspot.jobs,
        hotspot.grants,
        hotspot.usage,
        hotspot.routers,
        hotspot.payments,
        hotspot.checkout,
        hotspot.vouchers,
    ):
        part.clock = clock


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, as a PDF reader extracts it."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def qr_urls(pdf: bytes, page: int = 0, scale: float = 3.0) -> list[str]:
    """Render one page to an image (pdfium) and decode every QR code on it (zxing-cpp)."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[page].render(scale=scale).to_pil()
    finally:
        document.close()
    found = zxingcpp.read_barcodes(image)
    return [result.text for result in found if result.format == zxingcpp.BarcodeFormat.QRCode]
