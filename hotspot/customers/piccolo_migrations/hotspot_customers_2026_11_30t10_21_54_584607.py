from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T10:21:54:584607"
VERSION = "1.38.0"
DESCRIPTION = "One block in force per phone or device; one binding per phone and device"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="hotspot_customers", description=DESCRIPTION
    )

    async def create_indexes() -> None:
        engine = engine_finder()
        assert engine is not None
        # Rows a double-click left behind: keep the newest block still open on each subject
        # (the others are closed as lifted by the system), and the first of each binding.
        await engine.run_ddl(
            "UPDATE hotspot_customer_block SET lifted_at = created_at, lifted_by = 'system'"
            " WHERE lifted_at IS NULL AND id NOT IN"
            " (SELECT MAX(id) FROM hotspot_customer_block WHERE lifted_at IS NULL GROUP BY kind, value)"
        )
        await engine.run_ddl(
            "DELETE FROM hotspot_customer_binding WHERE id NOT IN"
            " (SELECT MIN(id) FROM hotspot_customer_binding GROUP BY phone, mac)"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS hotspot_customer_block_open"
            " ON hotspot_customer_block (kind, value) WHERE lifted_at IS NULL"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS hotspot_customer_binding_pair"
            " ON hotspot_customer_binding (phone, mac)"
        )

    manager.add_raw(create_indexes)
    return manager
