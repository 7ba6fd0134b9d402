"""Piccolo app of the payments domain: orders, payments and raw callbacks."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hotspot.payments.tables import Order, Payment, PaymentCallback

APP_CONFIG = AppConfig(
    app_name="hotspot_payments",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Order, Payment, PaymentCallback],
    migration_dependencies=[],
    commands=[],
)
