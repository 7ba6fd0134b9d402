"""Callback to router: `python bench/callback_latency.py [--backend sqlite|postgres|both] [--payments 1000]`.

Why: once the customer types their M-Pesa PIN, Daraja POSTs the STK callback to the box, and the
customer waits until the box tells the router to let them in. The target is p99 <= 25 ms from
"callback received" to "router grant command sent", on SQLite and on PostgreSQL (+ Redis).

How: the real app (`create_app`) with the real `mpesa` plugin (environment custom) talking to a
DarajaSimulator served on a loopback port (the plugin builds its own httpx client, so it cannot
take an in-process transport), and a router whose driver is a bench plugin that records the
moment `grant()` is called (the driver itself does nothing). `server.public_url` is set, so the
core hands the plugin a callback base and every push carries <public_url>/hooks/lnm/<token>.
The app's lifespan runs on this event loop (`app.lifespan()`, not a test client's portal thread),
so the job worker runs as in production (`jobs.enabled`), except that its idle poll
(jobs.poll_seconds) is --poll-seconds, default 0.1 s instead of the app's 2 s: an apply job the
worker is not woken for waits one poll, and at 2 s a 1,000-payment run would take over half an hour.

For each payment, one at a time (or --concurrency payers at once): `checkout.buy()` (a distinct
MAC and 2547XXXXXXXX phone per payment, so no per-phone / per-device limit is hit) sends the STK
push; the simulator is told to answer it with success (the prompt's own delay is an hour, so only
the bench decides), and swallows the callback it would send (`drop_callbacks`); that real
callback JSON is then POSTed to the path the push named, through httpx.ASGITransport from a
Safaricom source address. The clock starts just before that POST and stops when the driver's
`grant()` is entered. The bench then waits for the apply job to finish before the next payment.

The payment service verifies every callback with an STK Query before it believes it, so the
breakdown times the gateway's `verify`, the confirmation transaction, the apply job's enqueue and
start, all by wrapping the instances' methods (nothing in the core is changed), and counts the SQL
statements the process runs meanwhile (wrapping the engine's run_querystring). Every payment's
status check job (payments.first_check_seconds, default 10 s) still runs in the background.
Rate limiting is off (1,000 callbacks a minute from one address would trip the default 600/min).

The SQLite database is a file in a temporary data dir; the PostgreSQL one is a fresh database
(created and dropped here) on --postgres (default: the local test server, trust auth), with
Redis (--redis) for stores, channels and locks under a throwaway key prefix (deleted afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from _storage import database
from redis.asyncio import Redis

from hotspot.access.grants import APPLY
from hotspot.app import create_app
from hotspot.config import PluginSettings, load_settings
from hotspot.contracts import ActiveSession, Health, RouterTarget, UserUsage
from hotspot.jobs import JobContext
from hotspot.payments import BuyRequest
from hotspot.payments.tables import Order, Payment, PaymentCallback
from hotspot.plugins import discover, hookimpl, settings_models
from hotspot.runtime import Hotspot
from hotspot.sim.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, DarajaSimulator

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
KEY, SECRET = "bench_consumer_key", "bench_consumer_secret"
PUBLIC_URL = "http://wifi.bench.test"
SAFARICOM_IP = "196.201.214.200"  # first of Daraja's documented callback sources
ROUTER, DRIVER_KIND = "bench-main", "bench"
TARGET_MS = 25.0
PAYMENT_TIMEOUT = 30.0  # a grant not sent by then counts as failed
PACKAGES = [{"name": "1 hour", "price": "20 KES", "duration": "1h", "down": "5M", "up": "2M"}]


class RecordingDriver:
    """A router driver that does nothing, but notes when `grant()` is entered (by the grant's MAC)."""

    kind = DRIVER_KIND

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[tuple[float, int]]] = {}
        self.queries: Callable[[], int] = lambda: 0  # the probes' running count of SQL statements

    def expect(self, mac: str) -> asyncio.Future[tuple[float, int]]:
        future: asyncio.Future[tuple[float, int]] = asyncio.get_running_loop().create_future()
        self.waiting[mac] = future
        return future

    async def grant(self, target: RouterTarget, spec: Any) -> None:
        at = time.perf_counter()
        future = self.waiting.pop(spec.mac, None)
        if future is not None and not future.done():
            future.set_result((at, self.queries()))

    async def health(self, target: RouterTarget) -> Health:
        return Health("ok", "bench router")

    async def login(self, target: RouterTarget, username: str, password: str, mac: str, ip: str) -> None:
        return None

    async def revoke(self, target: RouterTarget, username: str) -> None:
        return None

    async def disconnect(self, target: RouterTarget, session_id: str) -> None:
        return None

    async def set_speed(self, target: RouterTarget, username: str, down_bps: Any, up_bps: Any) -> None:
        return None

    async def active_sessions(self, target: RouterTarget) -> list[ActiveSession]:
        return []

    async def user_usage(self, target: RouterTarget) -> list[UserUsage]:
        return []


