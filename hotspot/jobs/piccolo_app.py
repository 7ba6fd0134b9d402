"""Piccolo app of the jobs domain: its tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hotspot.jobs.tables import Job

APP_CONFIG = AppConfig(
    app_name="hotspot_jobs",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Job],
    migration_dependencies=[],
    commands=[],
)
