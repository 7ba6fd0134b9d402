"""The admin's session lists at scale: `python bench/sessions_page.py [--backend sqlite|postgres|both]`.

Why: the sessions page must stay fast with 10,000 devices online and a million ended sessions
behind them (target: the page in under 150 ms server-side, p95). This measures the read model the
page is built on (hotspot.admin.sessions.Sessions: keyset pages, filters, search) on each backend;
the HTML around it comes with the dashboard pages.

How: a fresh database (SQLite file, or a scratch PostgreSQL database), migrated, then seeded in
bulk straight through the driver (sqlite3 executemany / asyncpg COPY): --active open sessions on
10 routers, each with an order-paid grant and its order (so the phone join is real), and
--history ended sessions under voucher grants spread over a year. Each query runs --repeat times;
p50/p95 are printed per query.

--page (on by default; --no-page skips it) then times the real page: the app built on the same
database (jobs off), an owner signed in through the login form, and GET /admin/sessions (whole
HTML: shell, filters, 50 rows) for the first page, a deep keyset page, the history tab and an
htmx "Load more" fragment; the time is the app's, in process (no network).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from _storage import database
from litestar.testing import AsyncTestClient

from hotspot.admin.sessions import SessionFilter, Sessions
from hotspot.app import create_app
from hotspot.config import load_settings
from hotspot.db import Database, all_tables, migrate

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
NOW = 1_800_000_000.0
ROUTERS = [f"router-{n}" for n in range(10)]
GRANT_COLUMNS = (
    "id, username, password, source, source_ref, profile, seconds, bytes_total, devices, mac, router,"
    " state, version, applied_version, created_at, applied_at, expires_at, uptime_seconds, bytes_in,"
    " bytes_out"
)
SESSION_COLUMNS = (
    '"grant", router, router_session_id, mac, ip, started_at, last_seen_at, ended_at, uptime_seconds,'
    " bytes_in, bytes_out, rate_in_bps, rate_out_bps"
)
ORDER_COLUMNS = (
    "id, package_id, package_name, terms, amount, currency, phone, mac, state, grant_id, created_at"
)


def mac(n: int) -> str:
    return ":".join(
        f"{b:02X}" for b in (0xAA, 0xBB, (n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255)
    )


def rows(
    active: int, history: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rng = random.Random(7)
    grants: list[tuple[Any, ...]] = []
    sessions: list[tuple[Any, ...]] = []
    orders: list[tuple[Any, ...]] = []
    for n in range(1, active + 1):
        started = NOW - rng.uniform(0, 3600)
        router = ROUTERS[n % len(ROUTERS)]
        grants.append(
            (
                n,
                f"G{n:08d}",
                "p",
                "order",
                f"o{n}",
                "1 hour",
                3600,
                None,
                1,
                mac(n),
                router,
                "active",
                1,
                1,
                started,
                started,
                started + 3600,
                0,
                0,
                0,
            )
        )
        orders.append((f"o{n}", 1, "1 hour", "{}", 2000, "KES", f"2547{n:08d}", mac(n), "paid", n, started))
        sessions.append(
            (
                n,
                router,
                f"*{n:X}",
                mac(n),
                f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                started,
                NOW,
                None,
                int(NOW - started),
                n * 100,
                n * 900,
                8000,
                64000,
            )
        )
    history_grants = max(history // 5, 1)
    for g in range(active + 1, active + history_grants + 1):
        created = NOW - rng.uniform(3600, 365 * 86400)
        grants.append(
            (
                g,
                f"G{g:08d}",
                "p",
                "voucher",
                str(g),
                "1 day",
                86400,
                None,
                1,
                None,
                ROUTERS[g % 10],
                "ended",
                1,
                1,
                created,
                created,
                created + 86400,
                0,
                0,
                0,
            )
        )
    for h in range(history):
        g = active + 1 + h % history_grants
        started = NOW - rng.uniform(3600, 365 * 86400)
        sessions.append(
            (
                g,
                ROUTERS[h % 10],
                f"*{h:X}",
                mac(10_000_000 + h),
                "10.5.50.9",
                started,
                started + 600,
                started + 600,
                600,
                1000,
                9000,
                0,
                0,
            )
        )
    return grants, sessions, orders


def seed_sqlite(path: Path, active: int, history: int) -> None:
    grants, sessions, orders = rows(active, history)
    with sqlite3.connect(path) as conn:
        marks = lambda n: ", ".join("?" * n)  # noqa: E731
        conn.executemany(f"INSERT INTO hotspot_grant ({GRANT_COLUMNS}) VALUES ({marks(20)})", grants)
        conn.executemany(f"INSERT INTO hotspot_order ({ORDER_COLUMNS}) VALUES ({marks(11)})", orders)
        conn.executemany(f"INSERT INTO hotspot_session ({SESSION_COLUMNS}) VALUES ({marks(13)})", sessions)
        conn.execute("ANALYZE")


async def seed_postgres(url: str, active: int, history: int) -> None:
    grants, sessions, orders = rows(active, history)
    conn = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
    try:
        await conn.copy_records_to_table(
            "hotspot_grant", records=grants, columns=[c.strip() for c in GRANT_COLUMNS.split(",")]
        )
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('hotspot_grant', 'id'),"
            " (SELECT max(id) FROM hotspot_grant))"
        )
        await conn.copy_records_to_table(
            "hotspot_order", records=orders, columns=[c.strip() for c in ORDER_COLUMNS.split(",")]
        )
        await conn.copy_records_to_table(
            "hotspot_session",
            records=sessions,
            columns=[c.strip().strip('"') for c in SESSION_COLUMNS.split(",")],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def timed(label: str, work: Callable[[], Awaitable[Any]], repeat: int) -> None:
    await work()  # warm
    times: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    verdict = "ok" if p95 < 150 else "SLOW"
    print(f"  {label:<46} p50 {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms   {verdict}", flush=True)


OWNER_PASSWORD = "bench-plum-velvet-orchard-42"
_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def time_page(settings: Any, cursor: str | None, repeat: int) -> None:
    """The sessions page through the whole app, as the owner's browser gets it."""
    app = create_app(settings)
    async with AsyncTestClient(app, base_url="http://bench.local") as client:
        # On the app's own loop (the client runs it on a thread): a PostgreSQL pool is bound to it.
        assert client.blocking_portal is not None
        client.blocking_portal.call(
            lambda: app.state.hotspot.accounts.create_admin(
                username="owner", password=OWNER_PASSWORD, role="owner"
            )
        )
        login = await client.get("/admin/login", headers={"accept": "text/html"})
        token = _TOKEN.search(login.text)
        assert token is not None, "the login page has no CSRF token"
        signed = await client.post(
            "/admin/login",
            data={"username": "owner", "password": OWNER_PASSWORD, "next": "/admin", "_csrf_token": token[1]},
            headers={"accept": "text/html"},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text[:300]
        html = {"accept": "text/html"}

        async def get(url: str, **headers: str) -> None:
            response = await client.get(url, headers={**html, **headers})
            assert response.status_code == 200, (url, response.status_code)

        first = await client.get("/admin/sessions", headers=html)
        assert first.text.count('class="hs-session"') == 50, "the page does not show 50 sessions"
        print(f"  page: {len(first.content) / 1024:.0f} KiB of HTML for 50 rows", flush=True)
        deep = f"/admin/sessions?after={cursor}" if cursor else "/admin/sessions"
        await timed("PAGE /admin/sessions (full HTML)", lambda: get("/admin/sessions"), repeat)
        await timed("PAGE page 101 (full HTML)", lambda: get(deep), repeat)
        await timed("PAGE history tab (full HTML)", lambda: get("/admin/sessions?tab=history"), repeat)
        await timed("PAGE Load more (htmx fragment)", lambda: get(deep, **{"HX-Request": "true"}), repeat)
        await timed("PAGE search a MAC (full HTML)", lambda: get(f"/admin/sessions?q={mac(4242)}"), repeat)


async def run(backend: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with database(backend, Path(tmp), args.postgres) as overrides:
            config = Path(tmp) / "config.yaml"
            config.write_text("", encoding="utf-8")  # hermetic: never pick up a ./config.yaml
            settings = load_settings(
                config,
                env={"HOTSPOT_DATA_DIR": tmp},
                overrides={**overrides, "jobs": {"enabled": False}, "rate_limit": {"enabled": False}},
            )
            db = Database(settings.database_url)
            await db.open(all_tables())
            try:
                await migrate(db)
                started = time.perf_counter()
                if backend == "sqlite":
                    seed_sqlite(
                        Path(settings.database_url.removeprefix("sqlite:///")), args.active, args.history
                    )
                else:
                    await seed_postgres(settings.database_url, args.active, args.history)
                print(
                    f"{backend}: {args.active:,} open + {args.history:,} ended sessions seeded in"
                    f" {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
                sessions = Sessions(db, clock=lambda: NOW)
                cursor = None
                for _ in range(100):  # page 101 of the open list
                    cursor = (await sessions.active(after=cursor)).next_cursor
                deep = (await sessions.history(limit=200)).next_cursor
                for _ in range(50):  # page 51 of the history
                    deep = (await sessions.history(after=deep, limit=200)).next_cursor
                r = args.repeat
                await timed("online now, first page (50)", lambda: sessions.active(), r)
                await timed("online now, page 101", lambda: sessions.active(after=cursor), r)
                await timed(
                    "online now, one router", lambda: sessions.active(SessionFilter(router="router-3")), r
                )
                await timed(
                    "online now, search a MAC", lambda: sessions.active(SessionFilter(q=mac(4242))), r
                )
                await timed(
                    "online now, search a phone", lambda: sessions.active(SessionFilter(q="0700004242")), r
                )
                await timed("online now, count", lambda: sessions.count_active(), r)
                await timed("history, first page (50)", lambda: sessions.history(), r)
                await timed("history, page 52 of 200", lambda: sessions.history(after=deep, limit=200), r)
                await timed(
                    "history, one router", lambda: sessions.history(SessionFilter(router="router-7")), r
                )
                await timed(
                    "history, one package", lambda: sessions.history(SessionFilter(package="1 day")), r
                )
            finally:
                await db.close()
            if args.page:
                await time_page(settings, cursor, args.repeat)


async def main_async(args: argparse.Namespace) -> None:
    for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        await run(backend, args)
    print("target: each page under 150 ms server-side at p95 (PAGE rows: the whole page through the app)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--active", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--page",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the real /admin/sessions page through the app",
    )
    parser.add_argument(
        "--postgres", default=PG_ADMIN, help="admin URL; a scratch database is made beside it"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
