"""Paid-to-online latency: `python bench/grant_latency.py [--backend sqlite|postgres|both] [--grants 200]`.

Why: a customer who just paid waits for their grant to reach the router. `grants.request()`
only records the grant and queues a durable job; the job worker (running as in production,
`jobs.enabled` true, default `jobs.poll_seconds`) claims it, creates the user on the router,
marks the row "active" and then logs the device in. This measures the time from `request()`
returning until the database row says "active" (and until the job, device login included, has
finished), one requester at a time and with 10 concurrent requesters (each waits for its grant
before asking for the next one).

How: one RouterOSSimulator in this process on a loopback port, spoken to by the real MikroTik
driver. Every grant carries the MAC and IP of a host already on the simulator, so the apply logs
the device in. A single observer task polls the state of every grant in flight with one query
every --poll-ms (default 5 ms), so the figures are "seen active", an upper bound within one poll;
the apply job's own start and end (observed by wrapping its registered handler, nothing else
changed) split the time into waiting for the worker and applying. After a grant is seen active
the script checks that the device is really logged in on the simulator under that user, then
removes the host and user from the simulator so the simulator's own (Python, linear) scans do not
grow over the run; a real router answers a filtered print in C. The simulator's clock is fixed so
its sessions do not need to be run forward before every command.

The SQLite database is a file in a temporary data dir; the PostgreSQL one is a fresh database
(created and dropped here) on --postgres (default: the local test server, trust auth).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _storage import database

from hotspot.access.grants import APPLY, GrantRequest
from hotspot.access.tables import Grant, GrantState
from hotspot.app import create_app
from hotspot.config import load_settings
from hotspot.jobs import JobContext
from hotspot.plugins import discover, settings_models
from hotspot.runtime import Hotspot
from hotspot.sim.routeros import RouterOSSimulator

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
API_USER, API_PASSWORD = "hotspot-api", "bench"
ROUTER = "bench-main"
GRANT_TIMEOUT = 30.0  # a grant not active by then counts as failed (a retry backs off >= 4 s)


class FixedClock:
    """The simulator's clock: sessions need no running forward between commands."""

    def __call__(self) -> float:
        return 1_000.0


@dataclass
class Sample:
    """One grant's timeline, all perf_counter seconds."""

    returned: float  # request() returned: the grant and its job are stored
    seen: float  # the observer read state "active"
    job_start: float  # the apply job that made it active started (first attempt)
    job_end: float  # ... and finished: the device is logged in by then


@dataclass
class Run:
    backend: str
    mode: str
    samples: list[Sample] = field(default_factory=list)
    failed: int = 0
    wall: float = 0.0


class Observer:
    """Polls every grant in flight with one query and resolves each when its row says active."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.job_times: dict[int, list[float]] = {}
        self.job_idle: dict[int, asyncio.Event] = {}  # set while no apply job of the grant runs

    def watch(self, grant_id: int) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[grant_id] = future
        return future

    async def poll_forever(self) -> None:
        while True:
            if self.waiting:
                ids = list(self.waiting)
                rows = await Grant.select(Grant.id, Grant.state).where(Grant.id.is_in(ids)).run()
                seen = time.perf_counter()
                for row in rows:
                    if row["state"] == GrantState.ACTIVE:
                        future = self.waiting.pop(int(row["id"]), None)
                        if future is not None and not future.done():
                            future.set_result(seen)
            await asyncio.sleep(self.interval)

    def observe_apply_jobs(self, hotspot: Hotspot) -> None:
        """Record when each grant's apply job starts and ends (the handler itself is unchanged)."""
        registered = hotspot.jobs._handlers[APPLY]
        handler = registered.handler

        async def timed(ctx: JobContext) -> None:
            grant_id = int(ctx.payload["grant"])
            times = self.job_times.setdefault(grant_id, [])
            idle = self.job_idle.setdefault(grant_id, asyncio.Event())
            idle.clear()
            times.append(time.perf_counter())
            try:
                await handler(ctx)
            finally:
                times.append(time.perf_counter())
                idle.set()

        registered.handler = timed


