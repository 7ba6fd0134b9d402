"""Storage on both backends: the real migrations, additive only, safe to run concurrently."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotspot.cli import main
from hotspot.config import Settings
from hotspot.db import Database, all_tables, app_modules, migrate, pending_migrations
from hotspot.db._database import PooledSQLiteEngine, engine_for_url
from hotspot.errors import StorageError

REPO = Path(__file__).resolve().parents[3]
FORBIDDEN = re.compile(r"\b(drop_table|drop_column|alter_column|rename_table|rename_column)\b")


@pytest.mark.fresh_database
async def test_migrations_apply_once(settings: Settings) -> None:
    db = Database(settings.database_url)
    await db.open(all_tables())
    try:
        pending = await pending_migrations(db)
        assert pending, "a fresh database has every migration pending"
        assert await migrate(db) == sorted(pending)
        assert await pending_migrations(db) == []
        assert await migrate(db) == []
        health = await db.health()
        assert health.status == "ok" and health.latency_ms is not None
    finally:
        await db.close()


@pytest.mark.slow
@pytest.mark.fresh_database
def test_concurrent_starts_migrate_once(settings: Settings, tmp_path: Path) -> None:
    """Three processes start at once against one database: one migrates, the others wait."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"database:\n  url: {settings.database_url}\n")
    env = {**os.environ, "HOTSPOT_DATA_DIR": str(settings.data_dir), "HOTSPOT_CONFIG": str(cfg)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hotspot", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert sum("applied migration" in out for out in outputs) == 1, outputs


def test_migrations_are_additive_only() -> None:
    """SQLite cannot ALTER much and old app versions may still run: migrations only add."""
    folders = [REPO / "hotspot"] + [p for p in (REPO / "plugins").iterdir() if p.is_dir()]
    files = [
        f for folder in folders for f in folder.rglob("piccolo_migrations/*.py") if f.name != "__init__.py"
    ]
    assert files
    for f in files:
        assert not FORBIDDEN.search(f.read_text(encoding="utf-8")), f"{f} is not additive"


def test_schema_is_built_from_installed_apps() -> None:
    assert app_modules()[0] == "hotspot.jobs.piccolo_app"
    assert any(t._meta.tablename == "hotspot_job" for t in all_tables())


async def test_sqlite_uses_wal_and_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout=7.5)
    await db.open([])
    try:
        [row] = await db.engine.run_ddl("PRAGMA journal_mode")
        assert row["journal_mode"] == "wal"
        assert db.engine.connection_kwargs["timeout"] == 7.5
    finally:
        await db.close()


async def test_write_lock_serialises_sqlite_writers(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    inside = 0
    peak = 0

    async def writer() -> None:
        nonlocal inside, peak
        async with db.write_lock():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(writer() for _ in range(5)))
    assert peak == 1


def test_postgres_url_is_parsed_without_leaking_into_errors() -> None:
    backend, engine = engine_for_url("postgresql://hs:p%40ss@db.local:6543/billing")
    assert backend == "postgres"
    assert engine.config == {
        "host": "db.local",
        "port": 6543,
        "database": "billing",
        "user": "hs",
        "password": "p@ss",
    }


async def test_unreachable_database_is_a_clear_storage_error() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StorageError, match="cannot open the database"):
        await db.open([])


def test_migrate_command(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"HOTSPOT_DATA_DIR": str(tmp_path), "HOTSPOT_CONFIG": ""}
    first = runner.invoke(main, ["migrate"], env=env)
    assert first.exit_code == 0, first.output
    assert "applied migration" in first.output and "database is up to date" in first.output
    second = runner.invoke(main, ["migrate"], env=env)
    assert second.exit_code == 0 and "applied migration" not in second.output


def test_migrate_command_reports_an_unreachable_database(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("database:\n  url: postgresql://nobody@127.0.0.1:1/none\n")
    result = CliRunner().invoke(
        main, ["migrate", "--config", str(cfg)], env={"HOTSPOT_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 3
    assert "cannot open the database" in result.output


async def test_sqlite_keeps_connections_open_between_statements(tmp_path: Path) -> None:
    """Piccolo would open a connection (and a thread) per statement; the pool reuses a few."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    await db.open([])
    try:
        engine = db.engine
        assert isinstance(engine, PooledSQLiteEngine)
        await asyncio.gather(*(engine.run_ddl("SELECT 1 AS one") for _ in range(40)))
        assert 1 <= engine._open_count <= engine.pool_size
        with pytest.raises(sqlite3.OperationalError):
            await engine.run_ddl("SELECT * FROM no_such_table")
        [row] = await engine.run_ddl("SELECT 2 AS two")
        assert row["two"] == 2
    finally:
        await db.close()
    assert engine._idle == []


async def test_after_commit_runs_once_the_outermost_transaction_commits(
    settings: Settings,
) -> None:
    db = Database(settings.database_url)
    await db.open([])
    ran: list[str] = []
    try:
        db.after_commit(lambda: ran.append("outside"))
        assert ran == ["outside"]
        async with db.transaction():
            async with db.transaction():  # joins the outer one
                db.after_commit(lambda: ran.append("inner"))
            db.after_commit(lambda: ran.append("outer"))
            assert ran == ["outside"]
        assert ran == ["outside", "inner", "outer"]

        async def failing() -> None:
            async with db.transaction():
                db.after_commit(lambda: ran.append("rolled back"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await failing()
        assert "rolled back" not in ran
    finally:
        await db.close()
