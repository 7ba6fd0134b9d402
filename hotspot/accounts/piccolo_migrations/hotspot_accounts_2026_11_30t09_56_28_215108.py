from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T09:56:28:215108"
VERSION = "1.38.0"
DESCRIPTION = "Admin accounts: the colour mode each admin picked"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="hotspot_accounts", description=DESCRIPTION)

    manager.add_column(
        table_class_name="AdminUser",
        tablename="hotspot_admin",
        column_name="theme",
        db_column_name="theme",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 8,
            "default": "",
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

    return manager
