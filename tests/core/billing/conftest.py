"""Fixtures for the billing tests (helpers live in billing_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from billing_support import Shop, ShopPlugin, TillGateway, shop_overrides
from fakes import Clock

from hotspot.app import create_app
from hotspot.config import PluginSettings
from hotspot.runtime import Hotspot

ShopFactory = Callable[..., Awaitable[Shop]]


@pytest.fixture
async def shop_factory(make_settings: Any) -> AsyncIterator[ShopFactory]:
    """Open shops on this backend; `extra` overrides the shop's config (e.g. other discounts)."""
    opened: list[Hotspot] = []

    async def make(**extra: Any) -> Shop:
        gateway = TillGateway()
        app = create_app(
            make_settings(shop_overrides(**extra)),
            installed={},
            extra_plugins=[("shop", ShopPlugin(gateway), PluginSettings(enabled=True))],
        )
        hotspot: Hotspot = app.state.hotspot
        clock = Clock()
        for part in (hotspot.jobs, hotspot.grants, hotspot.payments, hotspot.checkout):
            part.clock = clock
        await hotspot.open()
        opened.append(hotspot)
        ids = {p.name: p.id for p in await hotspot.catalog.visible()}
        return Shop(hotspot, gateway, clock, ids)

    yield make
    for hotspot in opened:
        await hotspot.close()


@pytest.fixture
async def shop(shop_factory: ShopFactory) -> Shop:
    return await shop_factory()
