"""Piccolo app of the billing domain: packages, promo codes and their uses."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hotspot.billing.tables import Package, Promo, PromoUse

APP_CONFIG = AppConfig(
    app_name="hotspot_billing",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Package, Promo, PromoUse],
    migration_dependencies=[],
    commands=[],
)
