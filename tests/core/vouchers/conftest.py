"""Fixtures for the voucher tests (helpers live in voucher_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fakes import Clock
from voucher_support import IPS, PACKAGES, Box, use_clock

from hotspot.app import create_app
from hotspot.plugins import discover, settings_models
from hotspot.runtime import Hotspot
from hotspot.sim.routeros import RouterOSSimulator


@pytest.fixture
async def box(make_settings: Any) -> AsyncIterator[Box]:
    """The real core and MikroTik driver, a simulated router with three phones on its WiFi."""
    async with RouterOSSimulator("api", "pw", "cafe", clock=Clock(1000.0)) as router:
        for mac, ip in IPS.items():
            router.add_host(mac, ip)
        settings = make_settings(
            {
                "business": {"name": "Mama Mboga Cafe"},
                "server": {"public_url": "http://10.5.50.2:8000"},
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
        app = create_app(settings)
        hotspot: Hotspot = app.state.hotspot
        clock = Clock()
        use_clock(hotspot, clock)
        result = Box(hotspot, clock, router)

        async def record(hook: str, **kwargs: Any) -> list[Any]:
            result.events.append((hook, kwargs.get("event")))
            return []

        hotspot.vouchers.emit = record
        await hotspot.open()
        # Requests run in the test's own event loop (AsyncTestClient would open the box in a
        # thread of its own, with its own database pool): the box is opened above instead.
        transport = httpx.ASGITransport(app=app, client=("10.5.50.1", 40000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://box.test") as client:
                result.client = client
                yield result
        finally:
            await hotspot.close()