class BenchRouterPlugin:
    def __init__(self, driver: RecordingDriver) -> None:
        self.driver = driver

    @hookimpl
    def register_router_drivers(self, config: Any) -> list[Any]:
        return [self.driver]


@dataclass
class Probes:
    """perf_counter stamps from wrapped methods, keyed by what each one knows."""

    verify: dict[str, tuple[float, float]] = field(default_factory=dict)  # reference -> start, end
    confirm: dict[str, tuple[float, float]] = field(default_factory=dict)  # payment id -> start, end
    enqueued: dict[int, float] = field(default_factory=dict)  # grant id -> its apply job stored
    job_start: dict[int, float] = field(default_factory=dict)  # grant id -> apply job started
    job_done: dict[int, asyncio.Event] = field(default_factory=dict)  # grant id -> apply job ended
    queries: int = 0  # SQL statements run so far, by any task (the engine's run_querystring)
    _restore: Callable[[], None] = lambda: None

    def uninstall(self) -> None:
        self._restore()

    def done_event(self, grant_id: int) -> asyncio.Event:
        return self.job_done.setdefault(grant_id, asyncio.Event())

    def install(self, hotspot: Hotspot) -> None:
        # Piccolo's engines have slots: the count goes on the class (only this engine counts) and
        # comes off again in `uninstall`.
        engine = hotspot.db.engine
        engine_class = type(engine)
        run_querystring = engine_class.run_querystring
        self._restore = lambda: setattr(engine_class, "run_querystring", run_querystring)

        async def counted(instance: Any, *args: Any, **kwargs: Any) -> Any:
            if instance is engine:
                self.queries += 1
            return await run_querystring(instance, *args, **kwargs)

        engine_class.run_querystring = counted  # type: ignore[method-assign]

        gateway = hotspot.registry.gateways["mpesa"]
        verify = gateway.verify

        async def timed_verify(reference: str) -> Any:
            started = time.perf_counter()
            try:
                return await verify(reference)
            finally:
                self.verify[reference] = (started, time.perf_counter())

        gateway.verify = timed_verify  # type: ignore[method-assign]

        payments = hotspot.payments
        confirm = payments.confirm

        async def timed_confirm(payment_id: str, **kwargs: Any) -> bool:
            started = time.perf_counter()
            try:
                return await confirm(payment_id, **kwargs)
            finally:
                self.confirm[payment_id] = (started, time.perf_counter())

        payments.confirm = timed_confirm  # type: ignore[method-assign]

        jobs = hotspot.jobs
        enqueue = jobs.enqueue

        async def timed_enqueue(kind: str, payload: Any = None, **kwargs: Any) -> int | None:
            job_id = await enqueue(kind, payload, **kwargs)
            if kind == APPLY and payload:
                self.enqueued.setdefault(int(payload["grant"]), time.perf_counter())
            return job_id

        jobs.enqueue = timed_enqueue  # type: ignore[method-assign]

        registered = jobs._handlers[APPLY]
        handler = registered.handler

        async def timed_apply(ctx: JobContext) -> None:
            grant_id = int(ctx.payload["grant"])
            self.job_start.setdefault(grant_id, time.perf_counter())
            try:
                await handler(ctx)
            finally:
                self.done_event(grant_id).set()

        registered.handler = timed_apply


@dataclass
class Sample:
    """One payment's timeline, perf_counter seconds."""

    sent: float  # just before the callback POST
    answered: float  # the callback's HTTP answer arrived
    granted: float  # the driver's grant() was entered
    verify: tuple[float, float]
    confirm: tuple[float, float]
    enqueued: float
    job_start: float
    queries: int  # SQL statements between the POST and grant() (the background's included)


@dataclass
class Run:
    backend: str
    mode: str
    samples: list[Sample] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    wall: float = 0.0
    poll_seconds: float = 0.0  # the worker's jobs.poll_seconds in this run


