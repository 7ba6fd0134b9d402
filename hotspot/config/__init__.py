"""Configuration: YAML file + secrets indirection -> typed, validated Settings."""

from hotspot.config._loader import (
    CONFIG_ENV,
    DATA_DIR_ENV,
    find_config_file,
    load_settings,
    resolve_data_dir,
    secret_key,
)
from hotspot.config._settings import (
    BusinessSettings,
    DatabaseSettings,
    FairUsageRule,
    FairUsageSettings,
    JobsSettings,
    LoggingSettings,
    PluginSettings,
    RateLimitSettings,
    RedisSettings,
    RouterPoolSettings,
    RouterSettings,
    SecuritySettings,
    ServerSettings,
    Settings,
)

__all__ = [
    "CONFIG_ENV",
    "DATA_DIR_ENV",
    "BusinessSettings",
    "DatabaseSettings",
    "FairUsageRule",
    "FairUsageSettings",
    "JobsSettings",
    "LoggingSettings",
    "PluginSettings",
    "RateLimitSettings",
    "RedisSettings",
    "RouterPoolSettings",
    "RouterSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "find_config_file",
    "load_settings",
    "resolve_data_dir",
    "secret_key",
]
