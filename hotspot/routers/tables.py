"""What the box last learned about each router, and every fair-usage change it made."""

from __future__ import annotations

from piccolo.columns import Boolean, DoublePrecision, Integer, Text, Varchar
from piccolo.table import Table

__all__ = ["FairUsageChange", "RouterRecord", "RouterStatus"]


class RouterRecord(Table, tablename="hotspot_router"):
    """A router the owner added in the admin (routers in config.yaml are not stored here)."""

    name = Varchar(length=64, unique=True)
    driver = Varchar(length=32, default="mikrotik")
    host = Varchar(length=255)
    port = Integer(default=8728)
    username = Varchar(length=64)
    password_sealed = Text()  # encrypted with the box's secret key (hotspot.secrets_box)
    tls = Boolean(default=False)
    site = Varchar(length=64, default="default")
    weight = Integer(default=1)
    latitude = DoublePrecision(null=True, default=None)
    longitude = DoublePrecision(null=True, default=None)
    enabled = Boolean(default=True)
    created_at = DoublePrecision()
    updated_at = DoublePrecision()


class RouterStatus(Table, tablename="hotspot_router_status"):
    """One row per router: shared by every app process, read by placement and the admin."""

    name = Varchar(length=64, unique=True)
    status = Varchar(length=16, default="unknown")  # unknown | ok | degraded | down
    detail = Varchar(length=300, default="")
    latency_ms = DoublePrecision(null=True, default=None)
    active_sessions = Integer(default=0)
    speed_factor = DoublePrecision(default=1.0)
    checked_at = DoublePrecision(null=True, default=None)
    changed_at = DoublePrecision(null=True, default=None)


class FairUsageChange(Table, tablename="hotspot_fair_usage_change"):
    """A router's sessions were slowed down or restored because its user count crossed a rule."""

    router = Varchar(length=64, index=True)
    at = DoublePrecision()
    active_users = Integer()
    factor_before = DoublePrecision()
    factor_after = DoublePrecision()
    sessions_changed = Integer(default=0)