class Devices:
    """A distinct phone, MAC and IP per payment."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> tuple[str, str, str]:
        n = self.count
        self.count += 1
        mac = f"02:BE:0C:{n >> 16 & 0xFF:02X}:{n >> 8 & 0xFF:02X}:{n & 0xFF:02X}"
        ip = f"10.5.{50 + n // 250}.{n % 250 + 2}"
        phone = f"2547{n:08d}"
        return mac, ip, phone


@dataclass
class Rig:
    hotspot: Hotspot
    sim: DarajaSimulator
    driver: RecordingDriver
    probes: Probes
    http: httpx.AsyncClient
    devices: Devices
    package_id: int


def build_settings(
    data_dir: Path, overrides: dict[str, Any], sim: DarajaSimulator, args: argparse.Namespace
) -> Any:
    config = data_dir / "config.yaml"
    config.write_text("", encoding="utf-8")  # hermetic: never pick up a ./config.yaml
    jobs: dict[str, Any] = {"enabled": True, "poll_seconds": args.poll_seconds}
    return load_settings(
        config,
        env={"HOTSPOT_DATA_DIR": str(data_dir)},
        overrides={
            **overrides,
            "server": {"public_url": PUBLIC_URL},
            "jobs": jobs,
            "rate_limit": {"enabled": False},
            "packages": PACKAGES,
            "plugins": {
                "mpesa": {
                    "enabled": True,
                    "environment": "custom",
                    "base_url": sim.base_url,
                    "shortcode": SANDBOX_SHORTCODE,
                    "passkey": SANDBOX_PASSKEY,
                    "consumer_key": KEY,
                    "consumer_secret": SECRET,
                }
            },
            "routers": [
                {
                    "name": ROUTER,
                    "driver": DRIVER_KIND,
                    "host": "127.0.0.1",
                    "username": "bench",
                    "password": "bench",
                    "site": "bench",
                }
            ],
        },
        plugins=settings_models(discover()),
    )


@contextlib.asynccontextmanager
async def redis_prefix(url: str) -> AsyncIterator[dict[str, Any]]:
    """Config overrides for Redis under a fresh key prefix; its keys are deleted afterwards."""
    prefix = f"hotspot-bench-{secrets.token_hex(4)}"
    try:
        yield {"redis": {"url": url, "prefix": prefix}}
    finally:
        client = Redis.from_url(url)
        try:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


@contextlib.asynccontextmanager
async def rig(backend: str, args: argparse.Namespace) -> AsyncIterator[Rig]:
    async with contextlib.AsyncExitStack() as stack:
        sim = DarajaSimulator(KEY, SECRET, SANDBOX_SHORTCODE, SANDBOX_PASSKEY, default_delay=3600.0)
        sim.drop_callbacks = True  # the bench delivers each callback itself, on the clock
        await sim.start("127.0.0.1", 0)
        stack.push_async_callback(sim.stop)
        data_dir = Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix="hotspot-bench-", ignore_cleanup_errors=True)
            )
        )
        overrides = await stack.enter_async_context(database(backend, data_dir, args.postgres))
        if backend == "postgres":
            overrides.update(await stack.enter_async_context(redis_prefix(args.redis)))
        settings = build_settings(data_dir, overrides, sim, args)
        driver = RecordingDriver()
        app = create_app(
            settings,
            extra_plugins=[("benchrouter", BenchRouterPlugin(driver), PluginSettings(enabled=True))],
        )
        hotspot: Hotspot = app.state.hotspot
        probes = Probes()
        probes.install(hotspot)
        stack.callback(probes.uninstall)
        driver.queries = lambda: probes.queries
        # After the lifespan closes: let aiosqlite threads of cancelled jobs finish before the
        # temporary data dir is removed.
        stack.push_async_callback(asyncio.sleep, 0.3)
        await stack.enter_async_context(app.lifespan())  # hotspot.open(), channels, job worker
        transport = httpx.ASGITransport(app=app, client=(SAFARICOM_IP, 443))
        http = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL))
        [offer] = await hotspot.checkout.packages()
        yield Rig(hotspot, sim, driver, probes, http, Devices(), offer.id)


def dropped_callback(sim: DarajaSimulator, reference: str) -> tuple[str, bytes]:
    """The path and body of the callback the simulator would have POSTed for this push."""
    for delivery in reversed(sim.callbacks_dropped):
        if delivery.checkout_request_id == reference:
            return urlsplit(delivery.url).path, json.dumps(delivery.payload).encode()
    raise RuntimeError(f"the simulator has no callback for {reference}")


async def one_payment(r: Rig, run: Run) -> None:
    mac, ip, phone = r.devices.next()
    status = await r.hotspot.checkout.buy(
        BuyRequest(
            package_id=r.package_id,
            phone=phone,
            mac=mac,
            ip=ip,
            router=ROUTER,
            link_login_only="http://10.5.50.1/login",
            link_orig="http://example.com/",
        )
    )
    if status.state != "waiting" or status.payment_id is None:
        run.failed.append(f"{mac}: the STK push did not go out ({status.state} {status.reason})")
        return
    payment_id = status.payment_id
    row = await Payment.select(Payment.reference).where(Payment.id == payment_id).first().run()
    reference = str(row["reference"]) if row else ""
    await r.sim.answer(reference, "success")  # the customer typed the PIN; STK Query now says paid
    path, body = dropped_callback(r.sim, reference)

    granted = r.driver.expect(mac)
    queries_before = r.probes.queries
    sent = time.perf_counter()
    response = await r.http.post(path, content=body, headers={"Content-Type": "application/json"})
    answered = time.perf_counter()
    try:
        at, queries_after = await asyncio.wait_for(granted, PAYMENT_TIMEOUT)
    except TimeoutError:
        r.driver.waiting.pop(mac, None)
        verdict = (
            await PaymentCallback.select(PaymentCallback.verdict, PaymentCallback.detail)
            .where(PaymentCallback.reference == reference)
            .run()
        )
        run.failed.append(
            f"{mac}: no grant within {PAYMENT_TIMEOUT:g} s (HTTP {response.status_code}, {verdict})"
        )
        return
    order = await Order.select(Order.grant_id).where(Order.id == status.order_id).first().run()
    grant_id = int(order["grant_id"]) if order and order["grant_id"] is not None else -1
    p = r.probes
    await asyncio.wait_for(p.done_event(grant_id).wait(), PAYMENT_TIMEOUT)  # the apply job's tail too
    if response.status_code != 200 or reference not in p.verify or payment_id not in p.confirm:
        run.failed.append(f"{mac}: HTTP {response.status_code}, verified {reference in p.verify}")
        return
    run.samples.append(
        Sample(
            sent,
            answered,
            at,
            p.verify[reference],
            p.confirm[payment_id],
            p.enqueued[grant_id],
            p.job_start[grant_id],
            queries_after - queries_before,
        )
    )


async def measure(backend: str, args: argparse.Namespace) -> list[Run]:
    runs: list[Run] = []
    async with rig(backend, args) as r:
        warmup = Run(backend, "warm-up")  # OAuth token, connections, first statements: not counted
        for _ in range(args.warmup):
            await one_payment(r, warmup)
        if warmup.failed:
            raise RuntimeError(f"warm-up failed: {warmup.failed[:3]}")

        mode = "1 at a time" if args.concurrency == 1 else f"{args.concurrency} concurrent"
        run = Run(backend, mode, poll_seconds=r.hotspot.settings.jobs.poll_seconds)
        per_payer = [args.payments // args.concurrency] * args.concurrency
        for i in range(args.payments % args.concurrency):
            per_payer[i] += 1

        async def payer(count: int) -> None:
            for _ in range(count):
                await one_payment(r, run)

        started = time.perf_counter()
        await asyncio.gather(*(payer(count) for count in per_payer))
        run.wall = time.perf_counter() - started
        runs.append(run)
    return runs


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def ms(values: Iterator[float] | list[float]) -> list[float]:
    return [v * 1000 for v in values]


HEADER = (
    f"{'backend':8} {'mode':13} {'n':>5} {'fail':>4} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7}"
    f" {'max ms':>7} {'mean ms':>7} {'http p50':>8} {'http p99':>8} {'SQL p50':>7} {'pay/s':>6}"
    f"  p99 <= {TARGET_MS:g} ms"
)

# (label, start, end) over a Sample: the segments add up to the total.
SEGMENTS: list[tuple[str, Callable[[Sample], float]]] = [
    ("callback in -> STK Query sent (store raw body, match, count check)", lambda s: s.verify[0] - s.sent),
    ("STK Query round-trip (verify, simulator on loopback)", lambda s: s.verify[1] - s.verify[0]),
    ("verify done -> confirm() starts", lambda s: s.confirm[0] - s.verify[1]),
    ("confirm(): transaction until the apply job is stored", lambda s: s.enqueued - s.confirm[0]),
    ("apply job stored -> worker starts it (commit, wake, claim)", lambda s: s.job_start - s.enqueued),
    ("apply job start -> driver grant() (read grant, place router)", lambda s: s.granted - s.job_start),
]
ASIDE: list[tuple[str, Callable[[Sample], float]]] = [
    (
        "confirm() whole (commit, payment_confirmed event, order status publish)",
        lambda s: s.confirm[1] - s.confirm[0],
    ),
    ("callback in -> HTTP answer (Daraja's view)", lambda s: s.answered - s.sent),
]


def row(run: Run) -> str:
    if not run.samples:
        return f"{run.backend:8} {run.mode:13} {0:5d} {len(run.failed):4d}  (no payment reached the router)"
    total = ms(s.granted - s.sent for s in run.samples)
    http = ms(s.answered - s.sent for s in run.samples)
    queries = percentile([float(s.queries) for s in run.samples], 50)
    p99 = percentile(total, 99)
    verdict = "PASS" if p99 <= TARGET_MS and not run.failed else "FAIL"
    return (
        f"{run.backend:8} {run.mode:13} {len(total):5d} {len(run.failed):4d} {percentile(total, 50):7.1f}"
        f" {percentile(total, 90):7.1f} {p99:7.1f} {max(total):7.1f} {statistics.fmean(total):7.1f}"
        f" {percentile(http, 50):8.1f} {percentile(http, 99):8.1f} {queries:7.0f}"
        f" {len(total) / run.wall:6.1f}  {verdict}"
    )


def breakdown(run: Run) -> list[str]:
    if not run.samples:
        return []
    lines = [f"  where the time goes ({run.backend}, {run.mode}):{'p50 ms':>20} {'p99 ms':>7} {'max ms':>7}"]
    for label, segment in [*SEGMENTS, *ASIDE]:
        values = ms(segment(s) for s in run.samples)
        lines.append(
            f"    {label:68} {percentile(values, 50):7.2f} {percentile(values, 99):7.2f} {max(values):7.1f}"
        )
    pickup = percentile(ms(s.job_start - s.enqueued for s in run.samples), 50)
    poll_ms = run.poll_seconds * 1000
    if run.mode == "1 at a time" and 0.8 * poll_ms <= pickup <= 1.5 * poll_ms + 20:
        lines.append(
            f"    NOTE: the worker picks the apply job up ~{pickup:.0f} ms after it is stored, about one"
            f" jobs.poll_seconds ({run.poll_seconds:g} s), not at once: most likely the wake-up from"
            " enqueue() inside confirm()'s transaction fires before the commit, so the claim finds"
            " nothing and the worker sleeps a full poll"
        )
    return lines


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    poll = f"{args.poll_seconds:g} s (the app's default is 2 s)"
    print(
        "callback latency: STK callback POSTed to /hooks/lnm/<token> -> router driver grant() entered;"
        f" real mpesa plugin + Daraja simulator on loopback; job worker on, jobs.poll_seconds {poll};"
        " rate_limit off; postgres runs with Redis",
        flush=True,
    )
    runs: list[Run] = []
    for backend in backends:
        runs.extend(await measure(backend, args))
    print(HEADER)
    for run in runs:
        print(row(run))
        for failure in run.failed[:5]:
            print(f"  failed: {failure}")
    for run in runs:
        print("\n".join(breakdown(run)))
    print(
        "p50..mean = callback POST sent -> grant() entered; http = -> the callback's HTTP answer;"
        " SQL = statements run by the process between the two (any task);"
        " pay/s = payments over the run's wall time (buy + answer + callback + apply job)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1, help="payers at once (each one at a time)")
    parser.add_argument("--warmup", type=int, default=5, help="payments before measuring (not counted)")
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=0.1,
        help="jobs.poll_seconds: the worker's idle poll (the app's default 2 s; see the NOTE it may print)",
    )
    parser.add_argument(
        "--postgres", default=PG_ADMIN, help="admin URL; a scratch database is made beside it"
    )
    parser.add_argument("--redis", default=REDIS, help="Redis for the postgres run (throwaway key prefix)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
