"""Usage sync at scale: `python bench/usage_sync.py [--backend sqlite|postgres|both] [--cycles 5]`.

Why: usage sync runs every 30 s against every router, and its cost must stay linear in the
sessions online (one read per router, one query for its open sessions, bulk inserts, one write
per changed row). This measures one cycle's wall time on each storage backend at 1,000, 2,500
and 5,000 sessions spread over 10 simulated RouterOS routers, so a regression (something
quadratic, a missing index) shows as seconds per 1,000 sessions growing with the size.

How: 10 RouterOSSimulator instances run in this process, each on its own loopback port, with a
fixed clock so counters only move on `advance()`. Users, hosts and logged-in sessions are seeded
straight into the simulators (`sim.call`, no socket); the matching grants are bulk-inserted as
"active" rows. A Hotspot is built by `create_app` with the job worker off, so only the measured
`hotspot.usage.run()` touches the database. The first cycle sees every session as new; each
steady cycle follows `advance(30)` on every simulator, so every session and every grant has new
counters (the busiest case: everyone browsing); the first cycle also follows one, so it inserts
every session and sets every grant's totals. The routers' API replies are produced by the
simulators on the same event loop, so "router read" below includes the simulator's own CPU.

--history N first adds N ended sessions (spread over the routers), as months of use leave behind:
the open-session query of each router must not slow down with them.

The SQLite database is a file in a temporary data dir; the PostgreSQL one is a fresh database
(created and dropped here) on --postgres (default: the local test server, trust auth).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _storage import database

from hotspot.access.tables import Grant, GrantState
from hotspot.access.usage import RouterSync
from hotspot.app import create_app
from hotspot.config import load_settings
from hotspot.plugins import discover, settings_models
from hotspot.runtime import Hotspot
from hotspot.sim.routeros import RouterOSSimulator

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
API_USER, API_PASSWORD = "hotspot-api", "bench"
PROFILE = "hs-bench"  # no rate-limit: a dynamic queue per session would make the *simulator* quadratic
GRANT_COMMENT = "hotspot grant"  # what the MikroTik driver's user_usage filters on
INSERT_CHUNK = 500  # PostgreSQL caps a statement at 32,767 parameters


class FixedClock:
    """The simulators' clock: time moves only through `advance()`, so cycles are repeatable."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class SizeResult:
    """Figures for one backend at one size."""

    backend: str
    sessions: int
    first_seconds: float = 0.0
    first_writes: int = 0
    steady_seconds: list[float] = field(default_factory=list)
    steady_writes: list[int] = field(default_factory=list)
    router_read_seconds: list[float] = field(default_factory=list)

    @property
    def steady_mean(self) -> float:
        return statistics.fmean(self.steady_seconds)

    @property
    def steady_p95(self) -> float:
        return percentile(self.steady_seconds, 95)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: with few samples p95 is simply the worst)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


# --- storage --------------------------------------------------------------------------------------


def build_hotspot(data_dir: Path, overrides: dict[str, Any], sims: dict[str, RouterOSSimulator]) -> Hotspot:
    """The real app's Hotspot with the MikroTik plugin on, routers pointing at the simulators."""
    config = data_dir / "config.yaml"
    config.write_text("", encoding="utf-8")  # hermetic: never pick up a ./config.yaml
    installed = discover()
    settings = load_settings(
        config,
        env={"HOTSPOT_DATA_DIR": str(data_dir)},
        overrides={
            **overrides,
            "jobs": {"enabled": False},  # only the measured cycles touch the database
            "rate_limit": {"enabled": False},
            "plugins": {"mikrotik": {"enabled": True, "connect_timeout": 5, "command_timeout": 30}},
            "routers": [
                {
                    "name": name,
                    "host": "127.0.0.1",
                    "port": sim.port,
                    "username": API_USER,
                    "password": API_PASSWORD,
                    "site": "bench",
                }
                for name, sim in sims.items()
            ],
        },
        plugins=settings_models(installed),
    )
    hotspot: Hotspot = create_app(settings, installed=installed).state.hotspot
    return hotspot


