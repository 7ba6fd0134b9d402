"""A fresh, empty database per bench run, on either backend (shared by the bench scripts)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg

__all__ = ["database"]


@contextlib.asynccontextmanager
async def database(backend: str, data_dir: Path, admin_url: str) -> AsyncIterator[dict[str, Any]]:
    """Config overrides for a fresh, empty database of `backend`; drops a PostgreSQL one afterwards."""
    if backend == "sqlite":
        yield {}  # the embedded default: data_dir/hotspot.db
        return
    name = f"hotspot_bench_{secrets.token_hex(4)}"
    dsn = admin_url.replace("postgresql://", "postgres://", 1)
    admin = await asyncpg.connect(dsn, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield {"database": {"url": f"{admin_url.rsplit('/', 1)[0]}/{name}"}}
    finally:
        admin = await asyncpg.connect(dsn, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