def build_hotspot(
    data_dir: Path, overrides: dict[str, Any], sim: RouterOSSimulator, poll_seconds: float | None
) -> Hotspot:
    """The real app's Hotspot with its job worker on and one router: the simulator."""
    config = data_dir / "config.yaml"
    config.write_text("", encoding="utf-8")  # hermetic: never pick up a ./config.yaml
    installed = discover()
    jobs: dict[str, Any] = {"enabled": True}
    if poll_seconds is not None:
        jobs["poll_seconds"] = poll_seconds
    settings = load_settings(
        config,
        env={"HOTSPOT_DATA_DIR": str(data_dir)},
        overrides={
            **overrides,
            "jobs": jobs,
            "rate_limit": {"enabled": False},
            "plugins": {"mikrotik": {"enabled": True}},
            "routers": [
                {
                    "name": ROUTER,
                    "host": "127.0.0.1",
                    "port": sim.port,
                    "username": API_USER,
                    "password": API_PASSWORD,
                    "site": "bench",
                }
            ],
        },
        plugins=settings_models(installed),
    )
    hotspot: Hotspot = create_app(settings, installed=installed).state.hotspot
    return hotspot


class Devices:
    """Phones joining the simulator's WiFi, one per grant, each with its own MAC and IP."""

    def __init__(self, sim: RouterOSSimulator) -> None:
        self.sim = sim
        self.count = 0

    def join(self) -> tuple[str, str]:
        n = self.count
        self.count += 1
        mac = f"02:42:AC:{n >> 16 & 0xFF:02X}:{n >> 8 & 0xFF:02X}:{n & 0xFF:02X}"
        ip = f"10.5.{50 + n // 250}.{n % 250 + 2}"
        self.sim.add_host(mac, ip)
        return mac, ip

    def check_and_leave(self, username: str, mac: str) -> None:
        """The device must be online under this grant's user; then it and the user go away."""
        online = [s for s in self.sim.active if s["mac-address"] == mac]
        if [s["user"] for s in online] != [username]:
            raise RuntimeError(f"{mac} is not logged in as {username} on the simulator: {online}")
        self.sim.remove_host(mac)
        self.sim.call("/ip/hotspot/user/remove", numbers=username)


async def one_grant(hotspot: Hotspot, observer: Observer, devices: Devices, run: Run) -> None:
    mac, ip = devices.join()
    request = GrantRequest(
        profile="1 hour",
        seconds=3600,
        down_bps=4_000_000,
        up_bps=1_000_000,
        mac=mac,
        ip=ip,
        router_hint=ROUTER,
        source="order",
    )
    grant_id = await hotspot.grants.request(request)
    returned = time.perf_counter()
    watched = observer.watch(grant_id)
    try:
        seen = await asyncio.wait_for(watched, GRANT_TIMEOUT)
    except TimeoutError:
        observer.waiting.pop(grant_id, None)
        run.failed += 1
        return
    # The device is logged in before "active" is written; wait for the job's own end too, so the
    # per-grant timings (wait, apply) are complete.
    await asyncio.wait_for(observer.job_idle[grant_id].wait(), GRANT_TIMEOUT)
    times = observer.job_times[grant_id]
    run.samples.append(Sample(returned, seen, times[0], times[-1]))
    grant = await hotspot.grants.get(grant_id)
    devices.check_and_leave(grant["username"], mac)