# --- seeding ----------------------------------------------------------------------------------------


def seed_router(sim: RouterOSSimulator, router: str, index: int, count: int, now: float) -> list[Grant]:
    """Put `count` logged-in hotspot users on one simulator; return their grant rows."""
    sim.call("/ip/hotspot/user/profile/add", name=PROFILE, **{"shared-users": "1"})
    grants: list[Grant] = []
    for n in range(count):
        username = f"B{index:02d}U{n:05d}"
        password = f"pw{n:05d}"
        mac = f"02:42:{index:02X}:00:{n >> 8:02X}:{n & 0xFF:02X}"
        ip = f"10.{100 + index}.{n // 200}.{n % 200 + 10}"
        sim.call(
            "/ip/hotspot/user/add", name=username, password=password, profile=PROFILE, comment=GRANT_COMMENT
        )
        sim.add_host(mac, ip)
        sim.call(
            "/ip/hotspot/active/login", user=username, password=password, **{"mac-address": mac, "ip": ip}
        )
        grants.append(
            Grant(
                username=username,
                password=password,
                source="admin",
                profile="bench",
                seconds=None,
                devices=1,
                mac=mac,
                ip=ip,
                router_hint=router,
                site="bench",
                router=router,
                state=GrantState.ACTIVE,
                version=1,
                applied_version=1,
                created_at=now,
                applied_at=now,
            )
        )
    return grants


async def insert_grants(hotspot: Hotspot, grants: list[Grant]) -> None:
    async with hotspot.db.transaction():
        for start in range(0, len(grants), INSERT_CHUNK):
            await Grant.insert(*grants[start : start + INSERT_CHUNK]).run()


async def insert_history(hotspot: Hotspot, routers: list[str], total: int) -> None:
    """Ended sessions of past customers, made by the database itself (same SQL on both backends)."""
    row = (await Grant.raw("SELECT MIN(id) AS lo, COUNT(*) AS n FROM hotspot_grant").run())[0]
    lo, n = int(row["lo"]), int(row["n"])
    per_router = total // len(routers)
    async with hotspot.db.transaction():
        for router in routers:
            await Grant.raw(
                'INSERT INTO hotspot_session ("grant", router, router_session_id, mac, ip, started_at,'
                " last_seen_at, ended_at, uptime_seconds, bytes_in, bytes_out)"
                " WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {})"
                " SELECT {} + (x % {}), {}, '*1', '02:00:00:00:00:01', '10.0.0.1', 0, 600, 600, 600,"
                " 1000000, 5000000 FROM c",
                per_router,
                lo,
                n,
                router,
            ).run()
    await Grant.raw("ANALYZE").run()


