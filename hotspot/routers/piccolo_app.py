"""Piccolo app of the routers domain: router status and fair-usage log."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hotspot.routers.tables import FairUsageChange, RouterRecord, RouterStatus

APP_CONFIG = AppConfig(
    app_name="hotspot_routers",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[RouterStatus, FairUsageChange, RouterRecord],
    migration_dependencies=[],
    commands=[],
)
