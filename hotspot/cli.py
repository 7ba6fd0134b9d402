"""The `hotspot` command.

Exit codes: 0 success; 1 the configuration is wrong; 2 wrong command-line usage (click);
3 the database or Redis cannot be reached or migrated; 4 refused as unsafe; 5 a plugin failed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from hotspot import __version__
from hotspot.cli_common import config_option
from hotspot.config import CONFIG_ENV, DATA_DIR_ENV, Settings, find_config_file, load_settings
from hotspot.errors import ConfigError, HotspotError, PluginError, StartupRefused, StorageError

__all__ = ["main"]

EXIT_CONFIG, EXIT_STORAGE, EXIT_REFUSED, EXIT_PLUGIN = 1, 3, 4, 5
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _fail(error: HotspotError) -> NoReturn:
    if isinstance(error, ConfigError):
        click.secho(f"The configuration has {len(error.problems)} problem(s):", fg="red", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_CONFIG)
    code = {StorageError: EXIT_STORAGE, StartupRefused: EXIT_REFUSED, PluginError: EXIT_PLUGIN}.get(
        type(error), EXIT_CONFIG
    )
    click.secho(f"Error: {error}", fg="red", err=True)
    sys.exit(code)


def _load(config: str | None, *, stored: bool = True) -> Settings:
    """The config file plus the settings saved in the admin (setup wizard), which it overrides."""
    from hotspot.plugins import discover, settings_models

    try:
        return load_settings(config, plugins=settings_models(discover()), stored=stored)
    except HotspotError as exc:
        _fail(exc)


def _check_wiring(settings: Settings) -> None:
    """Register the enabled plugins and match routers to drivers, as startup will (no network)."""
    from hotspot.plugins import load_plugins
    from hotspot.routers import RouterPool

    try:
        registry = load_plugins(settings)
        RouterPool(settings.routers, registry.router_drivers, source=settings.source)
    except HotspotError as exc:
        _fail(exc)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hotspot")
def main() -> None:
    """Hotspot: sell WiFi on MikroTik routers from one small box."""


def _describe_source(settings: Settings) -> None:
    click.echo(f"config:    {settings.source or 'built-in defaults (no config file)'}")
    click.echo(f"data dir:  {settings.data_dir}")
    backend = "PostgreSQL" if settings.database_url.startswith("postgres") else "SQLite"
    where = settings.data_dir / "hotspot.db" if settings.database.url is None else "database.url"
    click.echo(f"database:  {backend} ({where})")
    click.echo(f"redis:     {'redis.url' if settings.redis_url else 'not configured (in-process stores)'}")


@main.command()
@config_option
@click.option("--host", default=None, help="Address to listen on (default: server.host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: server.port).")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Worker processes (default: server.workers)."
)
def serve(config: str | None, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the web app on the production ASGI server (granian)."""
    _serve(config, host=host, port=port, workers=workers)


def _serve(config: str | None, *, host: str | None, port: int | None, workers: int | None) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    from hotspot.runtime import check_process_layout

    settings = _load(config)
    _check_wiring(settings)
    host = host or settings.server.host
    port = port or settings.server.port
    workers = workers or settings.server.workers
    _describe_source(settings)
    try:
        check_process_layout(settings, workers)
        if settings.database.migrate_on_start:
            _run_migrations(settings, quiet=True)
    except HotspotError as exc:
        _fail(exc)
    click.echo(f"listening: http://{host}:{port}  ({workers} worker{'s' if workers > 1 else ''})")
    # Workers re-load exactly what was checked here.
    if settings.source:
        os.environ[CONFIG_ENV] = str(Path(settings.source).resolve())
    os.environ[DATA_DIR_ENV] = str(settings.data_dir.resolve())
    Granian(
        "hotspot.app:app_from_env",
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        log_access=False,
        respawn_failed_workers=True,
    ).serve()


def _run_migrations(settings: Settings, *, quiet: bool = False) -> list[str]:
    from hotspot.db import Database, migrate

    async def run() -> list[str]:
        db = Database(settings.database_url, busy_timeout=settings.database.sqlite_busy_timeout)
        await db.open([])
        try:
            return await migrate(db)
        finally:
            await db.close()

    applied = asyncio.run(run())
    if not quiet or applied:
        for migration_id in applied:
            click.echo(f"applied migration {migration_id}")
    return applied


@main.command()
@config_option
def migrate(config: str | None) -> None:
    """Bring the database schema up to date (safe to run any time)."""
    settings = _load(config)
    _describe_source(settings)
    try:
        applied = _run_migrations(settings)
    except HotspotError as exc:
        _fail(exc)
    click.secho(
        f"database is up to date ({len(applied)} migration(s) applied now)"
        if applied
        else "database is up to date",
        fg="green",
    )


