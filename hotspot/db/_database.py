"""One Piccolo engine per process, bound to every table, with SQLite's habits made safe.

Piccolo tables look their engine up lazily; `Database.open()` binds ours to every table of
every registered app, so the same code runs on the embedded SQLite file and on PostgreSQL.
On SQLite: WAL, a busy timeout, and one writer at a time (`write_lock`), as measured in
design.md ("database is locked" otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import aiosqlite
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType
from piccolo.table import Table

from hotspot.contracts import Health
from hotspot.errors import StorageError
from hotspot.health import gather_health

__all__ = ["Database", "PooledSQLiteEngine", "engine_for_url"]

Backend = Literal["sqlite", "postgres"]
_AFTER_COMMIT: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "hotspot_after_commit", default=None
)


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, keeping a few connections open between statements.

    Piccolo opens (and closes) a connection, with its own thread, for every statement outside
    a transaction: ~2.8 ms a SELECT here, most of a portal request. Each kept connection serves
    one statement at a time; transactions still get a connection of their own. A statement from
    an event loop other than the pool's (a test harness) takes Piccolo's path.
    """

    def __init__(self, *args: Any, pool_size: int = 4, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool_size = pool_size
        self._idle: list[aiosqlite.Connection] = []
        self._open_count = 0
        self._available: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start_pool(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._available = asyncio.Semaphore(self.pool_size)

    async def close_pool(self) -> None:
        idle, self._idle = self._idle, []
        self._loop = self._available = None
        for connection in idle:
            with contextlib.suppress(Exception):
                await connection.close()
        self._open_count = 0

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        available = self._available
        if available is None or asyncio.get_running_loop() is not self._loop:
            return await super()._run_in_new_connection(query, args, query_type, table)
        async with available:
            connection = self._idle.pop() if self._idle else await self._connect()
            healthy = False
            try:
                async with connection.execute(query, args or []) as cursor:
                    await connection.commit()
                    rows = await cursor.fetchall()
                healthy = True
                return rows
            finally:
                if healthy and self._available is available:
                    self._idle.append(connection)
                else:  # a failed statement may leave a transaction open: never reuse it
                    with contextlib.suppress(Exception):
                        await connection.rollback()
                        await connection.close()

    async def _connect(self) -> aiosqlite.Connection:
        connection = await self.get_connection()
        self._open_count += 1
        return connection

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return _PooledTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    def _borrow(self) -> aiosqlite.Connection | None:
        """An idle connection for a transaction, if the pool serves this loop and has one."""
        if self._available is None or asyncio.get_running_loop() is not self._loop or not self._idle:
            return None
        return self._idle.pop()

    async def _give_back(self, connection: aiosqlite.Connection, *, healthy: bool) -> None:
        if healthy and self._available is not None and len(self._idle) < self.pool_size:
            self._idle.append(connection)
            return
        with contextlib.suppress(Exception):
            await connection.close()


class _PooledTransaction(SQLiteTransaction):
    """Piccolo's SQLite transaction on a kept connection: opening one (a thread, the file, a
    pragma) was a third of a payment confirmation's time. The connection goes back to the pool
    only when COMMIT or ROLLBACK went through, so no half-open transaction is ever reused."""

    engine: PooledSQLiteEngine

    async def get_connection(self) -> Any:
        return self.engine._borrow() or await self.engine.get_connection()

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        healthy = False
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()  # type: ignore[no-untyped-call]
            elif not self._committed and not self._rolled_back:
                await self.commit()  # type: ignore[no-untyped-call]
            healthy = True
        finally:
            self.engine.current_transaction.reset(self.context)
            await self.engine._give_back(self.connection, healthy=healthy)
        return exception is None


def engine_for_url(url: str, *, busy_timeout: float = 10.0) -> tuple[Backend, Engine[Any]]:
    """Build the Piccolo engine a database URL names."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not str(path).startswith("/"):
            path = Path("/" + str(path)) if url.startswith("sqlite:////") else path
        return "sqlite", PooledSQLiteEngine(path=str(path), timeout=busy_timeout)
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
                if isinstance(self.engine, PooledSQLiteEngine):
                    await self.engine.start_pool()
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
        if isinstance(self.engine, PooledSQLiteEngine):
            await self.engine.close_pool()
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
        """A write transaction: takes the SQLite write lock first, so it never waits on 'locked'.

        A transaction opened inside another joins it. Callbacks registered with `after_commit`
        run once the outermost one has committed, and are dropped if it rolls back."""
        if _AFTER_COMMIT.get() is not None:
            yield
            return
        pending: list[Callable[[], None]] = []
        token = _AFTER_COMMIT.set(pending)
        try:
            async with self.write_lock():
                if isinstance(self.engine, SQLiteEngine):
                    async with self.engine.transaction(transaction_type=TransactionType.immediate):
                        yield
                else:
                    async with self.engine.transaction():
                        yield
        finally:
            _AFTER_COMMIT.reset(token)
        for callback in pending:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the current transaction commits, or now outside one.

        Why: waking a job worker inside a transaction lets it look before the job is visible
        (PostgreSQL), and it then sleeps a whole poll interval."""
        pending = _AFTER_COMMIT.get()
        if pending is None:
            callback()
        else:
            pending.append(callback)

    async def health(self) -> Health:
        async def ping() -> Health:
            await self.engine.run_ddl("SELECT 1")
            return Health("ok", self.backend)

        return (await gather_health({"database": ping}))["database"]
