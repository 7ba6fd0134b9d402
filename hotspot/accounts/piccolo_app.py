"""Piccolo app of the accounts domain: admins, API tokens, audit and security logs, settings."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hotspot.accounts.tables import AdminUser, ApiToken, AuditEntry, SecurityEventRecord
from hotspot.settings_store import Setting

APP_CONFIG = AppConfig(
    app_name="hotspot_accounts",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[AdminUser, ApiToken, AuditEntry, SecurityEventRecord, Setting],
    migration_dependencies=[],
    commands=[],
)
