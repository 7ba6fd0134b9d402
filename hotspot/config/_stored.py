"""Settings chosen in the browser (setup wizard, admin), read back when the app is built.

A wizard-made install has no hand-written YAML: the owner's answers live in the database
(hotspot.settings_store, table ``hotspot_setting``) and `load_settings(..., stored=True)` lays
them *under* the YAML, so a key the file sets still wins. Only keys under `STORED_PREFIXES` are
merged (``business.*``, ``plugins.<name>``, and ``discounts``: the whole list of automatic
discount rules, edited on the admin's promos page); other rows of the table belong to services that
read them themselves (``security.require_2fa`` must stay "unset" in Settings, see accounts).

Secrets typed into the browser are stored sealed (``{"$sealed": token}``, hotspot.secrets_box
with the box's secret key), so a database dump alone does not reveal an M-Pesa passkey.

Settings are read while the app is built, before any event loop runs, so the read is
synchronous: sqlite3 for the embedded file, asyncpg in a short-lived loop on a worker thread
for PostgreSQL (the caller may itself be inside a running loop, e.g. a test).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from hotspot.errors import StorageError
from hotspot.secrets_box import SecretBox

__all__ = [
    "SEALED",
    "STORED_PREFIXES",
    "nest",
    "read_stored_settings",
    "seal_secrets",
    "settings_box",
    "unseal",
]

STORED_PREFIXES = ("business.", "plugins.", "discounts")
SEALED = "$sealed"
TABLE = "hotspot_setting"
_TIMEOUT = 10.0


def settings_box(secret_key: str) -> SecretBox:
    """The box that seals secrets kept in the settings table (its own purpose, own key)."""
    return SecretBox(secret_key, purpose="stored-settings")


def _is_secret(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if annotation is SecretStr:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_is_secret(arg) for arg in typing.get_args(annotation))
    return False


def _is_secret_list(annotation: Any) -> bool:
    """list[SecretStr] (a list of apprise URLs), also inside Optional[...]."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_is_secret_list(arg) for arg in typing.get_args(annotation))
    args = typing.get_args(annotation)
    return typing.get_origin(annotation) is list and bool(args) and _is_secret(args[0])


def seal_secrets(block: Mapping[str, Any], model: type[BaseModel], box: SecretBox) -> dict[str, Any]:
    """A plugin block ready to store: the model's SecretStr fields sealed, the rest as given."""
    out: dict[str, Any] = {}
    for key, value in block.items():
        field = model.model_fields.get(key)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if field is not None and _is_secret(field.annotation) and isinstance(value, str):
            out[key] = {SEALED: box.seal(value)}
        elif field is not None and isinstance(value, list) and _is_secret_list(field.annotation):
            out[key] = [
                {SEALED: box.seal(v.get_secret_value() if isinstance(v, SecretStr) else str(v))}
                for v in value
            ]
        else:
            out[key] = value
    return out


def unseal(value: Any, box: SecretBox) -> Any:
    """Replace every {"$sealed": token} with its plaintext (SecretUnreadable when the key changed)."""
    if isinstance(value, dict):
        if len(value) == 1 and SEALED in value and isinstance(value[SEALED], str):
            return box.open(value[SEALED])
        return {k: unseal(v, box) for k, v in value.items()}
    if isinstance(value, list):
        return [unseal(v, box) for v in value]
    return value


def nest(rows: Mapping[str, Any]) -> dict[str, Any]:
    """{"business.name": "X", "plugins.mpesa": {...}} -> {"business": {"name": "X"}, "plugins": {...}}."""
    out: dict[str, Any] = {}
    for dotted, value in sorted(rows.items()):
        parts = dotted.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return out


def read_stored_settings(database_url: str) -> dict[str, Any]:
    """The rows under STORED_PREFIXES as {dotted key: decoded JSON}; {} before the first migration."""
    if database_url.startswith("sqlite:///"):
        rows = _read_sqlite(database_url)
    else:
        rows = _read_postgres(database_url)
    out: dict[str, Any] = {}
    for key, raw in rows:
        if not key.startswith(STORED_PREFIXES):
            continue
        try:
            out[key] = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            continue  # a row no writer of ours made: ignore it rather than refuse to start
    return out


def _sqlite_path(url: str) -> Path:
    raw = url.removeprefix("sqlite:///")
    return Path("/" + raw.lstrip("/")) if url.startswith("sqlite:////") else Path(raw)


def _read_sqlite(url: str) -> list[tuple[str, Any]]:
    path = _sqlite_path(url)
    if not path.is_file():
        return []
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=_TIMEOUT)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open the database {path} to read saved settings: {exc}") from None
    try:
        return [(str(k), v) for k, v in connection.execute(f"SELECT key, value FROM {TABLE}")]  # noqa: S608
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise StorageError(f"cannot read saved settings from {path}: {exc}") from None
    finally:
        connection.close()


def _read_postgres(url: str) -> list[tuple[str, Any]]:
    import asyncpg  # type: ignore[import-untyped]

    async def fetch() -> list[tuple[str, Any]]:
        dsn = url.replace("postgresql://", "postgres://", 1)
        connection = await asyncpg.connect(dsn, timeout=_TIMEOUT)
        try:
            exists = await connection.fetchval("SELECT to_regclass($1)", f"public.{TABLE}")
            if exists is None:
                return []
            records = await connection.fetch(f"SELECT key, value FROM {TABLE}")  # noqa: S608
            return [(str(r["key"]), r["value"]) for r in records]
        finally:
            await connection.close()

    result: list[list[tuple[str, Any]]] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(fetch()))
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run, name="hotspot-read-settings", daemon=True)
    worker.start()
    worker.join(_TIMEOUT + 5)
    if failure:
        exc = failure[0]
        raise StorageError(
            f"cannot open the database to read the settings saved in the admin: {type(exc).__name__}: {exc}"
        ) from None
    if not result:
        raise StorageError("cannot open the database to read the settings saved in the admin: no answer")
    return result[0]
