"""MikroTik routers over the RouterOS API (librouteros): hotspot users, profiles and sessions."""

from __future__ import annotations

from typing import Any

from hotspot import PluginInfo, hookimpl
from hotspot.contracts import RouterDriver
from hotspot_mikrotik.config import MikrotikSettings
from hotspot_mikrotik.driver import MikrotikDriver

PLUGIN = PluginInfo(
    name="mikrotik",
    kind="router_driver",
    description="MikroTik RouterOS hotspot over the API (8728, or API-SSL 8729)",
    config=MikrotikSettings,
)


@hookimpl
def register_router_drivers(config: MikrotikSettings) -> list[RouterDriver]:
    return [MikrotikDriver(config)]


@hookimpl
async def shutdown(hotspot: Any) -> None:
    driver = hotspot.registry.router_drivers.get("mikrotik")
    if isinstance(driver, MikrotikDriver):
        await driver.close()
