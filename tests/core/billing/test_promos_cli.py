"""`hotspot promos ...` against the configured database (both backends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from billing_support import PACKAGES
from click.testing import CliRunner, Result

from hotspot.cli import main


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, [*args[:2], "--config", str(config), *args[2:]], env={"HOTSPOT_CONFIG": ""}
    )


def config_file(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "config.yaml"
    data = {
        "data_dir": str(tmp_path / "data"),
        "database": {"url": settings.database_url},
        "business": {"timezone": "Africa/Nairobi"},
        "packages": PACKAGES,
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_create_list_disable_and_audit(tmp_path: Path, settings: Any) -> None:
    config = config_file(tmp_path, settings)
    made = run(
        config,
        "promos",
        "create",
        "easter-24",
        "--percent",
        "12.5",
        "--packages",
        "1 day, 1 week",
        "--from",
        "2026-03-28",
        "--until",
        "2026-04-01",
        "--max-uses",
        "100",
        "--per-phone",
        "1",
        "--min",
        "50 KES",
    )
    assert made.exit_code == 0, made.output
    assert made.output.strip() == "created promo EASTER24: 12.5% off"
    fixed = run(config, "promos", "create", "UG500", "--amount", "500 UGX", "--amount", "5 KES")
    assert fixed.exit_code == 0, fixed.output
    listed = run(config, "promos", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split()[:3] == ["CODE", "OFF", "PACKAGES"]
    easter = next(line for line in lines if line.startswith("EASTER24"))
    for part in ("12.5% off", "1 day, 1 week", "2026-03-28 .. 2026-04-01", "0/100", "KES 50", "active"):
        assert part in easter, (part, easter)
    ug = next(line for line in lines if line.startswith("UG500"))
    assert "UGX 500 / KES 5 off" in ug and "all packages" in ug and "0/-" in ug
    off = run(config, "promos", "disable", "easter24")
    assert off.exit_code == 0 and "EASTER24 is off" in off.output
    assert "off" in next(
        line for line in run(config, "promos", "list").output.splitlines() if "EASTER24" in line
    )
    uses = run(config, "promos", "uses", "EASTER24")
    assert uses.exit_code == 0 and "no uses of EASTER24" in uses.output


def test_bad_input_is_refused_with_the_option_named(tmp_path: Path, settings: Any) -> None:
    config = config_file(tmp_path, settings)
    both = run(config, "promos", "create", "X1X", "--percent", "10", "--amount", "5 KES")
    assert both.exit_code == 2 and "either --percent or --amount" in both.output
    neither = run(config, "promos", "create", "X1X")
    assert neither.exit_code == 2
    percent = run(config, "promos", "create", "X1X", "--percent", "150")
    assert percent.exit_code == 2 and "--percent" in percent.output and "less than 100%" in percent.output
    amount = run(config, "promos", "create", "X1X", "--amount", "5.5 UGX")
    assert amount.exit_code == 2 and "--amount" in amount.output and "no decimals" in amount.output
    package = run(config, "promos", "create", "X1X", "--percent", "10", "--packages", "1 year")
    assert package.exit_code == 1 and "no package called '1 year'" in package.output
    day = run(config, "promos", "create", "X1X", "--percent", "10", "--until", "31/12/2026")
    assert day.exit_code == 1 and "YYYY-MM-DD" in day.output
    assert run(config, "promos", "create", "OK1", "--percent", "10").exit_code == 0
    again = run(config, "promos", "create", "ok-1", "--percent", "5")
    assert again.exit_code == 1 and "OK1 already exists" in again.output
    missing = run(config, "promos", "disable", "NOPE")
    assert missing.exit_code == 1 and "no promo code 'NOPE'" in missing.output
