"""`hotspot vouchers ...` against the configured database (both backends): generate with CSV and
PDF, print the batch id, export again, revoke, show, the poster, and clear errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from voucher_support import PACKAGES, pages_text, qr_urls

from hotspot.cli import main
from hotspot.vouchers.service import expiry_timestamp


@pytest.fixture
def run(tmp_path: Path, settings_overrides: dict[str, Any]) -> Any:
    """Run `hotspot ...` with a config file for this backend (PostgreSQL + Redis, or SQLite)."""
    config = {
        **settings_overrides,
        "business": {"name": "Mama Mboga Cafe", "timezone": "Africa/Nairobi"},
        "server": {"public_url": "http://10.5.50.2:8000"},
        "packages": PACKAGES,
    }
    file = tmp_path / "config.yaml"
    file.write_text(yaml.safe_dump(config))
    env = {"HOTSPOT_DATA_DIR": str(tmp_path / "data"), "HOTSPOT_CONFIG": str(file)}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["vouchers", *args], env=env)

    return invoke


def test_generate_writes_csv_and_pdf_and_prints_the_batch_id(run: Any, tmp_path: Path) -> None:
    csv_file, pdf_file = tmp_path / "batch.csv", tmp_path / "batch.pdf"
    result = run(
        "generate", "--package", "1 day", "--count", "30", "--prefix", "MM", "--expires", "2030-06-30",
        "--devices", "1", "--devices-total", "3", "--pin", "--csv", str(csv_file), "--pdf", str(pdf_file),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "1"  # the batch id alone on stdout, for scripts
    assert "batch 1: 30 voucher(s) for 1 day at KES 50" in result.stderr
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text())))
    assert len(rows) == 30 and all(r["code"].startswith("MM") and len(r["pin"]) == 6 for r in rows)
    assert {r["valid_until"] for r in rows} == {"30 Jun 2030"} and {r["devices_total"] for r in rows} == {"3"}
    pdf = pdf_file.read_bytes()
    text = "\n".join(pages_text(pdf))
    assert rows[0]["printed_code"] in text and f"PIN {rows[0]['pin']}" in text
    assert set(qr_urls(pdf)) <= {r["url"] for r in rows} and len(qr_urls(pdf)) == 24

    again = run(
        "export",
        "1",
        "--csv",
        str(tmp_path / "again.csv"),
        "--pdf",
        str(tmp_path / "again.pdf"),
        "--layout",
        "58mm",
    )
    assert again.exit_code == 0, again.output
    exported = list(csv.DictReader(io.StringIO((tmp_path / "again.csv").read_text())))
    assert [r["code"] for r in exported] == [r["code"] for r in rows]
    assert {r["pin"] for r in exported} == {""} and {r["state"] for r in exported} == {
        "unused"
    }  # PINs are not kept

    code = rows[0]["printed_code"].lower()
    revoked = run("revoke", code)
    assert revoked.exit_code == 0 and f"revoked {rows[0]['printed_code']} (was unused)" in revoked.output
    assert "already revoked" in run("revoke", code).output
    shown = run("show", code)
    assert shown.exit_code == 0 and "revoked  batch 1  1 day" in shown.output
    unused = run("export", "1", "--csv", str(tmp_path / "unused.csv"), "--unused-only")
    assert unused.exit_code == 0 and "29 vouchers" in unused.output


def test_expiry_is_the_end_of_the_day_in_the_business_time_zone() -> None:
    from datetime import date

    assert expiry_timestamp(date(2030, 6, 30), "Africa/Nairobi") == 1_909_083_600.0  # 1 Jul 2030 00:00 +03:00


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["generate", "--package", "2 hours", "--count", "3"], 1, "--package: No package called '2 hours'"),
        (["generate", "--package", "1 hour", "--count", "3", "--prefix", "L0L"], 1, "--prefix:"),
        (["generate", "--package", "1 hour", "--count", "3", "--pin"], 2, "--pin needs --csv or --pdf"),
        (["generate", "--package", "1 hour", "--count", "0"], 2, "--count"),
        (["generate", "--package", "1 hour", "--count", "3", "--expires", "30/06/2030"], 2, "--expires"),
        (["generate", "--package", "1 hour", "--count", "3", "--layout", "a5"], 2, "--layout"),
        (["revoke", "NOPE-NOPE"], 1, "No voucher 'NOPE-NOPE'"),
        (["export", "9"], 2, "give --csv FILE and/or --pdf FILE"),
        (
            ["generate", "--package", "1 hour", "--count", "3", "--pdf", "/nowhere/at/all/x.pdf"],
            2,
            "does not exist",
        ),
        (["export", "9", "--csv", "x.csv"], 1, "No voucher batch #9"),
    ],
)
def test_mistakes_are_explained(run: Any, args: list[str], code: int, words: str) -> None:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert words in result.output


def test_the_poster(run: Any, tmp_path: Path) -> None:
    result = run("poster", "--pdf", str(tmp_path / "poster.pdf"), "--wifi-name", "MamaWiFi")
    assert result.exit_code == 0, result.output
    assert qr_urls((tmp_path / "poster.pdf").read_bytes(), scale=2.0) == ["http://10.5.50.2:8000/portal"]
