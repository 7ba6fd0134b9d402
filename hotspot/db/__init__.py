"""Storage: the Piccolo engine (SQLite embedded default, PostgreSQL via asyncpg) and migrations."""

from hotspot.db._apps import CORE_APPS, all_tables, app_modules
from hotspot.db._bulk import bulk_update
from hotspot.db._database import Database, engine_for_url
from hotspot.db._migrate import migrate, pending_migrations

__all__ = [
    "CORE_APPS",
    "Database",
    "all_tables",
    "app_modules",
    "bulk_update",
    "engine_for_url",
    "migrate",
    "pending_migrations",
]
