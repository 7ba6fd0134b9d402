from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.columns.column_types import BigInt
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T07:00:41:250762"
VERSION = "1.38.0"
DESCRIPTION = "Session rates; indexes for newest-first session lists"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="hotspot_access", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Session",
        tablename="hotspot_session",
        column_name="rate_in_bps",
        db_column_name="rate_in_bps",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="Session",
        tablename="hotspot_session",
        column_name="rate_out_bps",
        db_column_name="rate_out_bps",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    async def create_indexes() -> None:
        # Newest-first keyset pages (started_at, id): open sessions, and the whole history.
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "CREATE INDEX IF NOT EXISTS hotspot_session_open_recent ON hotspot_session (started_at, id)"
            " WHERE ended_at IS NULL"
        )
        await engine.run_ddl(
            "CREATE INDEX IF NOT EXISTS hotspot_session_recent ON hotspot_session (started_at, id)"
        )

    manager.add_raw(create_indexes)
    return manager
