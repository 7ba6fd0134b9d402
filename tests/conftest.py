"""Shared fixtures. Tests that touch storage take `settings` and run once per backend:

* ``sqlite``   the embedded default: a SQLite file in a temp data dir, in-process stores;
* ``postgres`` the appliance: a PostgreSQL database made for this test run + Redis.

The servers are real. An unreachable server fails the run (never a skip). Point elsewhere with
HOTSPOT_TEST_POSTGRES / HOTSPOT_TEST_REDIS; HOTSPOT_TEST_BACKENDS=sqlite limits the run locally.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis as redis_sync
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hotspot.app import create_app
from hotspot.config import Settings, load_settings

PG_URL = os.environ.get("HOTSPOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HOTSPOT_TEST_REDIS", "redis://127.0.0.1:6379/0")
BACKENDS = [b for b in os.environ.get("HOTSPOT_TEST_BACKENDS", "sqlite,postgres").split(",") if b]
THIRD_PARTY = Path(__file__).parent / "thirdparty"


def _pg_admin_dsn() -> str:
    return PG_URL.replace("postgresql://", "postgres://", 1)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of our own for this run, dropped at the end."""
    name = f"hotspot_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        try:
            conn = await asyncpg.connect(_pg_admin_dsn(), timeout=5)
        except Exception as exc:
            pytest.fail(
                f"PostgreSQL is required for the postgres backend and is unreachable at {PG_URL}: {exc}"
            )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_server() -> str:
    client = redis_sync.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(f"Redis is required for the postgres backend and is unreachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


_PG_MIGRATED: set[str] = set()  # the run's databases whose schema is migrated (and only emptied since)


def _reset_schema(url: str, *, migrated: bool = True) -> None:
    """An empty database for the next test. Migrating a fresh schema every test took a third of a
    second; once migrated, the tables are emptied instead (TRUNCATE, which also skips the audit
    log's no-delete triggers). `migrated=False`: an empty schema (tests of migrating itself)."""
    from hotspot.db import Database, migrate

    async def run() -> None:
        conn = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1), timeout=5)
        try:
            if migrated and url in _PG_MIGRATED:
                tables = await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'migration'"
                )
                names = ", ".join(f'"{row["tablename"]}"' for row in tables)
                if names:
                    await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                return
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            _PG_MIGRATED.discard(url)
        finally:
            await conn.close()
        if migrated:
            db = Database(url)
            await db.open([])
            try:
                await migrate(db)
            finally:
                await db.close()
            _PG_MIGRATED.add(url)

    asyncio.run(run())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis_prefix() -> str:
    return f"hotspot_test_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, made once per run: each test's data dir
    starts with a copy (migrating a fresh file takes most of a second, a copy milliseconds).
    A test about migrating itself asks for an empty file with @pytest.mark.fresh_database
    (on PostgreSQL too: see _reset_schema)."""
    from hotspot.db import Database, migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "hotspot.db"

    async def build() -> None:
        db = Database(f"sqlite:///{path}")
        await db.open([])
        try:
            await migrate(db)
        finally:
            await db.close()

    asyncio.run(build())
    assert (
        not path.with_name("hotspot.db-wal").exists() or path.with_name("hotspot.db-wal").stat().st_size == 0
    )
    return path


@pytest.fixture
def settings_overrides(
    backend: str, request: pytest.FixtureRequest, redis_prefix: str, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """Config overrides selecting the backend; cleans the PostgreSQL schema and Redis keys."""
    if backend == "sqlite":
        if request.node.get_closest_marker("fresh_database") is None:
            data_dir = tmp_path / "data"  # where make_settings (and the admin fixtures) keep it
            data_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(request.getfixturevalue("sqlite_template"), data_dir / "hotspot.db")
        yield {"rate_limit": {"enabled": False}}
        return
    pg_url: str = request.getfixturevalue("pg_database")
    redis_url: str = request.getfixturevalue("redis_server")
    _reset_schema(pg_url, migrated=request.node.get_closest_marker("fresh_database") is None)
    yield {
        "database": {"url": pg_url},
        "redis": {"url": redis_url, "prefix": redis_prefix},
        "rate_limit": {"enabled": False},
    }
    client = redis_sync.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{redis_prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def make_settings(tmp_path: Path, settings_overrides: dict[str, Any]) -> Any:
    """Build Settings for this backend, with extra overrides merged on top."""
    from hotspot.config._loader import _merge

    def make(extra: dict[str, Any] | None = None, plugins: dict[str, Any] | None = None) -> Settings:
        data_dir = tmp_path / "data"
        return load_settings(
            None,
            env={"HOTSPOT_DATA_DIR": str(data_dir)},
            overrides=_merge(settings_overrides, extra or {}),
            plugins=plugins,
        )

    return make


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings()  # type: ignore[no-any-return]


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A test client around the real app (lifespan: open DB, migrate, start plugins and jobs)."""
    app = create_app(settings)
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
def third_party_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the test-only third-party distribution importable and discoverable, as pip would."""
    monkeypatch.syspath_prepend(str(THIRD_PARTY))
    import importlib

    importlib.invalidate_caches()
    yield THIRD_PARTY
    sys.modules.pop("hotspot_examplegw", None)
