"""`hotspot admin create|list|reset-2fa|set-password` against the configured database, both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from accounts_support import PASSWORD
from click.testing import CliRunner, Result

from hotspot.accounts import AccountService, AuditFilter, AuditLog
from hotspot.accounts.tables import AdminUser
from hotspot.cli import main
from hotspot.config import Settings
from hotspot.db import Database, all_tables


@pytest.fixture
def cli(settings: Settings, tmp_path: Path) -> Any:
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {settings.database_url}\n", encoding="utf-8")
    env = {"HOTSPOT_DATA_DIR": str(settings.data_dir), "HOTSPOT_CONFIG": str(config)}

    def run(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(main, ["admin", *args], input=stdin, env=env, catch_exceptions=False)

    return run


def query(settings: Settings, work: Any) -> Any:
    async def go() -> Any:
        db = Database(settings.database_url)
        await db.open(all_tables())
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(go())


def test_create_list_and_audit(cli: Any, settings: Settings) -> None:
    empty = cli("list")
    assert empty.exit_code == 0 and "no admins yet" in empty.output
    made = cli(
        "create",
        "--username",
        "Owner",
        "--role",
        "owner",
        "--email",
        "o@example.com",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    assert "created owner 'owner' (#1)" in made.output
    cli("create", "--username", "till", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    listed = cli("list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["USERNAME", "ROLE", "STATE", "2FA", "LAST", "SIGN-IN"]
    assert lines[1].split()[:5] == ["owner", "owner", "active", "off", "never"]
    assert lines[2].split()[:2] == ["till", "operator"]

    async def check(db: Database) -> Any:
        rows = await AdminUser.select(AdminUser.username, AdminUser.password_hash).run()
        entries = (await AuditLog(db).search(AuditFilter(action="admin.create"))).entries
        return rows, entries

    rows, entries = query(settings, check)
    assert all(
        r["password_hash"].startswith("$argon2id$") and PASSWORD not in r["password_hash"] for r in rows
    )
    assert len(entries) == 2 and all(e["actor"].startswith("cli:") for e in entries)


def test_create_refuses_bad_input_naming_the_option(cli: Any) -> None:
    weak = cli("create", "--username", "boss", "--role", "owner", "--password-stdin", stdin="password123\n")
    assert weak.exit_code == 1 and "password" in weak.output and "common" in weak.output
    name = cli("create", "--username", "x", "--role", "owner", "--password-stdin", stdin=PASSWORD + "\n")
    assert name.exit_code == 1 and "--username:" in name.output
    role = cli("create", "--username", "boss", "--role", "king", "--password-stdin", stdin=PASSWORD + "\n")
    assert role.exit_code == 2  # click refuses an unknown choice
    empty = cli("create", "--username", "boss", "--role", "owner", "--password-stdin", stdin="\n")
    assert empty.exit_code == 1 and "no password" in empty.output
    assert (
        cli(
            "create", "--username", "boss", "--role", "owner", "--password-stdin", stdin=PASSWORD + "\n"
        ).exit_code
        == 0
    )
    taken = cli("create", "--username", "boss", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n")
    assert taken.exit_code == 1 and "taken" in taken.output


def test_reset_2fa_and_set_password(cli: Any, settings: Settings) -> None:
    cli("create", "--username", "boss", "--role", "owner", "--password-stdin", stdin=PASSWORD + "\n")

    async def enable(db: Database) -> int:
        await (
            AdminUser.update({AdminUser.totp_enabled: True, AdminUser.totp_secret_sealed: "sealed"})
            .where(AdminUser.username == "boss")
            .run()
        )
        row = await AdminUser.select(AdminUser.session_generation).first().run()
        return int(row["session_generation"])

    generation = query(settings, enable)
    assert "on" in cli("list").output.splitlines()[1].split()
    reset = cli("reset-2fa", "BOSS")
    assert reset.exit_code == 0 and "2FA is off for 'boss'" in reset.output
    assert cli("list").output.splitlines()[1].split()[3] == "off"
    missing = cli("reset-2fa", "nobody")
    assert missing.exit_code == 1 and "No admin named 'nobody'" in missing.output

    changed = cli("set-password", "boss", "--password-stdin", stdin="lantern-harbour-quiet-8\n")
    assert changed.exit_code == 0, changed.output

    async def after(db: Database) -> Any:
        row = await AdminUser.select().first().run()
        service = _service(db, settings)
        ok = await service.passwords.verify(row["password_hash"], "lantern-harbour-quiet-8")
        actions = [e["action"] for e in (await service.audit.search(AuditFilter())).entries]
        return row, ok, actions

    row, ok, actions = query(settings, after)
    assert ok and row["totp_enabled"] is False and row["totp_secret_sealed"] is None
    assert row["session_generation"] == generation + 2  # each recovery ends the sessions
    assert actions == ["admin.password_reset", "admin.2fa_reset", "admin.create"]


def _service(db: Database, settings: Settings) -> AccountService:
    from litestar.stores.memory import MemoryStore

    from hotspot.locks import MemoryLocks
    from hotspot.settings_store import SettingsStore

    return AccountService.from_settings(
        db, settings, settings_store=SettingsStore(db), throttle_store=MemoryStore(), locks=MemoryLocks()
    )
