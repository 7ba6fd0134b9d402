"""Make the audit log append-only in the database too: UPDATE and DELETE on it are refused.

The code has no update/delete path for hotspot_audit (a test greps for one); these triggers
stop a future mistake, or a hand-typed SQL statement, from rewriting history.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-30T06:47:33:999999"
VERSION = "1.38.0"
DESCRIPTION = "Audit log: refuse UPDATE and DELETE"

SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS hotspot_audit_no_update BEFORE UPDATE ON hotspot_audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS hotspot_audit_no_delete BEFORE DELETE ON hotspot_audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]
POSTGRES = [
    "CREATE OR REPLACE FUNCTION hotspot_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER hotspot_audit_append_only BEFORE UPDATE OR DELETE ON hotspot_audit"
    " FOR EACH ROW EXECUTE FUNCTION hotspot_audit_append_only()",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="hotspot_accounts", description=DESCRIPTION)

    async def create_triggers() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in SQLITE if isinstance(engine, SQLiteEngine) else POSTGRES:
            await engine.run_ddl(statement)

    manager.add_raw(create_triggers)
    return manager
