"""`hotspot promos ...`: create, list, switch off and audit promo codes from a shell script.

Every command works on the configured database (the one `hotspot serve` uses), migrating it
first like `hotspot packages`. Dates are whole days in the business time zone: `--until
2026-03-31` keeps the code valid through the end of 31 March.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from hotspot.cli_common import config_option
from hotspot.config import Settings
from hotspot.errors import HotspotError

__all__ = ["promos_group"]

T = TypeVar("T")


def _run(config: str | None, work: Callable[[Any, Settings], Awaitable[T]]) -> T:
    """Open the configured database (migrated), run `work(promos, settings)`, close it."""
    from hotspot.billing.catalog import Catalog
    from hotspot.billing.promos import PromoError, Promos
    from hotspot.cli import _fail, _load
    from hotspot.db import Database, all_tables, migrate

    settings = _load(config)

    async def run() -> T:
        db = Database(settings.database_url, busy_timeout=settings.database.sqlite_busy_timeout)
        await db.open(all_tables())
        try:
            await migrate(db)
            await Catalog(db).seed(settings.packages)  # as `hotspot serve` would on a new database
            return await work(Promos(db, tz=ZoneInfo(settings.business.timezone)), settings)
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except PromoError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(1)
    except HotspotError as exc:
        _fail(exc)


def _money(values: tuple[str, ...], option: str) -> dict[str, Any]:
    from hotspot.billing.currencies import parse_money

    amounts: dict[str, Any] = {}
    for text in values:
        try:
            money = parse_money(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from None
        if money.currency in amounts:
            raise click.BadParameter(f"{money.currency} is given twice", param_hint=option)
        amounts[money.currency] = money
    return amounts


@click.group(name="promos")
def promos_group() -> None:
    """Promo codes: percent or fixed amount off, for chosen packages, within limits."""


@promos_group.command("create")
@config_option
@click.argument("code")
@click.option("--percent", default=None, help='Percent off, e.g. 10 or "12.5".')
@click.option("--amount", "amounts", multiple=True, help='Fixed amount off, e.g. "20 KES"; one per currency.')
@click.option(
    "--packages", default=None, help="Only these packages, by name, comma-separated (default: all)."
)
@click.option("--from", "starts", default=None, metavar="YYYY-MM-DD", help="First day it works.")
@click.option("--until", "ends", default=None, metavar="YYYY-MM-DD", help="Last day it works.")
@click.option("--max-uses", type=click.IntRange(min=1), default=None, help="Uses in total, by everyone.")
@click.option("--per-phone", type=click.IntRange(min=1), default=None, help="Uses per phone number.")
@click.option(
    "--min", "minimums", multiple=True, help='Only on packages priced at least this, e.g. "50 KES".'
)
@click.option("--description", default="", help="A note for the owner (not shown to customers).")
def promos_create(
    config: str | None,
    code: str,
    percent: str | None,
    amounts: tuple[str, ...],
    packages: str | None,
    starts: str | None,
    ends: str | None,
    max_uses: int | None,
    per_phone: int | None,
    minimums: tuple[str, ...],
    description: str,
) -> None:
    """Create promo CODE: give --percent or --amount."""
    from hotspot.billing.percent import basis_points
    from hotspot.billing.promos import PromoError, Promos, PromoSpec, parse_day

    if (percent is None) == (not amounts):
        raise click.UsageError("give either --percent or --amount")
    try:
        points = basis_points(percent) if percent is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--percent") from None
    off, floor = _money(amounts, "--amount"), _money(minimums, "--min")
    names = [n.strip() for n in (packages or "").split(",") if n.strip()]

    async def work(promos: Promos, settings: Settings) -> Any:
        from hotspot.billing.catalog import Catalog

        by_name = {p.name: p.id for p in await Catalog(promos.db).all()}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise PromoError(f"--packages: no package called {', '.join(map(repr, unknown))}")
        try:
            start = parse_day(starts, promos.tz, end=False) if starts else None
            end = parse_day(ends, promos.tz, end=True) if ends else None
        except ValueError:
            raise PromoError("--from/--until: write dates as YYYY-MM-DD") from None
        return await promos.create(
            PromoSpec(
                code=code,
                percent_bp=points,
                amounts=off,
                package_ids=[by_name[n] for n in names],
                min_prices=floor,
                valid_from=start,
                valid_until=end,
                max_uses=max_uses,
                per_phone=per_phone,
                description=description,
            )
        )

    promo = _run(config, work)
    click.echo(f"created promo {promo.code}: {promo.label}")


def _day(moment: float | None, tz: ZoneInfo, *, end: bool) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment - (1 if end else 0), tz).date().isoformat()


@promos_group.command("list")
@config_option
def promos_list(config: str | None) -> None:
    """Show every promo code with its terms, uses and whether it is active."""
    from hotspot.billing.catalog import Catalog
    from hotspot.billing.currencies import format_money
    from hotspot.billing.promos import Promos

    async def work(promos: Promos, settings: Settings) -> list[tuple[str, ...]]:
        names = {p.id: p.name for p in await Catalog(promos.db).all()}
        rows: list[tuple[str, ...]] = []
        for p in await promos.all():
            valid = (
                f"{_day(p.valid_from, promos.tz, end=False)} .. {_day(p.valid_until, promos.tz, end=True)}"
            )
            rows.append(
                (
                    p.code,
                    p.label,
                    ", ".join(names.get(i, f"#{i}") for i in p.package_ids) or "all packages",
                    valid,
                    f"{p.used}/{p.max_uses if p.max_uses is not None else '-'}",
                    str(p.per_phone) if p.per_phone is not None else "-",
                    ", ".join(format_money(m) for m in p.min_prices.values()) or "-",
                    "active" if p.active else "off",
                )
            )
        return rows

    rows = _run(config, work)
    if not rows:
        click.echo("no promo codes yet: add one with `hotspot promos create CODE --percent 10`")
        return
    table = [("CODE", "OFF", "PACKAGES", "VALID", "USED", "PER PHONE", "MIN", "STATE"), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def _switch(config: str | None, code: str, active: bool) -> None:
    from hotspot.billing.promos import PromoError, Promos

    async def work(promos: Promos, settings: Settings) -> None:
        if not await promos.set_active(code, active):
            raise PromoError(f"no promo code {code!r}")

    _run(config, work)
    click.echo(f"promo {code.upper()} is {'active' if active else 'off'}")


@promos_group.command("disable")
@config_option
@click.argument("code")
def promos_disable(config: str | None, code: str) -> None:
    """Stop CODE from working (orders already priced with it keep their price)."""
    _switch(config, code, False)


@promos_group.command("enable")
@config_option
@click.argument("code")
def promos_enable(config: str | None, code: str) -> None:
    """Let a disabled CODE work again."""
    _switch(config, code, True)


@promos_group.command("uses")
@config_option
@click.argument("code")
def promos_uses(config: str | None, code: str) -> None:
    """Every use of CODE, newest first: order, phone, discount and state (held, used, released)."""
    from hotspot.billing.currencies import format_money
    from hotspot.billing.promos import Promos
    from hotspot.contracts import Money
    from hotspot.payments.phone import mask_phone

    async def work(promos: Promos, settings: Settings) -> list[dict[str, Any]]:
        return await promos.uses(code)

    uses = _run(config, work)
    if not uses:
        click.echo(f"no uses of {code.upper()}")
    for use in uses:
        off = format_money(Money(int(use["discount"]), use["currency"]))
        click.echo(f"{use['order_id']}  {mask_phone(use['phone']) or '-'}  {off} off  {use['state']}")
