"""Fixtures for the portal tests (the helpers live in portal_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from portal_support import PACKAGES, AppFactory, PortalPlugins

from hotspot import PluginSettings
from hotspot.app import create_app


@pytest.fixture
async def portal_factory(make_settings: Any) -> AsyncIterator[AppFactory]:
    """Start portal apps (`fast`: payments settle and go online at once; `gateway`: have one;
    `notifier`: a RecordingNotifier, which turns on moving a session by SMS code)."""
    clients: list[AsyncTestClient[Litestar]] = []

    async def make(
        *, fast: bool = False, gateway: bool = True, notifier: bool = False, **extra: Any
    ) -> AsyncTestClient[Litestar]:
        overrides: dict[str, Any] = {
            "business": {"name": "Mama Mboga Cafe"},
            "packages": PACKAGES,
            "payments": {
                "first_check_seconds": 0.1 if fast else 300,
                "check_every_seconds": 0.1 if fast else 300,
            },
            "jobs": {"poll_seconds": 0.05, "enabled": fast},
            "routers": [
                {"name": "cafe-main", "driver": "fake", "host": "10.5.50.1", "username": "a", "password": "b"}
            ],
            **extra,
        }
        plugins = [
            ("portaltest", PortalPlugins(gateway=gateway, notifier=notifier), PluginSettings(enabled=True))
        ]
        app = create_app(make_settings(overrides), installed={}, extra_plugins=plugins)
        client = AsyncTestClient(app)
        await client.__aenter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.__aexit__(None, None, None)


@pytest.fixture
async def portal(portal_factory: AppFactory) -> AsyncTestClient[Litestar]:
    return await portal_factory()