def time_calls(target: Any, names: tuple[str, ...], bucket: list[float]) -> None:
    """Wrap methods of one instance so the time spent in them adds up in bucket[0]."""
    for name in names:
        original: Callable[..., Awaitable[Any]] = getattr(target, name)

        async def timed(*args: Any, _original: Callable[..., Awaitable[Any]] = original, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return await _original(*args, **kw)
            finally:
                bucket[0] += time.perf_counter() - started

        setattr(target, name, timed)


# --- one size on one backend ------------------------------------------------------------------------


async def run_size(
    backend: str, sessions: int, routers: int, cycles: int, admin_url: str, history: int = 0
) -> SizeResult:
    """Seed `sessions` over `routers` simulators, then time the first and the steady cycles."""
    per_router = sessions // routers
    result = SizeResult(backend, per_router * routers)
    clock = FixedClock()
    sims = {
        f"bench-r{i:02d}": RouterOSSimulator(API_USER, API_PASSWORD, f"bench-r{i:02d}", clock=clock)
        for i in range(routers)
    }
    async with contextlib.AsyncExitStack() as stack:
        for sim in sims.values():
            await sim.start()
            stack.push_async_callback(sim.stop)
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotspot-bench-")))
        overrides = await stack.enter_async_context(database(backend, data_dir, admin_url))
        hotspot = build_hotspot(data_dir, overrides, sims)
        await hotspot.open()
        stack.push_async_callback(hotspot.close)

        now = time.time()
        grants: list[Grant] = []
        for index, (name, sim) in enumerate(sims.items()):
            grants.extend(seed_router(sim, name, index, per_router, now))
        await insert_grants(hotspot, grants)
        if history:
            await insert_history(hotspot, list(sims), history)
        await hotspot.routers.check()  # connect and log in to every router before timing

        router_read = [0.0]
        driver = next(iter(hotspot.routers.routers.values())).driver
        time_calls(driver, ("active_sessions", "user_usage"), router_read)

        for cycle in range(cycles + 1):
            for sim in sims.values():
                sim.advance(30)  # 30 s of browsing: every session and user has new counters
            router_read[0] = 0.0
            started = time.perf_counter()
            syncs: list[RouterSync] = await hotspot.usage.run()
            elapsed = time.perf_counter() - started
            errors = [s.error for s in syncs if s.error]
            if errors:
                raise RuntimeError(f"usage sync failed: {errors[0]}")
            online = sum(s.online for s in syncs)
            if online != per_router * routers:
                raise RuntimeError(
                    f"expected {per_router * routers} sessions online, the routers saw {online}"
                )
            writes = sum(s.writes for s in syncs)
            if cycle == 0:
                result.first_seconds, result.first_writes = elapsed, writes
                if sum(s.started for s in syncs) != online:
                    raise RuntimeError("first cycle did not see every session as new")
            else:
                result.steady_seconds.append(elapsed)
                result.steady_writes.append(writes)
                result.router_read_seconds.append(router_read[0])
    return result


# --- output ---------------------------------------------------------------------------------------

HEADER = (
    f"{'backend':8} {'sessions':>8} {'first s':>8} {'1st writes':>10} {'steady s':>9} {'p95 s':>7}"
    f" {'writes/cyc':>10} {'router rd s':>11} {'sessions/s':>10} {'s per 1k':>8}"
)


def row(r: SizeResult) -> str:
    return (
        f"{r.backend:8} {r.sessions:8d} {r.first_seconds:8.2f} {r.first_writes:10d} {r.steady_mean:9.2f}"
        f" {r.steady_p95:7.2f} {statistics.fmean(r.steady_writes):10.0f}"
        f" {statistics.fmean(r.router_read_seconds):11.2f} {r.sessions / r.steady_mean:10.0f}"
        f" {r.steady_mean / r.sessions * 1000:8.3f}"
    )


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    print(
        f"usage sync: {args.routers} simulated routers, {args.cycles} steady cycles of 30 s simulated time"
        f" (every counter changes), {args.history:,} ended sessions already stored",
        flush=True,
    )
    print(HEADER, flush=True)
    deadline = time.monotonic() + args.budget
    for backend in backends:
        for size in sizes:
            if time.monotonic() > deadline:
                print(f"(time budget of {args.budget:.0f} s spent: skipping the rest)")
                return
            result = await run_size(backend, size, args.routers, args.cycles, args.postgres, args.history)
            print(row(result), flush=True)
    print(
        "steady s = mean wall time of one usage.run() over all routers; router rd s = its share spent"
        " in the driver's two API reads (simulator CPU included); s per 1k = steady s per 1,000"
        " sessions (flat when the cost is linear)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sizes", default="1000,2500,5000", help="total sessions, comma separated")
    parser.add_argument("--routers", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=5, help="steady cycles after the first")
    parser.add_argument("--history", type=int, default=0, help="ended sessions already in the table")
    parser.add_argument(
        "--postgres", default=PG_ADMIN, help="admin URL; a scratch database is made beside it"
    )
    parser.add_argument(
        "--budget", type=float, default=170.0, help="stop starting new runs after this many s"
    )
    args = parser.parse_args()
    if args.cycles < 1:
        sys.exit("--cycles must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
