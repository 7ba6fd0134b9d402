"""Piccolo app of the vouchers domain: batches, vouchers, their devices and redeem attempts."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from hotspot.vouchers.tables import Voucher, VoucherAttempt, VoucherBatch, VoucherDevice

APP_CONFIG = AppConfig(
    app_name="hotspot_vouchers",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[VoucherBatch, Voucher, VoucherDevice, VoucherAttempt],
    migration_dependencies=[],
    commands=[],
)
