"""Which Piccolo apps make up the schema: the core's, then every *installed* plugin's.

Installed, not enabled: toggling a plugin in YAML must never change the schema.
"""

from __future__ import annotations

import importlib

from piccolo.conf.apps import AppConfig
from piccolo.table import Table

__all__ = ["CORE_APPS", "all_tables", "app_modules"]

CORE_APPS = [
    "hotspot.jobs.piccolo_app",
    "hotspot.access.piccolo_app",
    "hotspot.routers.piccolo_app",
    "hotspot.billing.piccolo_app",
    "hotspot.payments.piccolo_app",
    "hotspot.accounts.piccolo_app",
    "hotspot.vouchers.piccolo_app",
    "hotspot.customers.piccolo_app",
]


def app_modules() -> list[str]:
    from hotspot.plugins.manager import discover

    plugin_apps = [
        p.info.piccolo_app for p in discover().values() if p.info is not None and p.info.piccolo_app
    ]
    return [*CORE_APPS, *plugin_apps]


def all_tables() -> list[type[Table]]:
    tables: list[type[Table]] = []
    for module in app_modules():
        config: AppConfig = importlib.import_module(module).APP_CONFIG
        tables.extend(config.table_classes)
    return tables
