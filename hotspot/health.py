"""Probe many parts at once without letting one slow part hang /healthz."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hotspot.contracts import Health

__all__ = ["Probe", "gather_health", "health_dict"]

Probe = Callable[[], Awaitable[Health]]


async def gather_health(probes: Mapping[str, Probe], budget: float = 5.0) -> dict[str, Health]:
    """Run every probe concurrently; an error or no answer within `budget` seconds is `down`."""

    async def one(probe: Probe) -> Health:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(budget):
                health = await probe()
        except TimeoutError:
            return Health("down", f"no answer within {budget:g} s")
        except Exception as exc:
            return Health("down", f"{type(exc).__name__}: {exc}"[:200])
        if health.latency_ms is None:
            latency = round((time.perf_counter() - started) * 1000, 2)
            health = Health(health.status, health.detail, latency, health.facts)
        return health

    results = await asyncio.gather(*(one(p) for p in probes.values()))
    return dict(zip(probes, results, strict=True))


def health_dict(health: Health) -> dict[str, Any]:
    out: dict[str, Any] = {"status": health.status, "detail": health.detail}
    if health.latency_ms is not None:
        out["latency_ms"] = health.latency_ms
    out.update(health.facts)
    return out
