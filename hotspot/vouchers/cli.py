"""`hotspot vouchers ...`: generate, print, revoke and inspect vouchers from a shell script.

Every command works on the configured database (the one `hotspot serve` and `hotspot demo`
use), migrating it first like `hotspot packages`. A revoke is recorded at once; the devices
are disconnected by the running server's job worker (a durable job), so it works while the
router is unreachable too.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from hotspot.cli_common import config_option
from hotspot.config import Settings
from hotspot.errors import HotspotError
from hotspot.vouchers.codes import DEFAULT_LENGTH, MAX_LENGTH, MIN_LENGTH

__all__ = ["vouchers_group"]

T = TypeVar("T")
LAYOUT_CHOICES = ("a4", "58mm", "80mm")


def _settings(config: str | None) -> Settings:
    from hotspot.cli import _load

    return _load(config)


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the configured database (migrated) with the core services wired, run `work(hotspot)`."""
    from hotspot.cli import _fail
    from hotspot.db import all_tables, migrate
    from hotspot.plugins import discover, load_plugins
    from hotspot.runtime import Hotspot

    async def run() -> T:
        installed = discover()
        hotspot = Hotspot.build(settings, load_plugins(settings, installed), installed)
        await hotspot.db.open(all_tables())
        try:
            await migrate(hotspot.db)
            await hotspot.catalog.seed(settings.packages)  # as `hotspot serve` would on a new database
            return await work(hotspot)
        finally:
            if hotspot.redis is not None:
                await hotspot.redis.aclose()
            await hotspot.db.close()

    try:
        return asyncio.run(run())
    except HotspotError as exc:
        from hotspot.vouchers.service import VoucherError

        if isinstance(exc, VoucherError):
            where = f"--{exc.field.replace('_', '-')}: " if exc.field and exc.field != "code" else ""
            click.secho(f"Error: {where}{exc.message}", fg="red", err=True)
            sys.exit(1)
        _fail(exc)


def _check_writable(*paths: Path | None) -> None:
    """Refuse before anything is generated: a batch whose only copy of its PINs failed to be
    written would be lost."""
    for path in paths:
        if path is not None and not path.resolve().parent.is_dir():
            raise click.UsageError(f"{path}: the folder {path.resolve().parent} does not exist")


def _base_url(settings: Settings, given: str | None) -> str:
    from hotspot.vouchers.printing import PrintError, check_base

    try:
        return check_base(given or settings.server.public_url)
    except PrintError as exc:
        raise click.UsageError(f"{exc} (--portal-url)") from None


@click.group(name="vouchers")
def vouchers_group() -> None:
    """Generate, print, revoke and inspect voucher codes."""


@vouchers_group.command("generate")
@config_option
@click.option(
    "--package", "package", required=True, help="The package's name, as `hotspot packages list` shows it."
)
@click.option("--count", type=click.IntRange(1, 100_000), required=True, help="How many vouchers.")
@click.option("--prefix", default="", help="Letters every code starts with (from the code alphabet).")
@click.option(
    "--length",
    type=click.IntRange(MIN_LENGTH, MAX_LENGTH),
    default=DEFAULT_LENGTH,
    show_default=True,
    help="Random characters after the prefix.",
)
@click.option(
    "--expires",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day an unused voucher works (YYYY-MM-DD, business time zone); a used one runs its package.",
)
@click.option(
    "--devices", type=click.IntRange(1, 100), default=None, help="Devices at once (default: the package's)."
)
@click.option(
    "--devices-total", type=click.IntRange(1, 10_000), default=None, help="Distinct devices over its life."
)
@click.option("--bind-mac", is_flag=True, help="Only the first device that uses a voucher may ever use it.")
@click.option("--pin", is_flag=True, help="Each voucher also needs a 6-digit PIN (printed on the card).")
@click.option("--currency", default=None, help="The price printed (default: the business currency).")
@click.option("--note", default="", help="A note for the admin, e.g. who the batch is for.")
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the codes as CSV."
)
@click.option(
    "--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a printable sheet."
)
@click.option(
    "--layout", type=click.Choice(LAYOUT_CHOICES), default="a4", show_default=True, help="Sheet layout."
)
@click.option(
    "--portal-url", default=None, help="The portal's address in the QR codes (default: server.public_url)."
)
def generate(
    config: str | None,
    package: str,
    count: int,
    prefix: str,
    length: int,
    expires: datetime | None,
    devices: int | None,
    devices_total: int | None,
    bind_mac: bool,
    pin: bool,
    currency: str | None,
    note: str,
    csv_path: Path | None,
    pdf_path: Path | None,
    layout: str,
    portal_url: str | None,
) -> None:
    """Create a batch of vouchers; prints the batch id (the summary goes to stderr)."""
    from hotspot.vouchers.printing import batch_csv, cards_for, sheet_pdf
    from hotspot.vouchers.service import BatchSpec, GeneratedBatch, expiry_timestamp

    settings = _settings(config)
    if pin and not (csv_path or pdf_path):
        raise click.UsageError("--pin needs --csv or --pdf: PINs are shown only once, when generated")
    _check_writable(csv_path, pdf_path)
    base = _base_url(settings, portal_url) if (csv_path or pdf_path) else None
    spec = BatchSpec(
        package=package,
        count=count,
        prefix=prefix,
        length=length,
        expires_at=expiry_timestamp(expires.date(), settings.business.timezone) if expires else None,
        devices=devices,
        devices_total=devices_total,
        bind_mac=bind_mac,
        pin=pin,
        currency=currency,
        created_by="cli",
        note=note,
    )

    async def work(hotspot: Any) -> GeneratedBatch:
        result: GeneratedBatch = await hotspot.vouchers.generate(spec)
        return result

    made = _run(settings, work)
    batch = made.batch
    if base is not None:
        cards = cards_for(batch, made.vouchers, base_url=base, timezone=settings.business.timezone)
        if csv_path is not None:
            csv_path.write_text(batch_csv(cards, batch), encoding="utf-8")
            click.echo(f"wrote {csv_path}", err=True)
        if pdf_path is not None:
            pdf_path.write_bytes(sheet_pdf(cards, business=settings.business.name, layout=layout))
            click.echo(f"wrote {pdf_path} ({layout})", err=True)
    from hotspot.billing import format_money

    click.echo(
        f"batch {batch.id}: {batch.count} voucher(s) for {batch.package} at {format_money(batch.price)}",
        err=True,
    )
    if base is None:
        click.echo(f"print them with: hotspot vouchers export {batch.id} --pdf FILE", err=True)
    click.echo(str(batch.id))


