"""The `plugins.mikrotik` block."""

from __future__ import annotations

from pydantic import Field

from hotspot.config import PluginSettings

__all__ = ["MikrotikSettings"]


class MikrotikSettings(PluginSettings):
    connect_timeout: float = Field(5.0, gt=0, le=60, description="Seconds to open and log in to the API")
    command_timeout: float = Field(10.0, gt=0, le=120, description="Seconds one API command may take")
    profile_prefix: str = Field(
        "hs-", pattern=r"^[A-Za-z0-9_.-]{0,16}$", description="Prefix of the user profiles Hotspot owns"
    )
    hotspot_server: str = Field("all", min_length=1, description="Hotspot server users are created for")
    tls_verify: bool = Field(False, description="Verify API-SSL certificates (routers usually self-sign)")
    tls_ca_file: str | None = Field(None, description="CA bundle for API-SSL when tls_verify is on")
