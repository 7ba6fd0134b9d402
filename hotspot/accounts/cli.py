"""`hotspot admin ...`: create admins, list them, reset a lost 2FA or password, from a shell.

For headless installs and recovery: it works on the configured database (migrating it first),
needs no running server and loads no plugin, so a broken plugin never locks the owner out.
Changes are audited as `cli:<system user>`. A refused input exits 1 naming the option.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from hotspot.accounts.audit import Actor
from hotspot.accounts.errors import AccountError
from hotspot.accounts.permissions import ROLES
from hotspot.accounts.service import AccountService
from hotspot.cli_common import config_option
from hotspot.config import Settings
from hotspot.errors import HotspotError

__all__ = ["admin_group"]

T = TypeVar("T")
_OPTION = {"username": "--username", "role": "--role", "email": "--email", "phone": "--phone"}


def _settings(config: str | None) -> Settings:
    from hotspot.cli import _load

    return _load(config, stored=False)  # recovery must work even if a saved plugin setting is broken


def _run(settings: Settings, work: Callable[[AccountService], Awaitable[T]]) -> T:
    """Open the configured database (migrated), run `work` with the accounts service."""
    from litestar.stores.memory import MemoryStore

    from hotspot.cli import _fail
    from hotspot.db import Database, all_tables, migrate
    from hotspot.locks import MemoryLocks
    from hotspot.settings_store import SettingsStore

    async def run() -> T:
        db = Database(settings.database_url, busy_timeout=settings.database.sqlite_busy_timeout)
        await db.open(all_tables())
        try:
            await migrate(db)
            service = AccountService.from_settings(
                db,
                settings,
                settings_store=SettingsStore(db),
                throttle_store=MemoryStore(),
                locks=MemoryLocks(),
            )
            service.system_actor = Actor(f"cli:{_user()}")
            return await work(service)
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except AccountError as exc:
        where = f"{_OPTION.get(exc.field, exc.field)}: " if exc.field else ""
        click.secho(f"Error: {where}{exc.message}", fg="red", err=True)
        sys.exit(1)
    except HotspotError as exc:
        _fail(exc)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container): still audit that it came from the shell
        return "unknown"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            click.secho("Error: no password on standard input", fg="red", err=True)
            sys.exit(1)
        return password
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


async def _by_username(service: AccountService, username: str) -> dict[str, Any]:
    name = username.strip().lower()
    for admin in await service.list_admins():
        if admin["username"] == name:
            return admin
    raise AccountError(f"No admin named {name!r}.", field="username")


@click.group(name="admin")
def admin_group() -> None:
    """Admin accounts: create, list, reset 2FA or password (recovery without the web UI)."""


@admin_group.command("create")
@config_option
@click.option("--username", required=True, help="3-32 characters: a-z 0-9 . _ -")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the admin may do.")
@click.option("--email", default=None, help="For alerts and contact.")
@click.option("--phone", default=None, help="For SMS alerts, e.g. +254712345678.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def admin_create(
    config: str | None, username: str, role: str, email: str | None, phone: str | None, password_stdin: bool
) -> None:
    """Add an admin (the first owner of a headless install, or anyone later)."""
    settings = _settings(config)
    password = _read_password(password_stdin)

    async def work(service: AccountService) -> dict[str, Any]:
        return await service.create_admin(
            username=username, password=password, role=role, email=email, phone=phone
        )

    admin = _run(settings, work)
    click.echo(f"created {admin['role']} {admin['username']!r} (#{admin['id']})")


@admin_group.command("list")
@config_option
def admin_list(config: str | None) -> None:
    """Every admin with role, state, 2FA and last sign-in."""

    async def work(service: AccountService) -> list[dict[str, Any]]:
        return await service.list_admins()

    admins = _run(_settings(config), work)
    if not admins:
        click.echo("no admins yet: add the owner with `hotspot admin create --role owner ...`")
        return
    rows = [("USERNAME", "ROLE", "STATE", "2FA", "LAST SIGN-IN")]
    for a in admins:
        last = (
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(a["last_login_at"]))
            + f" UTC from {a['last_login_ip']}"
            if a["last_login_at"]
            else "never"
        )
        rows.append(
            (
                a["username"],
                a["role"],
                "active" if a["active"] else "inactive",
                "on" if a["totp_enabled"] else "off",
                last,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])


@admin_group.command("reset-2fa")
@config_option
@click.argument("username")
def admin_reset_2fa(config: str | None, username: str) -> None:
    """Switch off USERNAME's 2FA (lost phone); they set it up again after signing in."""

    async def work(service: AccountService) -> dict[str, Any]:
        admin = await _by_username(service, username)
        return await service.reset_2fa(admin["id"], by=None)

    admin = _run(_settings(config), work)
    click.echo(f"2FA is off for {admin['username']!r}; their sessions have ended")


@admin_group.command("set-password")
@config_option
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def admin_set_password(config: str | None, username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password (forgotten); their sessions end."""
    settings = _settings(config)
    password = _read_password(password_stdin)

    async def work(service: AccountService) -> dict[str, Any]:
        admin = await _by_username(service, username)
        return await service.set_password(admin["id"], password, by=None)

    admin = _run(settings, work)
    click.echo(f"new password set for {admin['username']!r}; their sessions have ended")
