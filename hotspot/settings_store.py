"""Settings the owner changes in the admin or the setup wizard, kept in the database.

YAML stays the base and may pin a value (callers decide: a YAML value that is set wins); this
store holds what was chosen in the browser, as JSON under dotted keys (``security.require_2fa``,
``business.name``...). Every process reads the same rows; a short in-process cache keeps hot
reads (one per admin request) off the database, and the process that writes drops its cache at
once, others within ``cache_seconds``.

The table is registered by the accounts app (hotspot.accounts.piccolo_app), the first user.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from piccolo.columns import JSON, DoublePrecision, Serial, Varchar
from piccolo.table import Table

from hotspot.db import Database

__all__ = ["Setting", "SettingsStore"]

_MISSING = object()


class Setting(Table, tablename="hotspot_setting"):
    """One owner-chosen setting: a dotted key and its JSON value."""

    id = Serial(primary_key=True)
    key = Varchar(length=128, unique=True)
    value = JSON(default="null")
    updated_at = DoublePrecision()
    updated_by = Varchar(length=64, null=True, default=None)


class SettingsStore:
    def __init__(
        self, db: Database, *, cache_seconds: float = 5.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._cache: dict[str, tuple[float, Any]] = {}

    async def get(self, key: str, default: Any = None) -> Any:
        """The stored value, or `default` when the key was never set."""
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.cache_seconds:
            value = hit[1]
        else:
            rows = await Setting.select(Setting.value).where(Setting.key == key).run()
            value = _decode(rows[0]["value"]) if rows else _MISSING
            self._cache[key] = (now, value)
        return default if value is _MISSING else value

    async def set(self, key: str, value: Any, *, by: str | None = None) -> Any:
        """Store `value` (JSON-able) under `key`; returns the previous value (None if unset)."""
        encoded = json.dumps(value)
        now = self.clock()
        async with self.db.transaction():
            rows = await Setting.select(Setting.value).where(Setting.key == key).run()
            if rows:
                await (
                    Setting.update({Setting.value: encoded, Setting.updated_at: now, Setting.updated_by: by})
                    .where(Setting.key == key)
                    .run()
                )
            else:
                await Setting.insert(Setting(key=key, value=encoded, updated_at=now, updated_by=by)).run()
        self._cache.pop(key, None)
        return _decode(rows[0]["value"]) if rows else None

    async def all(self, prefix: str = "") -> dict[str, Any]:
        """Every stored setting whose key starts with `prefix`, uncached (for the admin's pages)."""
        query = Setting.select(Setting.key, Setting.value).order_by(Setting.key)
        if prefix:
            query = query.where(Setting.key.like(f"{prefix}%"))
        return {row["key"]: _decode(row["value"]) for row in await query.run()}


def _decode(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw
