"""Typed settings, one model per concern; config.example.yaml documents every field."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from hotspot.config._units import check_day, parse_duration, parse_money, parse_rate, parse_size
from hotspot.contracts import RouterTarget

__all__ = [
    "BusinessSettings",
    "CurrencySettings",
    "CustomerSettings",
    "DatabaseSettings",
    "DiscountRuleSettings",
    "FairUsageRule",
    "FairUsageSettings",
    "JobsSettings",
    "LoggingSettings",
    "PackageSettings",
    "PaymentSettings",
    "PluginSettings",
    "PromoSettings",
    "RateLimitSettings",
    "RedisSettings",
    "RouterPoolSettings",
    "RouterSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
]


class _Section(BaseModel):
    """Unknown keys are errors, so a typo never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    public_url: str | None = Field(
        None, description="How customers and gateways reach the box, e.g. https://wifi.example.com"
    )
    behind_tls: bool = Field(False, description="Set when a TLS proxy fronts the box: secure cookies, HSTS")
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Proxies whose X-Forwarded-For is believed (nginx on the box)",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https:// followed by a host")
        return value.rstrip("/") if value else value


class DatabaseSettings(_Section):
    url: SecretStr | None = Field(
        None, description="sqlite:///PATH or postgresql://user:pass@host:port/db; default: SQLite in data_dir"
    )
    migrate_on_start: bool = True
    pool_size: int = Field(10, ge=1, le=200)
    sqlite_busy_timeout: float = Field(10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            raw = value.get_secret_value()
            if not raw.startswith(("sqlite:///", "postgresql://", "postgres://")):
                raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class RedisSettings(_Section):
    url: SecretStr | None = Field(None, description="redis://host:6379/0; unset = in-process stores")
    prefix: str = Field("hotspot", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


class SecuritySettings(_Section):
    secret_key: SecretStr | None = Field(None, description="Unset = generated once into data_dir/secret_key")
    session_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(
        12, ge=1, le=24 * 30, description="An admin session ends this long after sign-in, active or not"
    )
    password_min_length: int = Field(10, ge=10, le=128, description="Shortest admin password accepted")
    require_2fa: bool | None = Field(
        None, description="Every admin must use 2FA; unset = the owner decides in the admin"
    )
    login_max_failures: int = Field(5, ge=1, le=100, description="Wrong answers per username before a lock")
    login_max_failures_per_ip: int = Field(20, ge=1, le=1000, description="Wrong answers per IP: then a lock")
    lockout_seconds: int = Field(60, ge=1, le=86400, description="First lock; each further one doubles")
    lockout_max_seconds: int = Field(3600, ge=1, le=7 * 86400, description="Longest lock")
    login_failure_window_minutes: int = Field(
        15, ge=1, le=24 * 60, description="Failures older than this are forgotten"
    )
    api_token_max_days: int = Field(365, ge=1, le=3650, description="Longest lifetime of an API token")

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value


class RateLimitSettings(_Section):
    enabled: bool = True
    per_minute: int = Field(600, ge=1, description="Requests per client IP per minute across the app")


class JobsSettings(_Section):
    enabled: bool = Field(True, description="Run the background worker in this process")
    poll_seconds: float = Field(2.0, gt=0, le=300)
    concurrency: int = Field(4, ge=1, le=64)
    lease_seconds: float = Field(120.0, ge=5, description="A claimed job not finished by then is re-run")


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(False, alias="json", description="One JSON object per line")


class BusinessSettings(_Section):
    name: str = Field("Hotspot", min_length=1, max_length=80)
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166 code, e.g. KE")
    timezone: str = "Africa/Nairobi"
    currency: str = Field("KES", pattern=r"^[A-Z]{3}$", description="Default ISO 4217 currency")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Africa/Nairobi)")
        return value


class RouterSettings(_Section):
    """One router the box controls; credentials are secrets ({$env}/{$file})."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    driver: str = Field("mikrotik", description="Router driver kind, provided by an enabled plugin")
    host: str = Field(min_length=1)
    port: int = Field(8728, ge=1, le=65535, description="RouterOS API 8728, API-SSL 8729")
    username: str = Field(min_length=1)
    password: SecretStr
    tls: bool = False
    site: str = Field("default", min_length=1, description="Routers of one site can fail over to each other")
    weight: int = Field(1, ge=1, le=100, description="Share of new customers relative to peers")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)

    def target(self) -> RouterTarget:
        """What a driver needs to reach this router, password resolved."""
        return RouterTarget(
            self.name, self.host, self.port, self.username, self.password.get_secret_value(), self.tls
        )


class RouterPoolSettings(_Section):
    health_seconds: float = Field(15.0, ge=1, le=3600, description="How often every router is checked")
    usage_sync_seconds: float = Field(30.0, ge=1, le=3600, description="How often sessions and usage sync")
    slow_ms: float = Field(1500.0, gt=0, description="A router answering slower than this is degraded")


class FairUsageRule(_Section):
    above_users: int = Field(ge=1, description="Applies when a router has more active users than this")
    factor: float = Field(gt=0, le=1, description="Share of each package's speed everyone keeps")


class FairUsageSettings(_Section):
    enabled: bool = False
    rules: list[FairUsageRule] = Field(default_factory=list)
    floor_down_bps: int = Field(256_000, ge=0, description="Never slow a session's download below this")
    floor_up_bps: int = Field(128_000, ge=0, description="Never slow a session's upload below this")

    @field_validator("rules")
    @classmethod
    def _distinct(cls, value: list[FairUsageRule]) -> list[FairUsageRule]:
        thresholds = [r.above_users for r in value]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("two rules have the same above_users")
        return sorted(value, key=lambda r: r.above_users)

    def factor_for(self, active_users: int) -> float:
        """The factor of the highest rule whose threshold is exceeded; 1.0 when none is."""
        factor = 1.0
        if self.enabled:
            for rule in self.rules:
                if active_users > rule.above_users:
                    factor = rule.factor
        return factor


class PackageSettings(_Section):
    """A package as the owner writes it; seeded into an empty catalogue on start."""

    name: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=300)
    price: list[str] = Field(description='One price per currency, e.g. "50 KES" or ["50 KES", "0.40 USD"]')
    duration: int | str = Field(description="Access time from first login: 30m, 1h, 7d (or seconds)")
    data: int | str | None = Field(None, description="Data cap, download and upload together: 500MB, 2GB")
    down: int | str | None = Field(None, description="Download speed: 512k, 5M (bits per second)")
    up: int | str | None = Field(None, description="Upload speed: 256k, 2M")
    devices: int = Field(1, ge=1, le=20, description="Devices that may be online at once")
    visible: bool = True
    sort_order: int = 0

    @field_validator("price", mode="before")
    @classmethod
    def _price_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("price")
    @classmethod
    def _prices(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('give at least one price, e.g. "50 KES"')
        codes = [parse_money(v).currency for v in value]
        if len(set(codes)) != len(codes):
            raise ValueError("one price per currency")
        if any(parse_money(v).amount <= 0 for v in value):
            raise ValueError("a price must be more than zero")
        return value

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: int | str) -> int | str:
        if not 0 < parse_duration(value) <= 366 * 86400:
            raise ValueError("duration must be between 1 second and a year")
        return value

    @field_validator("data")
    @classmethod
    def _data(cls, value: int | str | None) -> int | str | None:
        if value is not None and parse_size(value) <= 0:
            raise ValueError("data cap must be more than zero")
        return value

    @field_validator("down", "up")
    @classmethod
    def _rate(cls, value: int | str | None) -> int | str | None:
        if value is not None and parse_rate(value) <= 0:
            raise ValueError("speed must be more than zero")
        return value

    @property
    def prices(self) -> dict[str, int]:
        return {m.currency: m.amount for m in map(parse_money, self.price)}

    @property
    def seconds(self) -> int:
        return parse_duration(self.duration)

    @property
    def bytes_total(self) -> int | None:
        return None if self.data is None else parse_size(self.data)

    @property
    def down_bps(self) -> int | None:
        return None if self.down is None else parse_rate(self.down)

    @property
    def up_bps(self) -> int | None:
        return None if self.up is None else parse_rate(self.up)


class PaymentSettings(_Section):
    """How long the box waits for a customer to pay, and how hard it protects strangers' phones."""

    timeout_seconds: float = Field(180.0, ge=30, le=3600, description="Give up on an unanswered prompt")
    first_check_seconds: float = Field(
        10.0, ge=0.1, le=300, description="First status check after a prompt is sent (then backing off)"
    )
    check_every_seconds: float = Field(5.0, ge=0.1, le=300, description="Status checks while waiting")
    per_phone_per_hour: int = Field(5, ge=1, description="Payment prompts one phone may receive per hour")
    per_device_per_hour: int = Field(10, ge=1, description="Payments one device (MAC) may start per hour")


class CurrencySettings(_Section):
    """Exchange rates and cash steps (rounding rules: hotspot.billing.currencies)."""

    rates: dict[str, str] = Field(
        default_factory=dict,
        description='What one unit of a currency is worth in another, e.g. {USD: "129.50 KES"}',
    )
    steps: dict[str, str] = Field(
        default_factory=dict, description='Smallest amount a price may move by, e.g. {KES: "5 KES"}'
    )

    @field_validator("rates", "steps", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for code, item in value.items():
                if not isinstance(item, str):
                    raise ValueError(
                        f'{code}: write {item!r} as a quoted decimal with its currency, e.g. "129.50 KES"'
                    )
        return value

    @field_validator("rates")
    @classmethod
    def _rates(cls, value: dict[str, str]) -> dict[str, str]:
        from hotspot.billing.currencies import Rates  # billing imports config: no cycle

        Rates(value)
        return value

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: dict[str, str]) -> dict[str, str]:
        for code, text in value.items():
            step = parse_money(text)
            if step.currency != code or step.amount <= 0:
                raise ValueError(f"{code}: the step must be a positive amount of {code}, not {text!r}")
        return value


class DiscountRuleSettings(_Section):
    """An automatic discount (hotspot.billing.discounts says exactly when each kind applies)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="Recorded on every order it priced")
    kind: Literal["bundle", "repeat"]
    label: str = Field("", max_length=80, description="What the customer reads, e.g. 'Weekly saver'")
    percent: int | float | str | None = Field(None, description="Percent off the list price, e.g. 10 or 12.5")
    amount: list[str] | None = Field(None, description='Fixed amount off per currency, e.g. ["10 KES"]')
    packages: list[str] = Field(default_factory=list, description="bundle: these packages (by name)")
    min_duration: int | str | None = Field(None, description="bundle: packages lasting at least this")
    min_data: int | str | None = Field(None, description="bundle: packages with at least this much data")
    every: int | None = Field(None, ge=2, le=1000, description="repeat: every Nth paid purchase by one phone")
    within: int | str = Field("30d", description="repeat: counting purchases paid within this long")
    stacks: bool = Field(False, description="Adds to the best other discount instead of competing with it")
    valid_from: date | None = Field(None, description="First day it applies (business time zone)")
    valid_until: date | None = Field(None, description="Last day it applies (business time zone)")

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("percent")
    @classmethod
    def _percent(cls, value: int | float | str | None) -> int | float | str | None:
        from hotspot.billing.percent import basis_points

        if value is not None:
            basis_points(value)
        return value

    @field_validator("amount")
    @classmethod
    def _amounts(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            amounts = [parse_money(v) for v in value]
            if not amounts or any(m.amount <= 0 for m in amounts):
                raise ValueError('give positive amounts, e.g. ["10 KES"]')
            if len({m.currency for m in amounts}) != len(amounts):
                raise ValueError("one amount per currency")
        return value

    @field_validator("min_duration", "within")
    @classmethod
    def _duration(cls, value: int | str | None) -> int | str | None:
        if value is not None and parse_duration(value) <= 0:
            raise ValueError("must be a positive duration, e.g. 7d")
        return value

    @field_validator("min_data")
    @classmethod
    def _data(cls, value: int | str | None) -> int | str | None:
        if value is not None and parse_size(value) <= 0:
            raise ValueError("must be a positive data size, e.g. 5GB")
        return value

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _day(cls, value: date | None) -> date | None:
        return None if value is None else check_day(value)

    @model_validator(mode="after")
    def _complete(self) -> DiscountRuleSettings:
        if (self.percent is None) == (self.amount is None):
            raise ValueError(f"discount {self.id!r}: give either percent or amount")
        if self.kind == "bundle" and not (self.packages or self.min_duration or self.min_data):
            raise ValueError(f"discount {self.id!r}: a bundle rule needs packages, min_duration or min_data")
        if self.kind == "repeat" and self.every is None:
            raise ValueError(
                f"discount {self.id!r}: a repeat rule needs every (e.g. 5 for every 5th purchase)"
            )
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError(f"discount {self.id!r}: valid_until is before valid_from")
        return self


class PromoSettings(_Section):
    """Guessing protection for promo codes (promos themselves live in the database)."""

    failures_per_client: int = Field(
        10, ge=1, description="Wrong promo codes one client (IP address or phone) may try per window"
    )
    window_minutes: int = Field(15, ge=1, le=24 * 60, description="Length of that window")


class CustomerSettings(_Section):
    """Customers are known by phone and devices, never registered; an optional one-time code
    sent to the phone lets a customer move a paid session to another device."""

    otp_enabled: bool | None = Field(
        None,
        description="Offer 'Already paid on another device?' on the portal; default: on when a "
        "notifier plugin is enabled (the code is sent through it), else off",
    )
    otp_ttl_minutes: int = Field(5, ge=1, le=60, description="How long a code works")
    otp_attempts: int = Field(5, ge=1, le=20, description="Wrong tries before a code stops working")
    otp_per_phone_per_hour: int = Field(3, ge=1, le=100, description="Codes sent to one phone per hour")
    otp_per_device_per_hour: int = Field(5, ge=1, le=100, description="Codes one device may ask for per hour")


class PluginSettings(BaseModel):
    """What every plugin block has; a plugin's own model subclasses this and adds its keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False


class Settings(_Section):
    data_dir: Path
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    security: SecuritySettings = SecuritySettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    jobs: JobsSettings = JobsSettings()
    logging: LoggingSettings = LoggingSettings()
    business: BusinessSettings = BusinessSettings()
    routers: list[RouterSettings] = Field(default_factory=list)
    router_pool: RouterPoolSettings = RouterPoolSettings()
    fair_usage: FairUsageSettings = FairUsageSettings()
    payments: PaymentSettings = PaymentSettings()
    packages: list[PackageSettings] = Field(default_factory=list)
    currencies: CurrencySettings = CurrencySettings()
    discounts: list[DiscountRuleSettings] = Field(default_factory=list)
    promos: PromoSettings = PromoSettings()
    customers: CustomerSettings = CustomerSettings()
    plugins: dict[str, PluginSettings] = Field(default_factory=dict)
    source: str | None = Field(None, description="Internal: the file these settings came from")
    # Dotted keys the config file (or the loader's overrides) sets: they win over what is saved
    # in the admin, which shows them as "set in the config file". Filled by load_settings.
    _pinned: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @property
    def pinned(self) -> frozenset[str]:
        return self._pinned

    def is_pinned(self, key: str) -> bool:
        """True when the config file sets `key` (e.g. "business.name"), or a part of it or above it."""
        return any(p == key or p.startswith(key + ".") or key.startswith(p + ".") for p in self.pinned)

    @field_validator("routers")
    @classmethod
    def _unique_router_names(cls, value: list[RouterSettings]) -> list[RouterSettings]:
        seen: set[str] = set()
        for router in value:
            if router.name in seen:
                raise ValueError(f"router name {router.name!r} is used twice")
            seen.add(router.name)
        return value

    @field_validator("packages")
    @classmethod
    def _unique_package_names(cls, value: list[PackageSettings]) -> list[PackageSettings]:
        names = [p.name for p in value]
        if len(set(names)) != len(names):
            raise ValueError("two packages have the same name")
        return value

    @field_validator("discounts")
    @classmethod
    def _unique_discount_ids(cls, value: list[DiscountRuleSettings]) -> list[DiscountRuleSettings]:
        ids = [rule.id for rule in value]
        if len(set(ids)) != len(ids):
            raise ValueError("two discounts have the same id")
        return value

    @property
    def database_url(self) -> str:
        """The configured URL, or the embedded SQLite file inside data_dir."""
        if self.database.url is not None:
            return self.database.url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'hotspot.db'}"

    @property
    def redis_url(self) -> str | None:
        return self.redis.url.get_secret_value() if self.redis.url is not None else None

    def plugin(self, name: str) -> PluginSettings:
        """A plugin's validated block (disabled defaults when absent)."""
        return self.plugins.get(name, PluginSettings())

    def redacted(self) -> dict[str, Any]:
        """Settings as plain data with secrets masked, safe for logs and the admin."""
        return self.model_dump(mode="json", by_alias=True)
