"""Configured routers matched to the driver plugins that speak to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from hotspot.config import RouterSettings
from hotspot.contracts import Health, RouterDriver, RouterTarget
from hotspot.errors import ConfigError, ConfigProblem
from hotspot.health import gather_health

__all__ = ["PooledRouter", "RouterPool"]


@dataclass(frozen=True)
class PooledRouter:
    """A router with its settings, the driver that speaks to it and the target handed to it."""

    settings: RouterSettings
    driver: RouterDriver
    target: RouterTarget


class RouterPool:
    """Every configured router; raises ConfigError when one names a driver nobody provides."""

    def __init__(
        self, routers: list[RouterSettings], drivers: Mapping[str, RouterDriver], *, source: str | None = None
    ) -> None:
        problems: list[ConfigProblem] = []
        self.routers: dict[str, PooledRouter] = {}
        for index, router in enumerate(routers):
            driver = drivers.get(router.driver)
            if driver is None:
                known = ", ".join(sorted(drivers)) or "none: enable a router plugin under plugins:"
                problems.append(
                    ConfigProblem(
                        f"routers[{index}].driver",
                        f"no enabled plugin provides router driver {router.driver!r} (available: {known})",
                        source,
                    )
                )
                continue
            target = RouterTarget(
                name=router.name,
                host=router.host,
                port=router.port,
                username=router.username,
                password=router.password.get_secret_value(),
                use_tls=router.tls,
            )
            self.routers[router.name] = PooledRouter(router, driver, target)
        if problems:
            raise ConfigError(problems)

    async def health(self, budget: float = 5.0) -> dict[str, Health]:
        """Ask every router at once; one that does not answer in time is down, not a hang."""
        return await gather_health(
            {name: partial(r.driver.health, r.target) for name, r in self.routers.items()}, budget
        )
