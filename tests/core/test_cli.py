"""The `hotspot` command: listing plugins, refusing unsafe layouts, clear exits."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hotspot import __version__
from hotspot.cli import main


def test_plugins_lists_kind_version_and_state(third_party_plugin: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("plugins:\n  examplegw:\n    enabled: true\n")
    result = CliRunner().invoke(
        main, ["plugins", "--config", str(cfg)], env={"HOTSPOT_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "VERSION", "STATE", "DESCRIPTION"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["examplegw"][:4] == ["examplegw", "payment_gateway", "1.2.3", "enabled"]
    assert rows["apprise"][:2] == ["apprise", "notifier"] and rows["apprise"][3] == "disabled"


def test_plugins_shows_a_broken_plugin_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = importlib.metadata.EntryPoint("ghost", "hotspot_ghost_not_installed", "hotspot.plugins")
    real = importlib.metadata.entry_points

    def with_ghost(**kw: Any) -> Any:
        found = list(real(**kw))
        return [*found, broken] if kw.get("group") == "hotspot.plugins" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", with_ghost)
    result = CliRunner().invoke(
        main, ["plugins"], env={"HOTSPOT_DATA_DIR": str(tmp_path), "HOTSPOT_CONFIG": ""}
    )
    assert result.exit_code == 0
    ghost = next(line for line in result.output.splitlines() if line.startswith("ghost"))
    assert "broken" in ghost and "No module named 'hotspot_ghost_not_installed'" in ghost


def test_a_plugin_failing_to_register_is_exit_5(third_party_plugin: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("plugins:\n  examplegw:\n    enabled: true\n    fail_registration: true\n")
    result = CliRunner().invoke(main, ["config", "check", str(cfg)], env={"HOTSPOT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 5
    assert "plugin 'examplegw' failed in register_payment_gateways: counter API key rejected" in result.output


def test_serve_refuses_several_workers_without_redis(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--workers", "2"], env={"HOTSPOT_DATA_DIR": str(tmp_path), "HOTSPOT_CONFIG": ""}
    )
    assert result.exit_code == 4
    assert "--workers 2 needs Redis" in result.output and "redis.url" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_packages_import_then_list(tmp_path: Path) -> None:
    env = {"HOTSPOT_DATA_DIR": str(tmp_path), "HOTSPOT_CONFIG": ""}
    file = tmp_path / "packages.yaml"
    file.write_text(
        "packages:\n"
        "  - {name: 1 hour, price: 20 KES, duration: 1h, down: 5M, up: 2M}\n"
        "  - {name: 1 week, price: [250 KES, '1.99 USD'], duration: 7d, data: 15GB, devices: 3,\n"
        "     visible: false}\n"
    )
    result = CliRunner().invoke(main, ["packages", "import", str(file)], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["added: 1 hour", "added: 1 week"]
    file.write_text("- {name: 1 hour, price: 25 KES, duration: 1h}\n")  # a bare list updates by name
    result = CliRunner().invoke(main, ["packages", "import", str(file)], env=env)
    assert result.output.splitlines() == ["updated: 1 hour"]
    result = CliRunner().invoke(main, ["packages", "list"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "1 hour" in lines[0] and "25.00 KES" in lines[0] and "3600s" in lines[0]
    assert "250.00 KES, 1.99 USD" in lines[1] and "(hidden)" in lines[1]


def test_packages_import_names_each_bad_key(tmp_path: Path) -> None:
    file = tmp_path / "packages.yaml"
    file.write_text("- {name: x, price: 20 shillings, duration: forever}\n- {name: y, duration: 1h}\n")
    result = CliRunner().invoke(
        main, ["packages", "import", str(file)], env={"HOTSPOT_DATA_DIR": str(tmp_path), "HOTSPOT_CONFIG": ""}
    )
    assert result.exit_code == 1
    assert "has 3 problem(s)" in result.output
    assert "packages.0.price" in result.output and "not a price: '20 shillings'" in result.output
    assert "packages.0.duration" in result.output and "not a duration: 'forever'" in result.output
    assert "packages.1.price: Field required" in result.output
