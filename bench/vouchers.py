"""Voucher generation and printing: `python bench/vouchers.py [--backend sqlite|postgres|both]
[--count 10000] [--pdf 1000] [--layout a4]`.

Why: an owner prints vouchers in thousands (a campus term, a market week), from the admin or
`hotspot vouchers generate`. This measures, on a fresh database of each backend:

* generate: `Vouchers.generate` for `--count` codes (with PINs, hashed), storage included: the
  batch row and every voucher row in one transaction, inserted 1,000 rows a statement;
* pdf: the sheet for `--pdf` of those vouchers (WeasyPrint, a segno QR code per card as a
  one-pixel-per-module PNG), after warming WeasyPrint's imports and fonts on a few cards.

Each is run twice: once plain for the seconds, once under tracemalloc for the peak of Python
allocations during that step alone. The process's peak resident memory (getrusage maxrss,
everything so far: Python, WeasyPrint, Pango, the database driver) is printed at the end.
The PostgreSQL database is made for the run beside --postgres and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from _storage import database

from hotspot.config import load_settings
from hotspot.db import all_tables, migrate
from hotspot.plugins import load_plugins
from hotspot.runtime import Hotspot
from hotspot.vouchers import BatchSpec, GeneratedBatch
from hotspot.vouchers.printing import cards_for, sheet_pdf

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PACKAGES = [{"name": "1 day", "price": "50 KES", "duration": "1d", "data": "2GB", "devices": 2}]
BASE_URL = "http://10.5.50.2:8000"
T = TypeVar("T")


async def timed(work: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    started = time.perf_counter()
    result = await work()
    return result, time.perf_counter() - started


async def peak_of(work: Callable[[], Awaitable[Any]]) -> float:
    """Peak MiB of Python allocations while `work` runs (tracemalloc; slower, so timed apart)."""
    tracemalloc.start()
    try:
        await work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


async def run(backend: str, args: argparse.Namespace) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="hotspot-bench-") as tmp:
        async with database(backend, Path(tmp), args.postgres) as overrides:
            settings = load_settings(
                None,
                env={"HOTSPOT_DATA_DIR": tmp},
                overrides={**overrides, "packages": PACKAGES, "jobs": {"enabled": False}},
            )
            hotspot = Hotspot.build(settings, load_plugins(settings, {}), {})
            await hotspot.db.open(all_tables())
            try:
                await migrate(hotspot.db)
                await hotspot.catalog.seed(settings.packages)

                def generate() -> Awaitable[GeneratedBatch]:
                    spec = BatchSpec(package="1 day", count=args.count, pin=True, prefix="BN")
                    return hotspot.vouchers.generate(spec)

                made, gen_seconds = await timed(generate)
                gen_peak = await peak_of(generate)
                assert len({v.code for v in made.vouchers}) == args.count

                cards = cards_for(made.batch, made.vouchers[: args.pdf], base_url=BASE_URL, timezone="UTC")
                sheet_pdf(cards[:3], business="Bench Cafe", layout=args.layout)  # warm up imports, fonts

                async def render() -> bytes:
                    return sheet_pdf(cards, business="Bench Cafe", layout=args.layout)

                pdf, pdf_seconds = await timed(render)
                pdf_peak = await peak_of(render)
            finally:
                await hotspot.db.close()
                if hotspot.redis is not None:
                    await hotspot.redis.aclose()
    return [
        f"{backend:<9} generate {args.count:>6,} vouchers: {gen_seconds:6.2f} s "
        f"({args.count / gen_seconds:,.0f}/s), Python peak {gen_peak:6.1f} MiB",
        f"{backend:<9} render   {len(cards):>6,} cards ({args.layout}, {len(pdf) / 2**20:.1f} MiB PDF): "
        f"{pdf_seconds:6.2f} s ({len(cards) / pdf_seconds:,.0f} cards/s), Python peak {pdf_peak:6.1f} MiB",
    ]


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        for line in await run(backend, args):
            print(line, flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"process peak resident memory (maxrss, whole run): {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--count", type=int, default=10_000, help="vouchers to generate")
    parser.add_argument("--pdf", type=int, default=1_000, help="vouchers on the timed sheet")
    parser.add_argument("--layout", choices=["a4", "58mm", "80mm"], default="a4")
    parser.add_argument(
        "--postgres", default=PG_ADMIN, help="admin URL; a scratch database is made beside it"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