@main.group(name="config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def config_check(path: str | None) -> None:
    """Validate a config file (default: --config rules) without starting anything."""
    file = find_config_file(path)
    if file is not None and not file.is_file():
        click.secho(f"Error: {file}: no such file", fg="red", err=True)
        sys.exit(EXIT_CONFIG)
    settings = _load(str(file) if file else None, stored=False)  # the file alone, no database
    _check_wiring(settings)
    _describe_source(settings)
    enabled = [name for name, block in settings.plugins.items() if block.enabled]
    click.echo(f"plugins:   {', '.join(enabled) if enabled else 'none enabled'}")
    click.echo(f"routers:   {', '.join(r.name for r in settings.routers) or 'none configured'}")
    click.secho("configuration OK", fg="green")


@main.command()
@config_option
def plugins(config: str | None) -> None:
    """List installed plugins, their kind, version and whether the config enables them."""
    from hotspot.plugins import discover

    installed = discover()
    settings = _load(config)
    rows = [("NAME", "KIND", "VERSION", "STATE", "DESCRIPTION")]
    for name, plugin in installed.items():
        if plugin.error:
            state, kind, description = "broken", "?", plugin.error
        else:
            assert plugin.info is not None
            state = "enabled" if settings.plugin(name).enabled else "disabled"
            kind, description = plugin.info.kind, plugin.info.description
        rows.append((name, kind, plugin.version or "-", state, description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        click.echo(line.rstrip())
    if len(rows) == 1:
        click.echo("(no plugins installed)")


@main.command()
@click.option("--port", type=int, default=8000, show_default=True, help="Port for the portal and admin.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's database here (default: a fresh temporary folder).",
)
def demo(port: int, data_dir: Path | None) -> None:
    """Run the whole flow with a simulated router and M-Pesa: no hardware, no internet."""
    import tempfile

    from hotspot.demo import Demo

    folder = data_dir or Path(tempfile.mkdtemp(prefix="hotspot-demo-"))
    session = Demo(port=port, data_dir=folder.resolve())
    try:
        config = session.start()
    except OSError as exc:
        click.secho(f"Error: cannot start the demo: {exc}", fg="red", err=True)
        sys.exit(EXIT_REFUSED)
    for line in session.lines():
        click.echo(line)
    _serve(str(config), host=None, port=port, workers=1)


@main.group(name="packages")
def packages_group() -> None:
    """List the packages on sale, or add/update them from a YAML file."""


def _with_catalog(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from hotspot.billing import Catalog
    from hotspot.db import Database, all_tables, migrate

    async def run() -> T:
        db = Database(settings.database_url, busy_timeout=settings.database.sqlite_busy_timeout)
        await db.open(all_tables())
        try:
            await migrate(db)
            return await work(Catalog(db))
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except HotspotError as exc:
        _fail(exc)


@packages_group.command("list")
@config_option
def packages_list(config: str | None) -> None:
    """Show every package with its prices, terms and whether the portal shows it."""
    from hotspot.billing import Catalog, PackageView
    from hotspot.billing.currencies import to_decimal

    async def work(catalog: Catalog) -> list[PackageView]:
        return await catalog.all()

    rows = _with_catalog(_load(config), work)
    if not rows:
        click.echo("no packages yet: add some with `hotspot packages import FILE`")
    for p in rows:
        prices = ", ".join(f"{to_decimal(m)} {m.currency}" for m in p.prices.values())
        shown = "" if p.visible else "  (hidden)"
        click.echo(f"#{p.id:<3} {p.name:<24} {prices:<16} {p.seconds}s x{p.devices} device(s){shown}")


@packages_group.command("import")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def packages_import(config: str | None, file: Path) -> None:
    """Add or update (by name) the packages in FILE: a YAML list, or a `packages:` key holding one."""
    import yaml
    from pydantic import TypeAdapter, ValidationError

    from hotspot.billing import Catalog
    from hotspot.config import PackageSettings

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        click.secho(f"Error: {file} is not valid YAML: {exc}", fg="red", err=True)
        sys.exit(EXIT_CONFIG)
    items = data.get("packages") if isinstance(data, dict) else data
    try:
        specs = TypeAdapter(list[PackageSettings]).validate_python(items)
    except ValidationError as exc:
        click.secho(f"Error: {file} has {exc.error_count()} problem(s):", fg="red", err=True)
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            click.echo(f"  packages.{where}: {error['msg']}", err=True)
        sys.exit(EXIT_CONFIG)

    async def work(catalog: Catalog) -> list[tuple[str, bool]]:
        return [(spec.name, (await catalog.upsert(spec))[1]) for spec in specs]

    for name, created in _with_catalog(_load(config), work):
        click.echo(f"{'added' if created else 'updated'}: {name}")


@main.group(name="sim")
def sim_group() -> None:
    """Run simulators of the outside world (a MikroTik router, M-Pesa Daraja) for testing and demos."""


@sim_group.command("routeros")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8728, show_default=True, help="Port (0 = any free port).")
@click.option("--user", "username", default="admin", show_default=True, help="API user name.")
@click.option("--password", default="", help="API password (default: empty, like a new router).")
@click.option("--identity", default="MikroTik", show_default=True, help="/system/identity name.")
@click.option("--tls", is_flag=True, help="Serve API-SSL with a self-signed certificate.")
@click.option(
    "--device",
    "devices",
    multiple=True,
    metavar="MAC=IP",
    help="A device already on the WiFi (in /ip/hotspot/host); repeatable.",
)
@click.option("--http-port", type=int, default=None, help="Also serve the HotSpot login page (0 = any port).")
@click.option("--portal-url", default=None, help="Where the login page sends devices (the box's /portal).")
def sim_routeros(
    host: str,
    port: int,
    username: str,
    password: str,
    identity: str,
    tls: bool,
    devices: tuple[str, ...],
    http_port: int | None,
    portal_url: str | None,
) -> None:
    """Serve a simulated RouterOS API with a HotSpot until Ctrl-C."""
    from hotspot.sim.routeros import RouterOSSimulator

    pairs: list[tuple[str, str]] = []
    for device in devices:
        mac, sep, ip = device.partition("=")
        if not sep:
            raise click.BadParameter(f"{device!r} is not MAC=IP", param_hint="--device")
        pairs.append((mac, ip))

    sim = RouterOSSimulator(username=username, password=password, identity=identity)
    try:
        for mac, ip in pairs:
            sim.add_host(mac, ip)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--device") from None

    async def start() -> list[str]:
        await sim.start(host=host, port=port, tls=tls)
        scheme = "api-ssl" if tls else "api"
        lines = [f"RouterOS simulator '{identity}' ({scheme}) listening on {sim.address}"]
        if http_port is not None:
            url = await sim.start_http(host, http_port, portal_url=portal_url)
            lines.append(
                f"HotSpot login page: {url}/ (sends devices to {portal_url or 'the default portal URL'})"
            )
        lines.append(
            f"login: {username} / {'(empty password)' if not password else '******'}; Ctrl-C to stop"
        )
        return lines

    _serve_until_stopped(start, sim.stop)


@sim_group.command("daraja")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8089, show_default=True, help="Port (0 = any free port).")
@click.option("--key", "consumer_key", default="sim-consumer-key", show_default=True, help="Consumer key.")
@click.option("--secret", "consumer_secret", default="sim-consumer-secret", show_default=True, help="Secret.")
@click.option("--shortcode", default="174379", show_default=True, help="BusinessShortCode (PayBill).")
@click.option("--passkey", default=None, help="Lipa na M-Pesa passkey (default: the public sandbox one).")
@click.option("--till", default=None, help="Till number CustomerBuyGoodsOnline pushes must pay.")
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    metavar="PHONE=OUTCOME[:SECONDS]",
    help="How a phone answers, e.g. 254712345678=cancelled:20; repeatable.",
)
@click.option("--default-outcome", default="success", show_default=True, help="How other phones answer.")
@click.option("--delay", type=float, default=10.0, show_default=True, help="Seconds before they answer.")
@click.option("--drop-callbacks", is_flag=True, help="Never POST callbacks (payments settle by query).")
def sim_daraja(
    host: str,
    port: int,
    consumer_key: str,
    consumer_secret: str,
    shortcode: str,
    passkey: str | None,
    till: str | None,
    outcomes: tuple[str, ...],
    default_outcome: str,
    delay: float,
    drop_callbacks: bool,
) -> None:
    """Serve a simulated Safaricom Daraja API (OAuth, STK push, STK query) until Ctrl-C."""
    from hotspot.sim.daraja import SANDBOX_PASSKEY, DarajaSimulator

    sim = DarajaSimulator(consumer_key, consumer_secret, shortcode, passkey or SANDBOX_PASSKEY, till=till)
    try:
        sim.set_outcome(None, default_outcome, after_seconds=delay)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--default-outcome") from None
    for item in outcomes:
        phone, sep, rest = item.partition("=")
        outcome, _, seconds = rest.partition(":")
        try:
            if not sep:
                raise ValueError(f"{item!r} is not PHONE=OUTCOME[:SECONDS]")
            sim.set_outcome(phone, outcome, after_seconds=float(seconds) if seconds else delay)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--outcome") from None
    sim.drop_callbacks = drop_callbacks

    async def start() -> list[str]:
        await sim.start(host=host, port=port, realtime=True)
        return [
            f"Daraja simulator listening on {sim.base_url}",
            f"consumer key: {consumer_key}; shortcode: {shortcode}; Ctrl-C to stop",
        ]

    _serve_until_stopped(start, sim.stop)


def _serve_until_stopped(
    start: Callable[[], Awaitable[list[str]]], stop: Callable[[], Awaitable[None]]
) -> None:
    """Start a simulator, print what start() says, serve until Ctrl-C, then stop it cleanly."""

    async def run() -> None:
        for line in await start():
            click.echo(line)
        try:
            await asyncio.Event().wait()
        finally:
            await stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        click.echo("stopped")


def _add_domain_commands() -> None:
    """Command groups that live with their domain (imported here, after `main` exists)."""
    from hotspot.accounts.cli import admin_group
    from hotspot.billing.cli import promos_group
    from hotspot.vouchers.cli import vouchers_group

    main.add_command(admin_group)
    main.add_command(promos_group)
    main.add_command(vouchers_group)


_add_domain_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
