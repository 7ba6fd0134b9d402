"""The running appliance: settings, storage, stores, channels, locks, jobs and plugins in one place.

One `Hotspot` per process, built by create_app and kept on `app.state.hotspot` (HA's
runtime_data, not a global). Domain services receive it instead of importing each other's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry
from redis.asyncio import Redis

from hotspot import __version__
from hotspot.access.expiry import EVERY as EXPIRY_EVERY
from hotspot.access.expiry import ExpiryWatch
from hotspot.access.grants import GrantService
from hotspot.access.usage import UsageSync
from hotspot.accounts import AccountService, AlertJobs
from hotspot.billing import Catalog, Currencies, Discounts, Pricing, PromoGuard, Promos
from hotspot.config import BusinessSettings, Settings, secret_key
from hotspot.contracts import Health
from hotspot.customers import Customers
from hotspot.db import Database, all_tables, migrate
from hotspot.errors import StartupRefused, StorageError
from hotspot.health import gather_health, health_dict
from hotspot.jobs import JobContext, Jobs
from hotspot.locks import Locks, MemoryLocks, RedisLocks
from hotspot.payments import Checkout, Payments
from hotspot.plugins import ImplOutcome, InstalledPlugin, Registry, fan_out
from hotspot.routers import RouterPool
from hotspot.routers.store import RouterStore
from hotspot.secrets_box import SecretBox
from hotspot.settings_store import SettingsStore
from hotspot.vouchers import Vouchers

__all__ = ["ADMIN_CHANNEL", "Carried", "HealthGroup", "Hotspot", "check_process_layout"]

log = logging.getLogger("hotspot")

# The admin channel: a short note on every order change and every plugin event (with the event),
# so open dashboards re-render at once (hotspot.admin.overview) and toasts pop up
# (hotspot.admin.notices).
ADMIN_CHANNEL = "admin"

HealthGroup = Callable[[], Awaitable[dict[str, Health]]]  # a named set of parts, e.g. every router


def check_process_layout(settings: Settings, workers: int) -> None:
    """Refuse several workers on in-process stores: sessions and limits would split per process."""
    if workers > 1 and settings.redis_url is None:
        raise StartupRefused(
            f"--workers {workers} needs Redis: without redis.url, sessions, rate limits, live updates "
            "and locks live inside one process and would not be shared. Set redis.url in the config, "
            "or run with --workers 1."
        )


def _pricing(
    settings: Settings, catalog: Catalog, db: Database, stores: StoreRegistry, registry: Registry
) -> Pricing:
    """Prices: the config's rates, cash steps and discount rules; promo codes from the database."""
    tz = ZoneInfo(settings.business.timezone)
    currencies = Currencies(
        settings.business.currency,
        registry.gateways,
        rates=settings.currencies.rates,
        steps=settings.currencies.steps,
    )
    guard = PromoGuard(
        stores.get("promo_guard"),
        limit=settings.promos.failures_per_client,
        window_seconds=settings.promos.window_minutes * 60,
    )
    return Pricing(
        catalog,
        currencies,
        Discounts.from_settings(settings.discounts, currencies, tz),
        Promos(db, tz=tz),
        guard=guard,
    )


@dataclass(frozen=True)
class Carried:
    """What an app rebuilt in place takes over from the one it replaces (hotspot.admin.reload).

    The open database (one engine per process: Piccolo binds tables globally), and without
    Redis the in-process stores and locks, so sessions and sign-in throttles survive."""

    db: Database
    stores: StoreRegistry | None = None
    locks: Locks | None = None


