"""Automatic discounts: which rules match, the best single one, stacking, windows, arithmetic."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hotspot.billing.catalog import PackageView
from hotspot.billing.currencies import Currencies
from hotspot.billing.discounts import Discounts, day_bounds
from hotspot.config import DiscountRuleSettings
from hotspot.contracts import Money

NAIROBI = ZoneInfo("Africa/Nairobi")
NOW = 1_800_000_000.0  # 2027-01-15 in Nairobi


def package(name: str, seconds: int, bytes_total: int | None = None, **prices: int) -> PackageView:
    return PackageView(
        id=abs(hash(name)) % 1000,
        name=name,
        description="",
        prices={code: Money(amount, code) for code, amount in prices.items()},
        seconds=seconds,
        bytes_total=bytes_total,
        down_bps=None,
        up_bps=None,
        devices=1,
        visible=True,
        sort_order=0,
    )


DAY = package("1 day", 86400, 2 * 10**9, KES=5000)
WEEK = package("1 week", 7 * 86400, 15 * 10**9, KES=25000)
MONTH = package("30 days", 30 * 86400, None, KES=99900)


def rules(*specs: dict[str, Any], step_kes: int = 100) -> Discounts:
    currencies = Currencies("KES", {}, rates={"USD": "129.50 KES"}, steps={"KES": f"{step_kes // 100} KES"})
    return Discounts.from_settings([DiscountRuleSettings(**s) for s in specs], currencies, NAIROBI)


def history(paid: int) -> Any:
    async def count(phone: str, since: float) -> int:
        assert since == NOW - 30 * 86400
        return paid

    return count


async def applied(
    discounts: Discounts,
    pkg: PackageView,
    *,
    phone: str | None = "254712345678",
    paid: int = 0,
    currency: str = "KES",
    now: float = NOW,
    step: int = 100,
) -> list[tuple[str, int]]:
    base = pkg.prices[currency]
    found = await discounts.applicable(pkg, base, phone=phone, now=now, step=step, history=history(paid))
    return [(d.rule_id, d.amount.amount) for d in found]


WEEKLY = {"id": "weekly", "kind": "bundle", "percent": 10, "min_duration": "7d"}
BIG = {"id": "big-data", "kind": "bundle", "percent": "12.5%", "min_duration": "7d", "min_data": "10GB"}
LOYALTY = {"id": "loyalty", "kind": "repeat", "every": 3, "within": "30d", "percent": 20}
EXTRA = {"id": "extra", "kind": "bundle", "packages": ["30 days"], "amount": "50 KES", "stacks": True}


async def test_bundle_rules_match_bigger_packages() -> None:
    discounts = rules(WEEKLY, BIG)
    assert await applied(discounts, DAY) == []
    # 10% of KES 250 = KES 25; 12.5% of KES 250 = KES 31.25 -> KES 31 (whole shillings): the best wins
    assert await applied(discounts, WEEK) == [("big-data", 3100)]
    # no data cap carries more than any: both match; 12.5% of 999 = 124.875 -> 125
    assert await applied(discounts, MONTH) == [("big-data", 12500)]


async def test_repeat_customers_get_every_nth_purchase_off() -> None:
    discounts = rules(LOYALTY)
    assert await applied(discounts, DAY, paid=0) == []
    assert await applied(discounts, DAY, paid=1) == []
    assert await applied(discounts, DAY, paid=2) == [("loyalty", 1000)]  # the 3rd purchase: 20% of 50
    assert await applied(discounts, DAY, paid=3) == []
    assert await applied(discounts, DAY, paid=5) == [("loyalty", 1000)]  # the 6th
    assert await applied(discounts, DAY, paid=2, phone=None) == []  # unknown phone: cannot apply


async def test_the_best_single_discount_applies_and_stacking_ones_add() -> None:
    discounts = rules(WEEKLY, LOYALTY, EXTRA)
    # week, 3rd purchase: weekly KES 25 against loyalty KES 50 -> loyalty alone
    assert await applied(discounts, WEEK, paid=2) == [("loyalty", 5000)]
    # month: weekly 10% of 999 = 99.90 -> KES 100, plus the stacking KES 50
    assert await applied(discounts, MONTH, paid=0) == [("weekly", 10000), ("extra", 5000)]
    # month, 3rd purchase: loyalty 20% of 999 = 199.80 -> KES 200 beats weekly; extra stacks
    assert await applied(discounts, MONTH, paid=2) == [("loyalty", 20000), ("extra", 5000)]


async def test_a_tie_goes_to_the_rule_written_first() -> None:
    twin = {**WEEKLY, "id": "twin"}
    assert await applied(rules(WEEKLY, twin), WEEK) == [("weekly", 2500)]
    assert await applied(rules(twin, WEEKLY), WEEK) == [("twin", 2500)]


async def test_fixed_amounts_convert_and_percentages_round_in_each_currency() -> None:
    usd_month = package("30 days", 30 * 86400, None, USD=799)
    # KES 50 in USD at 129.50: 0.3861 -> USD 0.39 (cents)
    assert await applied(rules(EXTRA), usd_month, currency="USD", step=1) == [("extra", 39)]
    # 12.5% of USD 7.99 = 0.99875 -> USD 1.00
    assert await applied(rules({**BIG, "min_data": None}), usd_month, currency="USD", step=1) == [
        ("big-data", 100)
    ]
    ugx_week = package("1 week", 7 * 86400, None, UGX=9999)
    # 10% of UGX 9,999 = 999.9 -> UGX 1,000 (no minor unit)
    assert await applied(rules(WEEKLY), ugx_week, currency="UGX", step=1) == [("weekly", 1000)]
    # no rate from KES to UGX: a fixed KES amount cannot price a UGX order
    assert await applied(rules({**EXTRA, "packages": ["1 week"]}), ugx_week, currency="UGX", step=1) == []


async def test_rules_apply_only_within_their_days() -> None:
    window = {**WEEKLY, "valid_from": date(2027, 1, 15), "valid_until": date(2027, 1, 15)}
    discounts = rules(window)
    start = NOW - (NOW + 3 * 3600) % 86400  # midnight in Nairobi (UTC+3)
    assert await applied(discounts, WEEK, now=start) == [("weekly", 2500)]
    assert await applied(discounts, WEEK, now=start - 1) == []
    assert await applied(discounts, WEEK, now=start + 86400 - 1) == [("weekly", 2500)]
    assert await applied(discounts, WEEK, now=start + 86400) == []


def test_labels_say_what_the_rule_does() -> None:
    discounts = rules(WEEKLY, LOYALTY, EXTRA, {**BIG, "label": "Big data saver"})
    assert [r.label for r in discounts.rules] == [
        "10% off 7 days or longer",
        "20% off every 3rd purchase within 30 days",
        "KES 50 off 30 days",
        "Big data saver",
    ]


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ({"id": "x", "kind": "bundle", "min_duration": "7d"}, "either percent or amount"),
        ({"id": "x", "kind": "bundle", "percent": 10, "amount": "5 KES", "min_duration": "7d"}, "either"),
        ({"id": "x", "kind": "bundle", "percent": 10}, "needs packages, min_duration or min_data"),
        ({"id": "x", "kind": "repeat", "percent": 10}, "needs every"),
        ({"id": "x", "kind": "repeat", "percent": 100, "every": 2}, "less than 100%"),
        ({"id": "x", "kind": "repeat", "percent": "12.345", "every": 2}, "at most 2 decimals"),
        ({"id": "x", "kind": "repeat", "amount": "-5 KES", "every": 2}, "not a price"),
        ({"id": "X Y", "kind": "repeat", "percent": 5, "every": 2}, "pattern"),
        ({"id": "x", "kind": "repeat", "percent": 5, "every": 1}, "greater than or equal to 2"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(spec: dict[str, Any], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        DiscountRuleSettings(**spec)


def test_a_day_past_2100_is_refused_naming_the_key() -> None:
    """9999-12-31 has no midnight after it: refused as settings, never an OverflowError."""
    with pytest.raises(ValueError, match="valid_until") as caught:
        DiscountRuleSettings(id="x", kind="repeat", percent=5, every=2, valid_until=date(9999, 12, 31))
    assert "2000 to 2100" in str(caught.value)
    with pytest.raises(ValueError, match="valid_from"):
        DiscountRuleSettings(id="x", kind="repeat", percent=5, every=2, valid_from=date(1, 1, 1))
    last = DiscountRuleSettings(id="x", kind="repeat", percent=5, every=2, valid_until=date(2100, 12, 31))
    assert rules(last.model_dump()).rules[0].ends_at is not None


def test_day_bounds_of_a_day_with_no_unix_time_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="too far off"):
        day_bounds(None, date(9999, 12, 31), NAIROBI)


def test_a_rule_that_cannot_be_read_is_left_out_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    """Settings made without validation (an old stored value): pricing starts without that rule."""
    broken = DiscountRuleSettings.model_construct(
        **{**WEEKLY, "id": "broken", "valid_until": date(9999, 12, 31)}
    )
    currencies = Currencies("KES", {}, rates={}, steps={})
    with caplog.at_level("ERROR", logger="hotspot.billing"):
        discounts = Discounts.from_settings([broken, DiscountRuleSettings(**WEEKLY)], currencies, NAIROBI)
    assert [r.id for r in discounts.rules] == [WEEKLY["id"]]
    assert "'broken' is left out" in caplog.text
