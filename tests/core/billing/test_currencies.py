"""Currencies: ISO 4217 exponents, exact parsing, display, conversion and the rounding rules."""

from __future__ import annotations

from fractions import Fraction

import pytest

from hotspot.billing.currencies import (
    Currencies,
    Rates,
    UnknownCurrency,
    exponent,
    format_money,
    parse_money,
    parse_rate,
    round_down,
    round_half_up,
    to_decimal,
)
from hotspot.contracts import ChargeLimits, Money, charge_limits


@pytest.mark.parametrize(
    ("code", "places"),
    [
        ("KES", 2),
        ("UGX", 0),
        ("TZS", 2),
        ("RWF", 0),
        ("NGN", 2),
        ("GHS", 2),
        ("ZAR", 2),
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("BHD", 3),
    ],
)
def test_minor_unit_exponents_follow_iso_4217(code: str, places: int) -> None:
    assert exponent(code) == places


@pytest.mark.parametrize("code", ["KSH", "XAU", "XTS", "kes", "ABC"])
def test_unknown_codes_and_codes_without_minor_units_are_refused(code: str) -> None:
    with pytest.raises(UnknownCurrency, match="not an ISO 4217 currency"):
        exponent(code)


@pytest.mark.parametrize(
    ("text", "money"),
    [
        ("50 KES", Money(5000, "KES")),
        ("KES 50.5", Money(5050, "KES")),
        ("1,500 UGX", Money(1500, "UGX")),
        ("ugx 1500", Money(1500, "UGX")),
        ("0.40 USD", Money(40, "USD")),
        ("1,000 JPY", Money(1000, "JPY")),
        ("1.250 BHD", Money(1250, "BHD")),
    ],
)
def test_amounts_are_read_in_the_currencys_own_minor_units(text: str, money: Money) -> None:
    assert parse_money(text) == money


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1500.5 UGX", "UGX amounts have no decimals"),
        ("0.401 USD", "USD amounts have at most 2 decimal"),
        ("50 KSH", "not an ISO 4217 currency"),
        ("fifty KES", "not a price"),
        ("-5 KES", "not a price"),
    ],
)
def test_inexact_or_unknown_amounts_are_refused(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_money(text)


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(5000, "KES"), "KES 50"),
        (Money(5050, "KES"), "KES 50.50"),
        (Money(150_000_000, "KES"), "KES 1,500,000"),
        (Money(40, "USD"), "USD 0.40"),
        (Money(1500, "UGX"), "UGX 1,500"),
        (Money(1250, "BHD"), "BHD 1.250"),
        (Money(-250, "KES"), "KES -2.50"),
    ],
)
def test_display(money: Money, text: str) -> None:
    assert format_money(money) == text


def test_decimal_view_is_exact() -> None:
    assert str(to_decimal(Money(5050, "KES"))) == "50.50" and str(to_decimal(Money(1500, "UGX"))) == "1500"


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        (Fraction(5, 2), 1, 3),  # halves go up
        (Fraction(7, 2), 1, 4),
        (Fraction(249, 100), 1, 2),
        (Fraction(-5, 2), 1, -3),  # and away from zero below it
        (Fraction(150), 100, 200),  # KES 1.50 to whole shillings: KES 2
        (Fraction(149), 100, 100),
        (Fraction(1250), 500, 1500),  # KES 12.50 to a KES 5 step: KES 15
        (Fraction(1249), 500, 1000),
        (Fraction(0), 100, 0),
    ],
)
def test_round_half_up_to_the_step(value: Fraction, step: int, expected: int) -> None:
    assert round_half_up(value, step) == expected


def test_round_down_to_the_step() -> None:
    assert round_down(4250, 100) == 4200 and round_down(4200, 100) == 4200 and round_down(99, 100) == 0


def test_rates_direct_inverse_and_through_the_business_currency() -> None:
    rates = Rates({"USD": "129.50 KES", "UGX": "0.0345 KES"}, pivot="KES")
    assert rates.rate("USD", "KES") == Fraction(259, 2)
    assert rates.rate("KES", "USD") == Fraction(2, 259)
    assert rates.rate("USD", "UGX") == Fraction(259, 2) / Fraction(345, 10_000)
    assert rates.rate("USD", "TZS") is None and rates.rate("KES", "KES") == 1
    # 0.40 USD in KES: 40 cents x 129.50 = 5180 cents exactly
    assert rates.convert_exact(Money(40, "USD"), "KES") == 5180
    # KES 20 in UGX: 2000 cents / 100 / 0.0345 = 579.71...
    assert rates.convert_exact(Money(2000, "KES"), "UGX") == Fraction(20 * 10_000, 345)