async def measure(backend: str, args: argparse.Namespace) -> list[Run]:
    """Both modes on one fresh database and one simulator: sequential, then concurrent."""
    runs: list[Run] = []
    async with contextlib.AsyncExitStack() as stack:
        sim = RouterOSSimulator(API_USER, API_PASSWORD, ROUTER, clock=FixedClock())
        await sim.start()
        stack.push_async_callback(sim.stop)
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotspot-bench-")))
        overrides = await stack.enter_async_context(database(backend, data_dir, args.postgres))
        hotspot = build_hotspot(data_dir, overrides, sim, args.poll_seconds)
        observer = Observer(args.poll_ms / 1000)
        observer.observe_apply_jobs(hotspot)
        await hotspot.open()
        stack.push_async_callback(hotspot.close)
        poller = asyncio.create_task(observer.poll_forever())
        stack.push_async_callback(cancel, poller)
        devices = Devices(sim)

        warmup = Run(backend, "warm-up")  # first connection and the profile's creation: not counted
        for _ in range(args.warmup):
            await one_grant(hotspot, observer, devices, warmup)

        sequential = Run(backend, "1 at a time")
        started = time.perf_counter()
        for _ in range(args.grants):
            await one_grant(hotspot, observer, devices, sequential)
        sequential.wall = time.perf_counter() - started
        runs.append(sequential)

        concurrent = Run(backend, f"{args.concurrency} concurrent")
        per_requester = [args.grants // args.concurrency] * args.concurrency
        for i in range(args.grants % args.concurrency):
            per_requester[i] += 1

        async def requester(count: int) -> None:
            for _ in range(count):
                await one_grant(hotspot, observer, devices, concurrent)

        started = time.perf_counter()
        await asyncio.gather(*(requester(count) for count in per_requester))
        concurrent.wall = time.perf_counter() - started
        runs.append(concurrent)
    return runs


async def cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


HEADER = (
    f"{'backend':8} {'mode':13} {'n':>4} {'fail':>4} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
    f" {'max ms':>7} {'mean ms':>7} {'online p50':>10} {'online p99':>10} {'wait p50':>8} {'wait max':>8}"
    f" {'apply p50':>9} {'grants/s':>8}"
)


def row(run: Run) -> str:
    if not run.samples:
        return f"{run.backend:8} {run.mode:13} {0:4d} {run.failed:4d}  (no grant became active)"
    active = [(s.seen - s.returned) * 1000 for s in run.samples]
    online = [(s.job_end - s.returned) * 1000 for s in run.samples]
    wait = [(s.job_start - s.returned) * 1000 for s in run.samples]
    apply = [(s.job_end - s.job_start) * 1000 for s in run.samples]
    return (
        f"{run.backend:8} {run.mode:13} {len(active):4d} {run.failed:4d} {percentile(active, 50):7.1f}"
        f" {percentile(active, 95):7.1f} {percentile(active, 99):7.1f} {max(active):7.1f}"
        f" {statistics.fmean(active):7.1f} {percentile(online, 50):10.1f} {percentile(online, 99):10.1f}"
        f" {percentile(wait, 50):8.1f} {max(wait):8.1f} {percentile(apply, 50):9.1f}"
        f" {len(active) / run.wall:8.1f}"
    )


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    poll = "default" if args.poll_seconds is None else f"{args.poll_seconds:g} s"
    print(
        f"grant latency: request() returned -> row seen 'active' (observer polls every {args.poll_ms:g} ms);"
        f" job worker on, jobs.poll_seconds {poll}",
        flush=True,
    )
    print(HEADER, flush=True)
    for backend in backends:
        for run in await measure(backend, args):
            print(row(run), flush=True)
    print(
        "p50..mean = request() returned -> row seen 'active' (the device is already logged in then);"
        " online = -> the apply job finished; wait = -> the apply job started"
        " (worker pickup); apply = the job's own run; grants/s = grants over the mode's wall time"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--grants", type=int, default=200, help="grants per mode")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3, help="grants before measuring (not counted)")
    parser.add_argument("--poll-ms", type=float, default=5.0, help="how often the observer reads the rows")
    parser.add_argument(
        "--poll-seconds", type=float, default=None, help="override jobs.poll_seconds (default: the app's)"
    )
    parser.add_argument(
        "--postgres", default=PG_ADMIN, help="admin URL; a scratch database is made beside it"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
