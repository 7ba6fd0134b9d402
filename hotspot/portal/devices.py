"""Has the box ever had an order from this device? Asked for every phone that lands on the portal.

A device with no order at all cannot have a payment in flight or live access to greet
(`Checkout.for_device` reads orders by MAC), so the landing page can be the shop. The answer is
read from the database every time, never cached: an order made by another worker, a voucher
redeemed on the device, or anything else that writes an order is seen at once.

The one table the portal reads itself, for speed: on SQLite an indexed point read on a
connection of this process's own, run in the event loop (~10 us; handing it to a thread like
Piccolo does costs far more than the read). WAL readers never wait for the writer; if the read
fails anyway (busy, file gone), it falls back to Piccolo. PostgreSQL goes through Piccolo.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

from piccolo.engine.sqlite import SQLiteEngine

from hotspot.db import Database
from hotspot.payments.tables import Order

__all__ = ["DeviceOrders"]

log = logging.getLogger("hotspot.portal")


class DeviceOrders:
    """`await has_any(mac)`: is there an order row for this MAC (any state, any age)?"""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sql = f'SELECT 1 FROM "{Order._meta.tablename}" WHERE "mac" = ? LIMIT 1'  # noqa: S608 (our table, a placeholder)
        self._connection: sqlite3.Connection | None = None
        self._direct = isinstance(db.engine, SQLiteEngine)

    def _path(self) -> Path | None:
        if not isinstance(self.db.engine, SQLiteEngine):
            return None
        path = Path(str(self.db.engine.connection_kwargs.get("database", "")))
        return path if path.is_file() else None  # not ":memory:", not before the file exists

    def _read(self, mac: str) -> bool | None:
        """The direct read; None when it could not be done (the caller asks Piccolo)."""
        if self._connection is None:
            path = self._path()
            if path is None:
                return None
            connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA query_only = ON")
            self._connection = connection
        try:
            return self._connection.execute(self._sql, (mac,)).fetchone() is not None
        except sqlite3.Error as exc:
            log.warning("direct read of orders by MAC failed (%s); asking through Piccolo", exc)
            self.close()
            return None

    async def has_any(self, mac: str) -> bool:
        if self._direct:
            found = self._read(mac)
            if found is not None:
                return found
        return bool(await Order.exists().where(Order.mac == mac).run())

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
