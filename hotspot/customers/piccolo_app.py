"""Piccolo app of the customers domain: the one-time codes that move a paid session."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hotspot.customers.tables import MoveCode

APP_CONFIG = AppConfig(
    app_name="hotspot_customers",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[MoveCode],
    migration_dependencies=[],
    commands=[],
)
