"""Routers in the config, matched to driver plugins, and their health in /healthz."""

from __future__ import annotations

import asyncio
import textwrap
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fakes import IdleRouterDriver
from litestar.testing import AsyncTestClient

from hotspot import PluginSettings, hookimpl
from hotspot.app import create_app
from hotspot.cli import main
from hotspot.config import load_settings
from hotspot.contracts import Health, RouterTarget
from hotspot.errors import ConfigError
from hotspot.routers import RouterPool

ROUTERS = [
    {"name": "cafe-main", "host": "10.0.0.1", "username": "api", "password": "pw1", "driver": "fake"},
    {
        "name": "cafe-back",
        "host": "10.0.0.2",
        "username": "api",
        "password": "pw2",
        "driver": "fake",
        "site": "cafe",
    },
    {
        "name": "estate",
        "host": "10.0.0.3",
        "username": "api",
        "password": "pw3",
        "driver": "fake",
        "port": 8729,
        "tls": True,
    },
]


class FakeDriver(IdleRouterDriver):
    """Three routers: one answers, one refuses, one hangs."""

    def __init__(self) -> None:
        self.asked: list[RouterTarget] = []

    async def health(self, target: RouterTarget) -> Health:
        self.asked.append(target)
        if target.name == "cafe-back":
            raise ConnectionRefusedError("connection refused")
        if target.name == "estate":
            await asyncio.sleep(30)
        return Health("ok", "RouterOS 7.16 cafe-main")


class FakeRouterPlugin:
    def __init__(self) -> None:
        self.driver = FakeDriver()

    @hookimpl
    def register_router_drivers(self, config: Any) -> list[Any]:
        return [self.driver]


def test_router_settings_are_validated(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        textwrap.dedent(
            """
            routers:
              - name: cafe main
                host: 10.0.0.1
                username: api
              - name: b
                host: 10.0.0.2
                username: api
                password: x
                port: 0
            """
        ).lstrip()
    )
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env={"HOTSPOT_DATA_DIR": str(tmp_path)})
    text = str(info.value)
    assert f"{cfg}:2: routers[0].name: string should match pattern" in text
    assert f"{cfg}:2: routers[0].password: is required" in text
    assert f"{cfg}:9: routers[1].port: input should be greater than or equal to 1, got 0" in text


def test_duplicate_router_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="router name 'a' is used twice"):
        load_settings(
            None,
            env={"HOTSPOT_DATA_DIR": str(tmp_path)},
            overrides={"routers": [{**ROUTERS[0], "name": "a"}, {**ROUTERS[1], "name": "a"}]},
        )


def test_a_router_needs_an_enabled_driver(tmp_path: Path) -> None:
    settings = load_settings(
        None, env={"HOTSPOT_DATA_DIR": str(tmp_path)}, overrides={"routers": ROUTERS[:1]}
    )
    with pytest.raises(
        ConfigError, match=r"routers\[0\]\.driver: no enabled plugin provides router driver 'fake'"
    ):
        RouterPool(settings.routers, {})


def test_config_check_reports_a_missing_driver(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("routers:\n  - {name: r1, host: 10.0.0.1, username: api, password: {$env: R1_PW}}\n")
    result = CliRunner().invoke(
        main, ["config", "check", str(cfg)], env={"HOTSPOT_DATA_DIR": str(tmp_path), "R1_PW": "secret-pw"}
    )
    assert result.exit_code == 1
    assert "routers[0].driver: no enabled plugin provides router driver 'mikrotik'" in result.output
    assert "secret-pw" not in result.output


def test_router_targets_carry_the_resolved_secret(tmp_path: Path) -> None:
    settings = load_settings(None, env={"HOTSPOT_DATA_DIR": str(tmp_path)}, overrides={"routers": ROUTERS})
    driver = FakeDriver()
    pool = RouterPool(settings.routers, {"fake": driver})
    estate = pool.routers["estate"]
    assert estate.target == RouterTarget("estate", "10.0.0.3", 8729, "api", "pw3", use_tls=True)
    assert estate.settings.site == "default" and pool.routers["cafe-back"].settings.site == "cafe"
    assert "pw3" not in repr(estate.settings)


async def test_healthz_reports_every_router(make_settings: Any) -> None:
    plugin = FakeRouterPlugin()
    settings = make_settings({"routers": ROUTERS})
    app = create_app(settings, extra_plugins=[("fakerouter", plugin, PluginSettings(enabled=True))])
    hotspot = app.state.hotspot
    hotspot.health_groups["routers"] = partial(hotspot.routers.health, 0.5)  # 5 s in production
    async with AsyncTestClient(app) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200  # a router down degrades the box; it does not take it down
    report = response.json()
    assert report["status"] == "degraded"
    routers = report["checks"]["routers"]
    assert routers["cafe-main"]["status"] == "ok" and "latency_ms" in routers["cafe-main"]
    assert routers["cafe-back"]["status"] == "down"
    assert routers["cafe-back"]["detail"] == "ConnectionRefusedError: connection refused"
    assert routers["estate"]["status"] == "down" and routers["estate"]["detail"] == "no answer within 0.5 s"
    assert routers["cafe-main"]["active_sessions"] == 0 and routers["cafe-main"]["checked_at"] > 0
    assert {t.name for t in plugin.driver.asked} == {"cafe-main", "cafe-back", "estate"}
