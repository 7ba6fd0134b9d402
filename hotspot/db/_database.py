"""One Piccolo engine per process, bound to every table, with SQLite's habits made safe.

Piccolo tables look their engine up lazily; `Database.open()` binds ours to every table of
every registered app, so the same code runs on the embedded SQLite file and on PostgreSQL.
On SQLite: WAL, a busy timeout, and one writer at a time (`write_lock`), as measured in
design.md ("database is locked" otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from hotspot.contracts import Health
from hotspot.errors import StorageError
from hotspot.health import gather_health

__all__ = ["Database", "engine_for_url"]

Backend = Literal["sqlite", "postgres"]


def engine_for_url(url: str, *, busy_timeout: float = 10.0) -> tuple[Backend, Engine[Any]]:
    """Build the Piccolo engine a database URL names."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not str(path).startswith("/"):
            path = Path("/" + str(path)) if url.startswith("sqlite:////") else path
        return "sqlite", SQLiteEngine(path=str(path), timeout=busy_timeout)
    parts = urlsplit(url)
    config: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "database": unquote(parts.path.lstrip("/")) or "hotspot",
    }
    if parts.username:
        config["user"] = unquote(parts.username)
    if parts.password:
        config["password"] = unquote(parts.password)
    return "postgres", PostgresEngine(config=config, extensions=())


class Database:
    """The process's database: engine, table binding, health and the SQLite write lock."""

    def __init__(self, url: str, *, pool_size: int = 10, busy_timeout: float = 10.0) -> None:
        self.url = url
        self.backend, self.engine = engine_for_url(url, busy_timeout=busy_timeout)
        self.pool_size = pool_size
        self._write_lock = asyncio.Lock()
        self._writer: asyncio.Task[Any] | None = None
        self._open = False

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    def bind(self, tables: Iterable[type[Table]]) -> None:
        """Point every given table (and Piccolo's own migration table) at this engine."""
        bound: list[type[Table]] = [*tables, Migration]
        for table in bound:
            table._meta.db = self.engine

    async def open(self, tables: Iterable[type[Table]]) -> None:
        self.bind(tables)
        try:
            if isinstance(self.engine, SQLiteEngine):
                path = Path(self.engine.connection_kwargs["database"])
                path.parent.mkdir(parents=True, exist_ok=True)
                # WAL persists in the file; set it once so readers never block the writer.
                await self.engine.run_ddl("PRAGMA journal_mode=WAL")
            else:
                assert isinstance(self.engine, PostgresEngine)
                await self.engine.start_connection_pool(min_size=1, max_size=self.pool_size)
            await self.engine.run_ddl("SELECT 1")
        except (OSError, sqlite3.Error, ConnectionError) as exc:
            raise StorageError(f"cannot open the database: {exc}") from exc
        except Exception as exc:  # asyncpg raises its own tree; name it without leaking the URL
            raise StorageError(f"cannot open the database: {type(exc).__name__}: {exc}") from exc
        self._open = True

    async def close(self) -> None:
        if self._open and isinstance(self.engine, PostgresEngine):
            await self.engine.close_connection_pool()
        self._open = False

    @contextlib.asynccontextmanager
    async def write_lock(self) -> AsyncIterator[None]:
        """Serialise writers on SQLite (one file, one writer); free on PostgreSQL.

        Re-entrant within one task, so a service that writes under the lock can be called
        inside another's `transaction()` (a payment's confirmation creates its grant)."""
        me = asyncio.current_task()
        if not self.is_sqlite or (me is not None and self._writer is me):
            yield
            return
        async with self._write_lock:
            self._writer = me
            try:
                yield
            finally:
                self._writer = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A write transaction: takes the SQLite write lock first, so it never waits on 'locked'."""
        async with self.write_lock():
            if isinstance(self.engine, SQLiteEngine):
                async with self.engine.transaction(transaction_type=TransactionType.immediate):
                    yield
            else:
                async with self.engine.transaction():
                    yield

    async def health(self) -> Health:
        async def ping() -> Health:
            await self.engine.run_ddl("SELECT 1")
            return Health("ok", self.backend)

        return (await gather_health({"database": ping}))["database"]
