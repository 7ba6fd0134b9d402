from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T10:28:08:290670"
VERSION = "1.38.0"
DESCRIPTION = "Indexes for the redeem log's filters (code, IPs, outcome)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="hotspot_vouchers", description=DESCRIPTION
    )

    async def create_indexes() -> None:
        engine = engine_finder()
        assert engine is not None
        for name, columns in (
            ("code_tried", "code_tried"),
            ("ip", "ip"),  # with source_ip: "a.ip = x OR a.source_ip = x" uses both
            ("source_ip", "source_ip"),
            ("outcome_recent", "outcome, id"),  # by outcome, newest first (keyset on id)
        ):
            await engine.run_ddl(
                f"CREATE INDEX IF NOT EXISTS hotspot_voucher_attempt_{name}"
                f" ON hotspot_voucher_attempt ({columns})"
            )
        # "The start of a code" is code_tried LIKE 'ABC%': an index serves it on SQLite only
        # with NOCASE (its LIKE ignores case), on PostgreSQL only with pattern ops (its
        # collation is not byte order).
        if engine.engine_type == "sqlite":
            prefix = "code_tried COLLATE NOCASE"
        else:
            prefix = "code_tried varchar_pattern_ops"
        await engine.run_ddl(
            "CREATE INDEX IF NOT EXISTS hotspot_voucher_attempt_code_prefix"
            f" ON hotspot_voucher_attempt ({prefix})"
        )

    manager.add_raw(create_indexes)
    return manager
