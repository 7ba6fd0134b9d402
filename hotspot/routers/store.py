"""Routers the owner adds in the admin, kept in the database beside the ones in config.yaml.

A router is validated exactly like a YAML one (RouterSettings), tested by connecting before it
is saved (the setup-wizard habit), and its password is sealed with the box's secret key. The
process that changes it rebuilds its pool at once; every other process reloads on its own every
`router_pool.health_seconds` (Hotspot._refresh_routers_forever).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import SecretStr

from hotspot.config import RouterSettings
from hotspot.contracts import Health, RouterDriver
from hotspot.db import Database
from hotspot.errors import HotspotError
from hotspot.routers.pool import RouterPool
from hotspot.routers.tables import RouterRecord
from hotspot.secrets_box import SecretBox, SecretUnreadable

__all__ = ["RouterStore", "RouterStoreError"]

log = logging.getLogger("hotspot.routers")


class RouterStoreError(HotspotError):
    """The router cannot be saved or removed as asked (the message says why)."""


class RouterStore:
    def __init__(
        self,
        db: Database,
        pool: RouterPool,
        configured: list[RouterSettings],
        drivers: Mapping[str, RouterDriver],
        box: SecretBox,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.pool = pool
        self.configured = configured
        self.drivers = drivers
        self.box = box
        self.clock = clock

    async def stored(self) -> list[RouterSettings]:
        """Enabled routers from the database whose driver is available; others are logged."""
        routers: list[RouterSettings] = []
        for row in (
            await RouterRecord.select().where(RouterRecord.enabled.eq(True)).order_by(RouterRecord.name).run()
        ):
            if row["driver"] not in self.drivers:
                log.warning(
                    "router %r needs driver %r, which no enabled plugin provides", row["name"], row["driver"]
                )
                continue
            try:
                routers.append(self._settings(row))
            except SecretUnreadable as exc:
                log.error("router %r: %s", row["name"], exc)
        return routers

    async def refresh_pool(self) -> None:
        names = {r.name for r in self.configured}
        stored = [r for r in await self.stored() if r.name not in names]
        self.pool.reload([*self.configured, *stored])

    async def test(self, router: RouterSettings) -> Health:
        """Connect and ask the router about itself, before anything is saved."""
        driver = self._driver(router)
        target = router.target()
        try:
            return await driver.health(target)
        except Exception as exc:
            return Health("down", str(exc) or type(exc).__name__)

    async def save(self, router: RouterSettings, *, enabled: bool = True) -> None:
        """Add or update an admin-managed router and put it in the pool (a disabled one leaves it)."""
        if any(r.name == router.name for r in self.configured):
            raise RouterStoreError(f"router {router.name!r} is defined in the config file; change it there")
        self._driver(router)
        now = self.clock()
        values: dict[Any, Any] = {
            RouterRecord.driver: router.driver,
            RouterRecord.host: router.host,
            RouterRecord.port: router.port,
            RouterRecord.username: router.username,
            RouterRecord.password_sealed: self.box.seal(router.password.get_secret_value()),
            RouterRecord.tls: router.tls,
            RouterRecord.site: router.site,
            RouterRecord.weight: router.weight,
            RouterRecord.latitude: router.latitude,
            RouterRecord.longitude: router.longitude,
            RouterRecord.enabled: enabled,
            RouterRecord.updated_at: now,
        }
        async with self.db.write_lock():
            exists = await RouterRecord.exists().where(RouterRecord.name == router.name).run()
            if exists:
                await RouterRecord.update(values).where(RouterRecord.name == router.name).run()
            else:
                fields = {column._meta.name: value for column, value in values.items()}
                await RouterRecord.insert(RouterRecord(name=router.name, created_at=now, **fields)).run()
        await self.refresh_pool()

    async def get(self, name: str) -> tuple[RouterSettings, bool] | None:
        """An admin-managed router with its password opened, and whether it is enabled (for editing)."""
        row = await RouterRecord.select().where(RouterRecord.name == name).first().run()
        if row is None:
            return None
        return self._settings(row), bool(row["enabled"])

    async def remove(self, name: str) -> None:
        if any(r.name == name for r in self.configured):
            raise RouterStoreError(f"router {name!r} is defined in the config file; remove it there")
        async with self.db.write_lock():
            deleted = (
                await RouterRecord.delete()
                .where(RouterRecord.name == name)
                .returning(RouterRecord.name)
                .run()
            )
        if not deleted:
            raise RouterStoreError(f"no router named {name!r}")
        await self.refresh_pool()

    async def listing(self) -> list[dict[str, Any]]:
        """Every router, where it is defined, never with its password (for the admin)."""
        out = [{**r.model_dump(mode="json"), "source": "config"} for r in self.configured]
        for row in await RouterRecord.select(
            *RouterRecord.all_columns(exclude=[RouterRecord.password_sealed])
        ).run():
            out.append({**row, "password": "**********", "source": "admin"})
        return out

    def _driver(self, router: RouterSettings) -> RouterDriver:
        driver = self.drivers.get(router.driver)
        if driver is None:
            known = ", ".join(sorted(self.drivers)) or "none"
            raise RouterStoreError(
                f"no enabled plugin provides router driver {router.driver!r} (available: {known})"
            )
        return driver

    def _settings(self, row: Mapping[str, Any]) -> RouterSettings:
        return RouterSettings(
            name=row["name"],
            driver=row["driver"],
            host=row["host"],
            port=row["port"],
            username=row["username"],
            password=SecretStr(self.box.open(row["password_sealed"])),
            tls=row["tls"],
            site=row["site"],
            weight=row["weight"],
            latitude=row["latitude"],
            longitude=row["longitude"],
        )
