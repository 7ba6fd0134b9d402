"""Settings saved in the browser are read when the app is built, under the config file (which
wins): business answers and plugin blocks, secrets sealed at rest; on SQLite (sqlite3) and
PostgreSQL (asyncpg on a worker thread), before the first migration too."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from hotspot.config import (
    Settings,
    load_settings,
    read_stored_settings,
    seal_secrets,
    secret_key,
    settings_box,
)
from hotspot.config._stored import nest, unseal
from hotspot.db import Database, all_tables, migrate
from hotspot.errors import ConfigError
from hotspot.plugins import discover, settings_models
from hotspot.settings_store import SettingsStore
from hotspot_mpesa import MpesaSettings


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[SettingsStore]:
    db = Database(settings.database_url)
    await db.open(all_tables())
    await migrate(db)
    yield SettingsStore(db)
    await db.close()


@pytest.fixture
def reload_settings(tmp_path: Path, settings_overrides: dict[str, Any]) -> Callable[..., Settings]:
    def load(extra: dict[str, Any] | None = None, *, stored: bool = True) -> Settings:
        from hotspot.config._loader import _merge

        return load_settings(
            None,
            env={"HOTSPOT_DATA_DIR": str(tmp_path / "data")},
            overrides=_merge(settings_overrides, extra or {}),
            plugins=settings_models(discover()),
            stored=stored,
        )

    return load


async def test_saved_settings_lie_under_the_config_file(
    store: SettingsStore, settings: Settings, reload_settings: Callable[..., Settings]
) -> None:
    assert reload_settings().business.name == "Hotspot"
    await store.set("business.name", "Mama Mboga Café")
    await store.set("business.currency", "UGX")
    await store.set("security.require_2fa", True)  # not merged: accounts reads it itself
    await store.set("setup.done", ["owner"])  # not merged: the wizard's own bookkeeping
    loaded = reload_settings()
    assert (loaded.business.name, loaded.business.currency) == ("Mama Mboga Café", "UGX")
    assert loaded.security.require_2fa is None
    assert not loaded.is_pinned("business.name")
    pinned = reload_settings({"business": {"currency": "KES"}})
    assert (pinned.business.name, pinned.business.currency) == ("Mama Mboga Café", "KES")
    assert pinned.is_pinned("business.currency") and pinned.is_pinned("business")
    assert not pinned.is_pinned("business.name")
    assert reload_settings(stored=False).business.name == "Hotspot"


async def test_plugin_blocks_are_stored_sealed_and_read_back(
    store: SettingsStore, settings: Settings, reload_settings: Callable[..., Settings]
) -> None:
    box = settings_box(secret_key(settings))
    block = {
        "enabled": True,
        "environment": "custom",
        "base_url": "http://127.0.0.1:9",
        "shortcode": "174379",
    }
    secrets = {"passkey": "pk-123", "consumer_key": "ck-456", "consumer_secret": SecretStr("cs-789")}
    await store.set("plugins.mpesa", {**block, **seal_secrets(secrets, MpesaSettings, box)})
    raw = read_stored_settings(settings.database_url)
    assert set(raw) == {"plugins.mpesa"}
    assert "cs-789" not in json.dumps(raw) and "ck-456" not in json.dumps(raw)
    mpesa = reload_settings().plugins["mpesa"]
    assert isinstance(mpesa, MpesaSettings) and mpesa.enabled
    assert mpesa.consumer_secret is not None and mpesa.consumer_secret.get_secret_value() == "cs-789"
    assert mpesa.passkey is not None and mpesa.passkey.get_secret_value() == "pk-123"
    # the config file switching it off wins
    assert not reload_settings({"plugins": {"mpesa": {"enabled": False}}}).plugins["mpesa"].enabled


async def test_a_broken_saved_block_names_where_it_comes_from(
    store: SettingsStore, reload_settings: Callable[..., Settings]
) -> None:
    await store.set("plugins.mpesa", {"enabled": True, "shortcode": "12"})
    with pytest.raises(ConfigError) as caught:
        reload_settings()
    problems = {p.path: p for p in caught.value.problems}
    assert problems["plugins.mpesa.shortcode"].source == "settings saved in the admin"
    assert "5 to 7 digits" in problems["plugins.mpesa.shortcode"].message


async def test_secrets_sealed_with_another_key_are_dropped_not_fatal(
    store: SettingsStore, reload_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    other = settings_box("x" * 48)
    await store.set(
        "plugins.mpesa", {"enabled": True, **seal_secrets({"passkey": "p"}, MpesaSettings, other)}
    )
    await store.set("business.name", "Still Here")
    with caplog.at_level(logging.WARNING, logger="hotspot.config"):
        loaded = reload_settings()
    assert loaded.business.name == "Still Here"
    assert "mpesa" not in loaded.plugins or not loaded.plugins["mpesa"].enabled
    assert "plugins.mpesa cannot be decrypted" in caplog.text


async def test_a_saved_discount_rule_that_is_refused_is_left_out_not_fatal(
    store: SettingsStore, reload_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """A rule saved by an older version (a day in year 9999) names its key and the box starts
    without it; the same rule in the config file still stops the box, naming it."""
    good = {"id": "weekly", "kind": "bundle", "percent": 10, "min_duration": "7d"}
    bad = {**good, "id": "forever", "valid_until": "9999-12-31"}
    await store.set("discounts", [bad, good])
    with caplog.at_level(logging.ERROR, logger="hotspot.config"):
        loaded = reload_settings()
    assert [r.id for r in loaded.discounts] == ["weekly"]
    assert "discounts[0].valid_until" in caplog.text and "2000 to 2100" in caplog.text
    with pytest.raises(ConfigError) as caught:
        reload_settings({"discounts": [bad]})
    [problem] = caught.value.problems
    assert problem.path == "discounts[0].valid_until" and "2000 to 2100" in problem.message


def test_nothing_saved_yet(settings: Settings, tmp_path: Path) -> None:
    """No database file, or no table before the first migration: nothing to merge."""
    assert read_stored_settings(f"sqlite:///{tmp_path / 'none.db'}") == {}
    if settings.database_url.startswith("sqlite"):
        import sqlite3

        path = tmp_path / "empty.db"
        sqlite3.connect(path).close()
        assert read_stored_settings(f"sqlite:///{path}") == {}
    else:
        assert read_stored_settings(settings.database_url) == {}  # the schema is empty at this point


def test_nest_and_unseal() -> None:
    assert nest({"business.name": "X", "plugins.mpesa": {"enabled": True}}) == {
        "business": {"name": "X"},
        "plugins": {"mpesa": {"enabled": True}},
    }
    box = settings_box("k" * 48)
    sealed = seal_secrets({"passkey": "p", "shortcode": "174379"}, MpesaSettings, box)
    assert sealed["shortcode"] == "174379" and set(sealed["passkey"]) == {"$sealed"}
    assert unseal({"a": [sealed]}, box) == {"a": [{"passkey": "p", "shortcode": "174379"}]}
