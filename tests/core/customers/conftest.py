"""Fixtures for the customer tests: the real core and MikroTik driver on a simulated router,
a notifier that keeps the SMS it was asked to send, and one phone that paid for access."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from customer_support import DEVICES, PACKAGES, Box, RecordingNotifier, Texts
from fakes import Clock

from hotspot.app import create_app
from hotspot.config import PluginSettings
from hotspot.plugins import discover, settings_models
from hotspot.runtime import Hotspot
from hotspot.sim.routeros import RouterOSSimulator


@pytest.fixture
async def box(make_settings: Any) -> AsyncIterator[Box]:
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
        app = create_app(settings, extra_plugins=[("texts", Texts(notifier), PluginSettings(enabled=True))])
        hotspot: Hotspot = app.state.hotspot
        clock = Clock()
        for part in (hotspot.jobs, hotspot.grants, hotspot.usage, hotspot.routers, hotspot.customers):
            part.clock = clock
        result = Box(hotspot, clock, router, notifier)

        async def record(hook: str, **kwargs: Any) -> list[Any]:
            result.events.append((hook, kwargs.get("event")))
            return []

        hotspot.customers.emit = record
        await hotspot.open()
        try:
            yield result
        finally:
            await hotspot.close()
