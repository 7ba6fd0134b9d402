"""Bring the schema up to date with Piccolo's migrations; safe with several processes starting."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import AsyncIterator

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration

from hotspot.db._database import Database
from hotspot.errors import StorageError

__all__ = ["migrate", "pending_migrations"]

log = logging.getLogger("hotspot.db")
PICCOLO_CONF = "hotspot.db.piccolo_conf"
_LOCK_ID = 0x486F7473  # "Hots": one advisory lock so concurrent starts migrate once


def _use_engine(db: Database) -> None:
    os.environ["PICCOLO_CONF"] = PICCOLO_CONF
    from hotspot.db import piccolo_conf

    piccolo_conf.DB = db.engine


async def _applied() -> set[str]:
    if not await Migration.table_exists().run():
        return set()
    rows = await Migration.select(Migration.name).run()
    return {row["name"] for row in rows}


@contextlib.asynccontextmanager
async def _exclusive(db: Database) -> AsyncIterator[None]:
    """One migrator at a time across processes: SQLite's reserved lock, or an advisory lock."""
    async with db.transaction():
        if not db.is_sqlite:
            await db.engine.run_ddl(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
        yield


async def migrate(db: Database) -> list[str]:
    """Apply every migration not yet applied, atomically; return the ids applied now."""
    _use_engine(db)
    db.bind([])
    output = io.StringIO()
    try:
        async with _exclusive(db):
            before = await _applied()
            with contextlib.redirect_stdout(output):
                result = await run_forwards("all")
            if not result.success:
                raise StorageError(f"migration failed: {result.message}")
            applied = sorted(await _applied() - before)
    except StorageError:
        raise
    except Exception as exc:
        log.debug("piccolo said: %s", output.getvalue())
        raise StorageError(f"migration failed: {type(exc).__name__}: {exc}") from exc
    for migration_id in applied:
        log.info("applied migration %s", migration_id)
    return applied


async def pending_migrations(db: Database) -> list[str]:
    """Migration ids the code has and the database has not run yet."""
    _use_engine(db)
    db.bind([])
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    manager = BaseMigrationManager()
    done = await _applied()
    pending: list[str] = []
    for app_name in manager.get_sorted_app_names():
        config = manager.get_app_config(app_name)
        modules = manager.get_migration_modules(config.resolved_migrations_folder_path)
        pending.extend(i for i in manager.get_migration_ids(modules) if i not in done)
    return pending
