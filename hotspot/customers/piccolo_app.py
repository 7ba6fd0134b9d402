"""Piccolo app of the customers domain: the codes that move a paid session, blocks and bindings."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hotspot.customers.tables import Binding, Block, MoveCode

APP_CONFIG = AppConfig(
    app_name="hotspot_customers",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[MoveCode, Block, Binding],
    migration_dependencies=[],
    commands=[],
)
