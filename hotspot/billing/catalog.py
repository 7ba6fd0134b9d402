"""The package catalogue: what the portal offers, read often and changed rarely.

The visible list is cached in memory per process and dropped on every change made through
this class (design.md: Piccolo on SQLite opens a connection per query). Other processes see
an admin edit within `ttl` seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hotspot.billing.tables import Package
from hotspot.config import PackageSettings
from hotspot.contracts import Money
from hotspot.db import Database
from hotspot.errors import HotspotError

__all__ = ["Catalog", "PackageNameTaken", "PackageNotFound", "PackageView"]


class PackageNotFound(HotspotError):
    """No package (on sale) has that id."""


class PackageNameTaken(HotspotError):
    """Another package already has that name (names are what customers and reports see)."""


@dataclass(frozen=True)
class PackageView:
    """A package row with its prices as Money."""

    id: int
    name: str
    description: str
    prices: dict[str, Money]
    seconds: int
    bytes_total: int | None
    down_bps: int | None
    up_bps: int | None
    devices: int
    visible: bool
    sort_order: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PackageView:
        raw = row["prices"]
        prices = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        return cls(
            id=int(row["id"]),
            name=row["name"],
            description=row["description"],
            prices={code: Money(int(amount), code) for code, amount in prices.items()},
            seconds=int(row["seconds"]),
            bytes_total=row["bytes_total"],
            down_bps=row["down_bps"],
            up_bps=row["up_bps"],
            devices=int(row["devices"]),
            visible=bool(row["visible"]),
            sort_order=int(row["sort_order"]),
        )


@dataclass
class Catalog:
    """Read and change packages; the visible list is served from a short-lived cache."""

    db: Database
    ttl: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _cache: tuple[float, list[PackageView]] | None = field(default=None, repr=False)

    async def visible(self) -> list[PackageView]:
        now = self.clock()
        if self._cache is not None and now - self._cache[0] < self.ttl:
            return self._cache[1]
        query = Package.select().where(Package.visible.eq(True))
        rows = await query.order_by(Package.sort_order).order_by(Package.id).run()
        packages = [PackageView.from_row(r) for r in rows]
        self._cache = (now, packages)
        return packages

    async def get(self, package_id: int, *, visible_only: bool = True) -> PackageView:
        if visible_only:
            for package in await self.visible():
                if package.id == package_id:
                    return package
            raise PackageNotFound(f"no package #{package_id} is on sale")
        row = await Package.select().where(Package.id == package_id).first().run()
        if row is None:
            raise PackageNotFound(f"no package #{package_id}")
        return PackageView.from_row(row)

    async def all(self) -> list[PackageView]:
        rows = await Package.select().order_by(Package.sort_order).order_by(Package.id).run()
        return [PackageView.from_row(r) for r in rows]

    async def upsert(self, spec: PackageSettings) -> tuple[int, bool]:
        """Create the package, or update the one with the same name; returns (id, created)."""
        now = time.time()
        values = self._values(spec)
        async with self.db.write_lock():
            existing = await Package.select(Package.id).where(Package.name == spec.name).first().run()
            if existing is None:
                [row] = (
                    await Package.insert(Package(**values, created_at=now, updated_at=now))
                    .returning(Package.id)
                    .run()
                )
                package_id, created = int(row["id"]), True
            else:
                package_id, created = int(existing["id"]), False
                columns = {getattr(Package, k): v for k, v in values.items()}
                await (
                    Package.update({**columns, Package.updated_at: now}).where(Package.id == package_id).run()
                )
        self._cache = None
        return package_id, created

    async def seed(self, specs: list[PackageSettings]) -> int:
        """Add the config's packages when the catalogue is empty (an owner's later edits win)."""
        if not specs or await Package.count().run():
            return 0
        for spec in specs:
            await self.upsert(spec)
        return len(specs)

    # --- the admin's changes (hotspot.admin.packages_page); each drops the cache at once ----------

    @staticmethod
    def _values(spec: PackageSettings) -> dict[str, Any]:
        return {
            "name": spec.name,
            "description": spec.description,
            "prices": json.dumps(spec.prices, sort_keys=True),
            "seconds": spec.seconds,
            "bytes_total": spec.bytes_total,
            "down_bps": spec.down_bps,
            "up_bps": spec.up_bps,
            "devices": spec.devices,
            "visible": spec.visible,
            "sort_order": spec.sort_order,
        }

    async def _name_taken(self, name: str, but: int | None) -> None:
        query = Package.exists().where(Package.name == name)
        if but is not None:
            query = query.where(Package.id != but)
        if await query.run():
            raise PackageNameTaken(f"a package called {name!r} exists already")

    async def create(self, spec: PackageSettings) -> PackageView:
        """A new package; PackageNameTaken when the name is in use (upsert would change that one)."""
        now = time.time()
        async with self.db.write_lock():
            await self._name_taken(spec.name, None)
            [row] = (
                await Package.insert(Package(**self._values(spec), created_at=now, updated_at=now))
                .returning(Package.id)
                .run()
            )
        self._cache = None
        return await self.get(int(row["id"]), visible_only=False)

    async def update(self, package_id: int, spec: PackageSettings) -> PackageView:
        """Change every term of one package, its name included; orders already made keep theirs."""
        async with self.db.write_lock():
            if not await Package.exists().where(Package.id == package_id).run():
                raise PackageNotFound(f"no package #{package_id}")
            await self._name_taken(spec.name, package_id)
            columns = {getattr(Package, k): v for k, v in self._values(spec).items()}
            changes = {**columns, Package.updated_at: time.time()}
            await Package.update(changes).where(Package.id == package_id).run()
        self._cache = None
        return await self.get(package_id, visible_only=False)

    async def set_visible(self, package_id: int, visible: bool) -> PackageView:
        """Offer a package on the portal again, or stop offering it (sold ones stay on record)."""
        async with self.db.write_lock():
            changed = await (
                Package.update({Package.visible: visible, Package.updated_at: time.time()})
                .where(Package.id == package_id)
                .returning(Package.id)
                .run()
            )
        if not changed:
            raise PackageNotFound(f"no package #{package_id}")
        self._cache = None
        return await self.get(package_id, visible_only=False)

    async def move(self, package_id: int, offset: int) -> list[PackageView]:
        """Move a package `offset` places in the portal's order; every position is renumbered
        1, 2, 3... so ties left by hand-written sort orders cannot make a move do nothing."""
        async with self.db.transaction():
            ordered = await self.all()
            ids = [p.id for p in ordered]
            if package_id not in ids:
                raise PackageNotFound(f"no package #{package_id}")
            start = ids.index(package_id)
            ids.insert(max(0, min(len(ids) - 1, start + offset)), ids.pop(start))
            now, orders = time.time(), {p.id: p.sort_order for p in ordered}
            for position, pid in enumerate(ids, 1):
                if orders[pid] != position:
                    await (
                        Package.update({Package.sort_order: position, Package.updated_at: now})
                        .where(Package.id == pid)
                        .run()
                    )
        self._cache = None
        return await self.all()

    async def delete(self, package_id: int) -> None:
        """Remove a package for good. The caller checks it was never sold (hide it otherwise):
        reports and vouchers refer to packages by id."""
        async with self.db.write_lock():
            gone = await Package.delete().where(Package.id == package_id).returning(Package.id).run()
        if not gone:
            raise PackageNotFound(f"no package #{package_id}")
        self._cache = None

    def forget(self) -> None:
        self._cache = None