@pytest.mark.parametrize(
    ("rates", "why"),
    [
        ({"USD": "129,50.x KES"}, "not a rate"),
        ({"USD": "0 KES"}, "more than zero"),
        ({"USD": "1 USD"}, "another currency"),
        ({"USD": "130 KSH"}, "not an ISO 4217"),
        ({"XXX": "1 KES"}, "not an ISO 4217"),
    ],
)
def test_bad_rates_are_refused(rates: dict[str, str], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Rates(rates)


def test_parse_rate_keeps_every_decimal() -> None:
    assert parse_rate("0.0345 KES") == (Fraction(345, 10_000), "KES")


class _Gateway:
    def __init__(self, gateway_id: str, currencies: set[str], limits: dict[str, ChargeLimits] | None = None):
        self.id = gateway_id
        self.display_name = gateway_id
        self.currencies = frozenset(currencies)
        if limits is not None:
            self.charge_limits = limits


def test_limits_combine_the_cash_step_and_every_gateway() -> None:
    mpesa = _Gateway("mpesa", {"KES"}, {"KES": ChargeLimits(step=100, minimum=100, maximum=25_000_000)})
    card = _Gateway("card", {"KES", "USD"}, {"KES": ChargeLimits(step=1, minimum=5000)})
    gateways: dict[str, object] = {"mpesa": mpesa, "card": card}
    currencies = Currencies("KES", gateways, steps={"KES": "5 KES"})  # type: ignore[arg-type]
    assert currencies.limits("KES") == ChargeLimits(step=500, minimum=5000, maximum=25_000_000)
    assert currencies.limits("USD") == ChargeLimits(step=1, minimum=1, maximum=None)
    assert currencies.accepted() == ["KES", "USD"]
    assert charge_limits(card, "USD") == ChargeLimits()  # type: ignore[arg-type]


def test_a_gateway_cannot_declare_impossible_limits() -> None:
    with pytest.raises(ValueError):
        ChargeLimits(step=0)
    with pytest.raises(ValueError):
        ChargeLimits(minimum=500, maximum=100)


def test_converted_prices_round_half_up_to_the_step() -> None:
    mpesa = _Gateway("mpesa", {"KES"}, {"KES": ChargeLimits(step=100, minimum=100)})
    usd = _Gateway("card", {"USD", "UGX"})
    currencies = Currencies(
        "KES",
        {"mpesa": mpesa, "card": usd},
        rates={"USD": "129.50 KES", "UGX": "0.0345 KES"},  # type: ignore[dict-item]
    )
    # USD 0.40 = KES 51.80 -> KES 52 (whole shillings)
    assert currencies.convert(Money(40, "USD"), "KES") == Money(5200, "KES")
    # USD 0.39 = KES 50.505 -> KES 51; USD 0.38 = KES 49.21 -> KES 49
    assert currencies.convert(Money(39, "USD"), "KES") == Money(5100, "KES")
    assert currencies.convert(Money(38, "USD"), "KES") == Money(4900, "KES")
    # KES 20 = USD 0.15444 -> USD 0.15; KES 20 = UGX 579.71 -> UGX 580
    assert currencies.convert(Money(2000, "KES"), "USD") == Money(15, "USD")
    assert currencies.convert(Money(2000, "KES"), "UGX") == Money(580, "UGX")
    # A price of its own wins; else the business currency's price is converted
    price = currencies.price({"KES": Money(2000, "KES"), "USD": Money(19, "USD")}, "USD")
    assert price is not None and price.money == Money(19, "USD") and price.converted_from is None
    price = currencies.price({"USD": Money(40, "USD")}, "KES")
    assert (
        price is not None and price.money == Money(5200, "KES") and price.converted_from == Money(40, "USD")
    )
    assert currencies.price({"KES": Money(2000, "KES")}, "TZS") is None


def test_a_cash_step_rounds_conversions_to_it() -> None:
    currencies = Currencies("KES", {}, rates={"USD": "129.50 KES"}, steps={"KES": "5 KES"})
    # USD 0.40 = KES 51.80 -> KES 50 with a KES 5 step; USD 0.42 = KES 54.39 -> KES 55
    assert currencies.convert(Money(40, "USD"), "KES") == Money(5000, "KES")
    assert currencies.convert(Money(42, "USD"), "KES") == Money(5500, "KES")
    with pytest.raises(ValueError, match="step for KES"):
        Currencies("KES", {}, steps={"KES": "5 USD"})