@dataclass
class Hotspot:
    """Everything a request handler or job needs, opened and closed by the app's lifespan."""

    settings: Settings
    registry: Registry
    db: Database
    stores: StoreRegistry
    channels: ChannelsPlugin
    locks: Locks
    jobs: Jobs
    routers: RouterPool
    router_store: RouterStore
    grants: GrantService
    usage: UsageSync
    catalog: Catalog
    payments: Payments
    checkout: Checkout
    accounts: AccountService = field(init=False)
    settings_store: SettingsStore = field(init=False)
    vouchers: Vouchers = field(init=False)
    customers: Customers = field(init=False)
    redis: Redis | None = None
    installed: dict[str, InstalledPlugin] = field(default_factory=dict)
    version: str = __version__
    started_at: float = field(default_factory=time.time)
    health_groups: dict[str, HealthGroup] = field(default_factory=dict)
    _refresher: asyncio.Task[None] | None = None
    owns_db: bool = True  # False once a rebuilt app took the database over (Carried)
    _carried_db: bool = False  # this app took an open database over from the one it replaced

    @classmethod
    def build(
        cls,
        settings: Settings,
        registry: Registry,
        installed: dict[str, InstalledPlugin] | None = None,
        carried: Carried | None = None,
    ) -> Hotspot:
        """Wire the parts from settings without touching the network (that is `open`)."""
        if carried is not None and carried.db.url == settings.database_url:
            db = carried.db
        else:
            carried = None
            db = Database(
                settings.database_url,
                pool_size=settings.database.pool_size,
                busy_timeout=settings.database.sqlite_busy_timeout,
            )
        redis: Redis | None = None
        prefix = settings.redis.prefix
        if settings.redis_url is not None:
            redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
            root = RedisStore(redis, namespace=prefix, handle_client_shutdown=False)
            stores = StoreRegistry(default_factory=lambda name: root.with_namespace(name))
            backend: Any = RedisChannelsPubSubBackend(redis=redis, key_prefix=f"{prefix}:channels")
            locks: Locks = RedisLocks(redis, prefix)
        elif carried is not None and carried.stores is not None and carried.locks is not None:
            stores, locks = carried.stores, carried.locks
            backend = MemoryChannelsBackend(history=20)
        else:
            memory: dict[str, Store] = {}
            stores = StoreRegistry(default_factory=lambda name: memory.setdefault(name, MemoryStore()))
            backend = MemoryChannelsBackend(history=20)
            locks = MemoryLocks()
        channels = ChannelsPlugin(
            backend=backend, arbitrary_channels_allowed=True, create_ws_route_handlers=False
        )
        jobs = Jobs(
            db,
            lease_seconds=settings.jobs.lease_seconds,
            poll_seconds=settings.jobs.poll_seconds,
            concurrency=settings.jobs.concurrency,
        )
        routers = RouterPool(
            settings.routers,
            registry.router_drivers,
            source=settings.source,
            settings=settings.router_pool,
            write_lock=db.write_lock,
        )
        router_store = RouterStore(
            db, routers, settings.routers, registry.router_drivers, SecretBox(secret_key(settings))
        )
        grants = GrantService(db, jobs, routers, fair_usage=settings.fair_usage)
        usage = UsageSync(db, routers, grants, fair_usage=settings.fair_usage)
        catalog = Catalog(db)
        public_url = (settings.server.public_url or "").rstrip("/")
        payments = Payments(
            db,
            jobs,
            grants,
            registry.gateways,
            settings=settings.payments,
            callback_bases={
                gateway_id: public_url + registry.route_paths[plugin]
                for gateway_id, plugin in registry.gateway_plugins.items()
                if public_url and plugin in registry.route_paths
            },
        )

        async def publish(channel: str, data: dict[str, Any]) -> None:
            try:
                channels.publish(data, channels=[channel])
                channels.publish({"on": channel.split(":", 1)[0]}, channels=[ADMIN_CHANNEL])
            except RuntimeError:  # not serving (a CLI command or a test driving the core alone)
                log.debug("not publishing on %s: channels are not started", channel)

        checkout = Checkout(
            catalog,
            payments,
            grants,
            currency=settings.business.currency,
            settings=settings.payments,
            publish=publish,
            pricing=_pricing(settings, catalog, db, stores, registry),
        )
        hotspot = cls(
            settings,
            registry,
            db,
            stores,
            channels,
            locks,
            jobs,
            routers,
            router_store,
            grants,
            usage,
            catalog,
            payments,
            checkout,
            redis,
        )
        hotspot.installed = dict(installed or {})
        hotspot._carried_db = carried is not None
        hotspot.settings_store = SettingsStore(db)
        hotspot.accounts = AccountService.from_settings(
            db,
            settings,
            settings_store=hotspot.settings_store,
            throttle_store=stores.get("auth_throttle"),
            locks=locks,
            emit=hotspot.emit,
            alert=AlertJobs(jobs, registry.notifiers).queue,
        )
        routers.emit = grants.emit = usage.emit = payments.emit = hotspot.emit
        hotspot.vouchers = vouchers = Vouchers(
            db,
            catalog,
            grants,
            checkout,
            jobs,
            routers,
            store=stores.get("vouchers"),
            locks=locks,
            pin_secret=secret_key(settings),
            currency=settings.business.currency,
            emit=hotspot.emit,
        )

        hotspot.customers = Customers(
            db,
            grants,
            registry.notifiers,
            settings.customers,
            locks=locks,
            secret=secret_key(settings),
            business=settings.business.name,
            emit=hotspot.emit,
        )

        async def grant_changed(grant_id: int) -> None:
            try:
                await checkout.grant_changed(grant_id)  # the portal follows orders
            finally:
                await vouchers.grant_changed(grant_id)  # voucher states, devices waiting to log in

        grants.on_change = grant_changed
        checkout.gate = hotspot.customers.blocks.admit  # blocked phones and devices, MAC bindings
        hotspot.customers.blocks.register_jobs(jobs)
        vouchers.register_jobs()
        grants.register_jobs()
        payments.register_jobs()
        jobs.register("routers.check", hotspot._check_routers, every=settings.router_pool.health_seconds)
        jobs.register("usage.sync", usage.job, every=settings.router_pool.usage_sync_seconds)
        jobs.register("sessions.expiring", ExpiryWatch(hotspot.tell_admins).job, every=EXPIRY_EVERY)
        hotspot.health_groups["routers"] = routers.health
        hotspot.health_groups["gateways"] = hotspot._gateway_health
        return hotspot

    def apply_business(self, business: BusinessSettings) -> None:
        """Use new business answers (setup wizard, admin) at once in this process.

        Prices, promo days and vouchers follow the new currency and time zone; templates read the
        name from `settings`. Other processes read the saved answers when they start."""
        self.settings = self.settings.model_copy(update={"business": business})
        self.accounts.issuer = business.name
        self.customers.business = business.name
        self.checkout.currency = self.vouchers.currency = business.currency
        pricing = _pricing(self.settings, self.catalog, self.db, self.stores, self.registry)
        pricing.clock = pricing.promos.clock = self.checkout.pricing.clock
        pricing.history = self.checkout.pricing.history
        self.checkout.pricing = pricing

    async def _check_routers(self, ctx: JobContext) -> None:
        await self.routers.check()

    async def _refresh_routers_forever(self) -> None:
        """Every process picks up routers added, edited or removed in the admin by any process."""
        while True:
            await asyncio.sleep(self.settings.router_pool.health_seconds)
            try:
                await self.router_store.refresh_pool()
            except Exception:
                log.exception("could not reload the routers added in the admin")

    # --- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        """Open storage, migrate if configured, start plugins and the job worker."""
        if not self._carried_db:  # a carried database is open already
            await self.db.open(all_tables())
        if self.settings.database.migrate_on_start:
            await migrate(self.db)
        await self.router_store.refresh_pool()
        seeded = await self.catalog.seed(self.settings.packages)
        if seeded:
            log.info("added %s packages from the config to the empty catalogue", seeded)
        if self.redis is not None:
            try:
                await self.redis.ping()
            except Exception as exc:
                if not self._carried_db:
                    await self.db.close()
                raise StorageError(f"cannot reach Redis at redis.url: {type(exc).__name__}: {exc}") from exc
        await self.emit("startup", hotspot=self)
        self._refresher = asyncio.create_task(self._refresh_routers_forever(), name="hotspot-router-refresh")
        if self.settings.jobs.enabled:
            await self.jobs.start()

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        await self.jobs.stop()
        await self.emit("shutdown", hotspot=self)
        if self.redis is not None:
            await self.redis.aclose()
        if self.owns_db:
            await self.db.close()

    # --- plugins ------------------------------------------------------------------------

    async def emit(self, hook: str, **kwargs: Any) -> list[ImplOutcome]:
        """Fan an event out to every enabled plugin; failures are logged, never raised.

        Security events are stored in the security log first (hotspot.accounts.security_log)."""
        if hook == "security_event":
            await self.accounts.security_log.persist(kwargs["event"])
        if hook not in ("startup", "shutdown"):
            self.tell_admins({"on": hook, "event": kwargs.get("event")})
        return await fan_out(getattr(self.registry.hook, hook), **kwargs)

    def tell_admins(self, message: dict[str, Any]) -> None:
        """Publish on the admin channel: open dashboards re-render, toasts pop up."""
        with contextlib.suppress(RuntimeError):  # channels not started: no dashboard is open
            self.channels.publish(message, channels=[ADMIN_CHANNEL])

    # --- health -------------------------------------------------------------------------

    async def _gateway_health(self) -> dict[str, Health]:
        return await gather_health({gid: gw.health for gid, gw in self.registry.gateways.items()})

    async def redis_health(self) -> Health:
        redis = self.redis
        if redis is None:
            return Health("ok", "not configured: in-process stores")

        async def ping() -> Health:
            await redis.ping()
            return Health("ok", "connected")

        return (await gather_health({"redis": ping}))["redis"]

    async def health(self) -> dict[str, Any]:
        """/healthz: required parts (database, Redis when configured) decide up/down; others degrade."""
        database, redis = await asyncio.gather(self.db.health(), self.redis_health())
        groups = await asyncio.gather(*(group() for group in self.health_groups.values()))
        checks: dict[str, Any] = {"database": health_dict(database), "redis": health_dict(redis)}
        optional: list[Health] = []
        for name, result in zip(self.health_groups, groups, strict=True):
            checks[name] = {key: health_dict(h) for key, h in result.items()}
            optional.extend(result.values())
        if database.status == "down" or redis.status == "down":
            status = "down"
        elif any(h.status != "ok" for h in (database, redis, *optional)):
            status = "degraded"
        else:
            status = "ok"
        return {"status": status, "version": self.version, "checks": checks}
