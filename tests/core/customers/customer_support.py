"""Shared by the customer tests: a box on a simulated router, and a phone that paid.

Jobs are off: a test runs the due ones itself (`settle`) and moves one hand clock (`later`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from fakes import Clock

from hotspot import hookimpl
from hotspot.access.grants import GrantRequest
from hotspot.contracts import Notification
from hotspot.customers import MoveRequest
from hotspot.payments.tables import Order
from hotspot.runtime import Hotspot
from hotspot.sim.routeros import RouterOSSimulator

OLD, NEW, THIRD = "AA:BB:CC:00:00:01", "AA:BB:CC:00:00:02", "AA:BB:CC:00:00:03"
DEVICES = {OLD: "10.5.50.11", NEW: "10.5.50.12", THIRD: "10.5.50.13"}
PHONE = "254712345678"
PACKAGES: list[dict[str, Any]] = [
    {"name": "1 hour", "price": "20 KES", "duration": "1h", "down": "5M", "up": "2M", "sort_order": 1},
]


class RecordingNotifier:
    id = "texts"

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.down = False

    async def send(self, notification: Notification) -> None:
        if self.down:
            raise RuntimeError("the SMS gateway is down")
        self.sent.append(notification)


class Texts:
    """A notifier plugin (the customers' codes go through notifiers)."""

    def __init__(self, notifier: RecordingNotifier) -> None:
        self.notifier = notifier

    @hookimpl
    def register_notifiers(self, config: Any) -> list[Any]:
        return [self.notifier]


@dataclass
class Box:
    hotspot: Hotspot
    clock: Clock
    router: RouterOSSimulator
    notifier: RecordingNotifier
    events: list[tuple[str, Any]] = field(default_factory=list)

    async def settle(self, rounds: int = 8) -> None:
        for _ in range(rounds):
            if not await self.hotspot.jobs.run_due(limit=50):
                return

    def later(self, seconds: float) -> None:
        self.clock.now += seconds
        self.router.advance(seconds)

    def online(self) -> dict[str, str]:
        """MAC -> hotspot user of every device the router has logged in."""
        return {row["mac-address"]: row["user"] for row in self.router.active}

    def last_code(self) -> str:
        match = re.match(r"(\d{6}) ", self.notifier.sent[-1].body)
        assert match, self.notifier.sent[-1].body
        return match[1]

    def security_events(self) -> list[Any]:
        return [event for hook, event in self.events if hook == "security_event"]

    async def paid(self, mac: str = OLD, phone: str = PHONE, order_id: str = "o-paid-1") -> int:
        """A purchase from `phone` on `mac`, paid and online (as payments would leave it)."""
        grant_id = await self.hotspot.grants.request(
            GrantRequest(
                profile="1 hour",
                seconds=3600,
                down_bps=5_000_000,
                up_bps=2_000_000,
                mac=mac,
                ip=DEVICES[mac],
                router_hint="cafe",
                source="order",
                source_ref=order_id,
            )
        )
        now = self.clock()
        await Order.insert(
            Order(
                id=order_id,
                package_id=1,
                package_name="1 hour",
                terms=json.dumps({"seconds": 3600, "devices": 1}),
                amount=2000,
                currency="KES",
                phone=phone,
                mac=mac,
                ip=DEVICES[mac],
                router="cafe",
                link_login_only="http://10.5.50.1/login",
                state="paid",
                grant_id=grant_id,
                created_at=now,
                paid_at=now,
            )
        ).run()
        await self.settle()
        return grant_id


def on(mac: str, **extra: Any) -> MoveRequest:
    """A request from the device `mac`, as the portal makes it from the router's redirect."""
    values: dict[str, Any] = {
        "mac": mac,
        "ip": DEVICES[mac],
        "source_ip": DEVICES[mac],
        "router": "cafe",
        "link_login_only": "http://10.5.50.1/login",
    }
    values.update(extra)
    return MoveRequest(**values)
