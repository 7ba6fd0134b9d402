"""The owner's spellings of time, data, speed and money become exact integers (never floats)."""

from __future__ import annotations

import pytest

from hotspot.config import PackageSettings, parse_duration, parse_money, parse_rate, parse_size
from hotspot.contracts import Money


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90), ("30m", 1800), ("30min", 1800), ("1h", 3600), ("7d", 604800), ("2w", 1209600)],
)
def test_durations(text: int | str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("50 KES", Money(5000, "KES")),
        ("KES 50", Money(5000, "KES")),
        ("0.4 usd", Money(40, "USD")),
        ("1,250.05 KES", Money(125005, "KES")),
        ("0.29 USD", Money(29, "USD")),
    ],
)
def test_money_is_exact(text: str, amount: Money) -> None:
    assert parse_money(text) == amount


@pytest.mark.parametrize("bad", ["50", "KES", "50 KSH1", "1.234 USD", "fifty KES", "50 KES extra"])
def test_bad_money_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a price"):
        parse_money(bad)


def test_sizes_and_rates() -> None:
    assert parse_size("2GB") == 2_000_000_000 and parse_size("1.5G") == 1_500_000_000
    assert parse_size("500MB") == 500_000_000 and parse_size(1024) == 1024
    assert (
        parse_rate("512k") == 512_000 and parse_rate("5M") == 5_000_000 and parse_rate("2Mbps") == 2_000_000
    )
    for bad, parse in (("lots", parse_size), ("fast", parse_rate), ("1y", parse_duration)):
        with pytest.raises(ValueError):
            parse(bad)  # type: ignore[operator]


def test_package_settings_convert_and_validate() -> None:
    package = PackageSettings.model_validate(
        {
            "name": "1 day",
            "price": ["50 KES", "0.40 USD"],
            "duration": "1d",
            "data": "2GB",
            "down": "10M",
            "up": "5M",
        }
    )
    assert package.prices == {"KES": 5000, "USD": 40}
    assert (package.seconds, package.bytes_total, package.down_bps, package.up_bps) == (
        86400,
        2_000_000_000,
        10_000_000,
        5_000_000,
    )
    with pytest.raises(ValueError, match="one price per currency"):
        PackageSettings.model_validate({"name": "x", "price": ["5 KES", "6 KES"], "duration": "1h"})
    with pytest.raises(ValueError, match="more than zero"):
        PackageSettings.model_validate({"name": "x", "price": "0 KES", "duration": "1h"})