@vouchers_group.command("export")
@config_option
@click.argument("batch_id", type=int)
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the batch as CSV."
)
@click.option(
    "--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a printable sheet."
)
@click.option(
    "--layout", type=click.Choice(LAYOUT_CHOICES), default="a4", show_default=True, help="Sheet layout."
)
@click.option(
    "--portal-url", default=None, help="The portal's address in the QR codes (default: server.public_url)."
)
@click.option("--unused-only", is_flag=True, help="Only vouchers nobody has used yet.")
def export(
    config: str | None,
    batch_id: int,
    csv_path: Path | None,
    pdf_path: Path | None,
    layout: str,
    portal_url: str | None,
    unused_only: bool,
) -> None:
    """Reprint or export an existing batch (PINs are not stored in clear: they are left out)."""
    from hotspot.vouchers.printing import batch_csv, cards_for, sheet_pdf

    settings = _settings(config)
    if not (csv_path or pdf_path):
        raise click.UsageError("give --csv FILE and/or --pdf FILE")
    _check_writable(csv_path, pdf_path)
    base = _base_url(settings, portal_url)

    async def work(hotspot: Any) -> tuple[Any, list[Any]]:
        batch = await hotspot.vouchers.batch(batch_id)
        return batch, await hotspot.vouchers.batch_vouchers(batch_id)

    batch, vouchers = _run(settings, work)
    if unused_only:
        vouchers = [v for v in vouchers if v.state == "unused"]
    cards = cards_for(batch, vouchers, base_url=base, timezone=settings.business.timezone)
    if csv_path is not None:
        csv_path.write_text(batch_csv(cards, batch), encoding="utf-8")
        click.echo(f"wrote {csv_path} ({len(cards)} vouchers)")
    if pdf_path is not None:
        if not cards:
            raise click.UsageError("no vouchers to print")
        pdf_path.write_bytes(sheet_pdf(cards, business=settings.business.name, layout=layout))
        click.echo(f"wrote {pdf_path} ({len(cards)} vouchers, {layout})")


@vouchers_group.command("revoke")
@config_option
@click.argument("code")
def revoke(config: str | None, code: str) -> None:
    """Cancel a voucher: it stops working and its devices are disconnected."""
    settings = _settings(config)

    async def work(hotspot: Any) -> Any:
        before = await hotspot.vouchers.get(code)
        after = await hotspot.vouchers.revoke(code)
        return before, after

    before, after = _run(settings, work)
    if before.state == "revoked":
        click.echo(f"{after.display} was already revoked")
        return
    tail = "; its devices are being disconnected" if before.state == "active" else ""
    click.echo(f"revoked {after.display} (was {before.state}){tail}")


@vouchers_group.command("show")
@config_option
@click.argument("code")
def show(config: str | None, code: str) -> None:
    """A voucher's state, devices, sessions with usage, and every redeem attempt."""
    from hotspot.portal.format import format_bytes, format_duration

    settings = _settings(config)

    async def work(hotspot: Any) -> Any:
        return await hotspot.vouchers.history(code)

    history = _run(settings, work)
    tz = ZoneInfo(settings.business.timezone)

    def when(ts: float | None) -> str:
        return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M") if ts else "-"

    v = history.voucher
    click.echo(f"{v.display}  {v.state}  batch {v.batch_id}  {v.package}")
    click.echo(f"first used {when(v.first_used_at)}  devices {v.devices_used}  bound to {v.bound_mac or '-'}")
    click.echo(
        f"usage: {format_bytes(history.bytes_out)} down, {format_bytes(history.bytes_in)} up, "
        f"{format_duration(history.seconds_online)} online"
    )
    for s in history.sessions:
        click.echo(
            f"  session {s['mac']} {s['ip']} on {s['router']}: "
            f"{when(s['started_at'])} - {when(s['ended_at'])}  "
            f"{format_bytes(s['bytes_out'])} down / {format_bytes(s['bytes_in'])} up"
        )
    for a in history.attempts:
        click.echo(f"  {when(a['at'])} {a['outcome']} {a['reason'] or ''} {a['mac'] or '-'} {a['ip'] or '-'}")


@vouchers_group.command("poster")
@config_option
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--wifi-name", default=None, help="The WiFi network's name, printed on the poster.")
@click.option(
    "--portal-url", default=None, help="The portal's address in the QR code (default: server.public_url)."
)
def poster(config: str | None, pdf_path: Path, wifi_name: str | None, portal_url: str | None) -> None:
    """An A4 poster with a QR code that opens the portal."""
    from hotspot.vouchers.printing import poster_pdf

    settings = _settings(config)
    base = _base_url(settings, portal_url)
    pdf_path.write_bytes(poster_pdf(business=settings.business.name, base_url=base, wifi_name=wifi_name))
    click.echo(f"wrote {pdf_path}")
