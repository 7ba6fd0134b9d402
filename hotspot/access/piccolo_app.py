"""Piccolo app of the access domain: grants and sessions."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hotspot.access.tables import Grant, Session

APP_CONFIG = AppConfig(
    app_name="hotspot_access",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Grant, Session],
    migration_dependencies=[],
    commands=[],
)
