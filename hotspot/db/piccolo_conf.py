"""Piccolo's configuration module (PICCOLO_CONF=hotspot.db.piccolo_conf).

`DB` is set by hotspot.db.migrate / Database.open at run time from the Settings; the Piccolo CLI
(`piccolo migrations new hotspot_jobs --auto`) only needs APP_REGISTRY.
"""

from typing import Any

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

from hotspot.db._apps import app_modules

DB: Engine[Any] | None = None
APP_REGISTRY = AppRegistry(apps=app_modules())
