"""Currencies: ISO 4217 minor units, display, conversion at configured rates, chargeable steps.

Minor-unit exponents come from the `iso4217` package (the ISO 4217 list as published by its
maintenance agency, SIX; public domain): KES 2, USD 2, UGX 0, RWF 0, JPY 0, BHD 3. A code
without minor units (gold XAU, test XTS) or unknown to ISO is refused.

Rounding rules (every step is exact arithmetic on integers and fractions; never a float):

1. **Amounts** are integers of the currency's minor unit (10**-exponent of the major unit).
   Written amounts ("1,500 UGX", "0.40 USD") may carry at most `exponent` decimals.
2. **Step**: the smallest amount a price may move by in a currency: the least common multiple
   of the configured cash step (`currencies.steps`, e.g. "5 KES") and the charge step of every
   enabled gateway taking that currency (M-Pesa: whole shillings). One minor unit by default.
   Using every gateway's step keeps the price the same whichever gateway the customer picks.
3. **Conversion** (a package without a price in the asked currency): the list price times the
   rate, exactly, then rounded **half-up** (half away from zero) to the step.
   USD 0.40 at 129.50 KES = KES 51.80 -> KES 52 (M-Pesa's 1 KES step).
   Rates are "1 USD = 129.50 KES" (`currencies.rates: {USD: "129.50 KES"}`); the inverse rate
   and a path through the business currency are used when no direct rate is given.
4. **Discounts** (billing.pricing): each discount and promo amount is rounded half-up to the
   step; the total is then rounded **down** to the step (the customer never pays more than the
   arithmetic says), and never falls below the gateways' minimum charge.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from iso4217 import Currency

from hotspot.contracts import ChargeLimits, Money, PaymentGateway, charge_limits

__all__ = [
    "Currencies",
    "Price",
    "Rates",
    "UnknownCurrency",
    "exponent",
    "format_money",
    "is_currency",
    "parse_money",
    "parse_rate",
    "round_down",
    "round_half_up",
    "to_decimal",
]

_EXPONENTS: dict[str, int] = {c.code: c.exponent for c in Currency if c.exponent is not None}
_AMOUNT = re.compile(r"(\d+)(?:\.(\d+))?")


class UnknownCurrency(ValueError):
    """Not an ISO 4217 code, or one without minor units (gold, test codes)."""


def is_currency(code: str) -> bool:
    return code in _EXPONENTS


def exponent(code: str) -> int:
    """Decimal places of the currency's minor unit (KES 2, UGX 0, BHD 3)."""
    try:
        return _EXPONENTS[code]
    except KeyError:
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency (e.g. KES, UGX, USD)") from None


def _split(text: str) -> tuple[str, str]:
    """("50", "KES") from "50 KES" or "KES 50"; commas between thousands are ignored."""
    parts = text.replace(",", "").split()
    if len(parts) == 2 and parts[0].isalpha():
        parts.reverse()
    if len(parts) != 2 or not parts[1].isalpha() or len(parts[1]) != 3:
        raise ValueError(f"not a price: {text!r} (use e.g. 50 KES)")
    return parts[0], parts[1].upper()


def parse_money(text: str) -> Money:
    """Money from "50 KES", "KES 50", "1,500 UGX" or "0.40 USD": exact, at most `exponent` decimals."""
    number, code = _split(text)
    match = _AMOUNT.fullmatch(number)
    if match is None:
        raise ValueError(f"not a price: {text!r} (use e.g. 50 KES)")
    try:
        places = exponent(code)
    except UnknownCurrency as exc:
        raise ValueError(f"not a price: {text!r}: {exc}") from None
    fraction = match[2] or ""
    if len(fraction) > places:
        unit = "no decimals" if places == 0 else f"at most {places} decimal(s)"
        raise ValueError(f"not a price: {text!r}: {code} amounts have {unit}")
    return Money(int(match[1]) * 10**places + int(fraction.ljust(places, "0") or "0"), code)


def parse_rate(text: str) -> tuple[Fraction, str]:
    """(129.5, "KES") from "129.50 KES": what one unit of another currency is worth, exactly."""
    number, code = _split(text)
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise ValueError(f'not a rate: {text!r} (use e.g. "129.50 KES")') from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"not a rate: {text!r}: it must be more than zero")
    exponent(code)
    return Fraction(value), code


def to_decimal(money: Money) -> Decimal:
    """The amount in major units, exactly (KES 50.00 for 5000)."""
    return Decimal(money.amount).scaleb(-exponent(money.currency))


def format_money(money: Money) -> str:
    """KES 50, KES 50.50, USD 0.40, UGX 1,500: whole amounts drop the minor digits."""
    places = exponent(money.currency)
    whole, minor = divmod(abs(money.amount), 10**places)
    sign = "-" if money.amount < 0 else ""
    number = f"{whole:,}" if minor == 0 else f"{whole:,}.{minor:0{places}d}"
    return f"{money.currency} {sign}{number}"


def round_half_up(value: Fraction, step: int = 1) -> int:
    """The multiple of `step` nearest to value; halves go away from zero."""
    whole = math.floor(abs(value) / step + Fraction(1, 2))
    return -whole * step if value < 0 else whole * step


def round_down(value: int, step: int) -> int:
    """The largest multiple of `step` not above a non-negative amount."""
    return value - value % step


class Rates:
    """Exchange rates: "1 USD = 129.50 KES", used directly, inverted, or through a pivot currency."""

    def __init__(self, rates: Mapping[str, str] | None = None, *, pivot: str | None = None) -> None:
        self.pivot = pivot
        self._table: dict[tuple[str, str], Fraction] = {}
        for code, text in (rates or {}).items():
            exponent(code)
            value, quote = parse_rate(text)
            if quote == code:
                raise ValueError(f"the rate for {code} must be in another currency, not {text!r}")
            self._table[(code, quote)] = value

    def __bool__(self) -> bool:
        return bool(self._table)

    def _one_hop(self, source: str, target: str) -> Fraction | None:
        if (source, target) in self._table:
            return self._table[(source, target)]
        if (target, source) in self._table:
            return 1 / self._table[(target, source)]
        return None

    def rate(self, source: str, target: str) -> Fraction | None:
        """Units of `target` one unit of `source` is worth, or None when no rate connects them."""
        if source == target:
            return Fraction(1)
        direct = self._one_hop(source, target)
        if direct is not None or self.pivot in (None, source, target):
            return direct
        assert self.pivot is not None
        first, second = self._one_hop(source, self.pivot), self._one_hop(self.pivot, target)
        return first * second if first is not None and second is not None else None

    def convert_exact(self, money: Money, target: str) -> Fraction | None:
        """The amount in `target` minor units, unrounded; None without a rate."""
        rate = self.rate(money.currency, target)
        if rate is None:
            return None
        scale = Fraction(10 ** exponent(target), 10 ** exponent(money.currency))
        return money.amount * rate * scale


@dataclass(frozen=True)
class Price:
    """A list price in one currency; `converted_from` is the price it was converted from, if any."""

    money: Money
    converted_from: Money | None = None


class Currencies:
    """Which currencies the portal offers, what each may be charged in, and prices converted to them."""

    def __init__(
        self,
        default: str,
        gateways: Mapping[str, PaymentGateway],
        *,
        rates: Mapping[str, str] | None = None,
        steps: Mapping[str, str] | None = None,
    ) -> None:
        self.default = default
        self.gateways = gateways
        self.rates = Rates(rates, pivot=default)
        self._steps: dict[str, int] = {}
        for code, text in (steps or {}).items():
            step = parse_money(text)
            if step.currency != code or step.amount <= 0:
                raise ValueError(f"the step for {code} must be a positive amount of {code}, not {text!r}")
            self._steps[code] = step.amount

    def accepted(self) -> list[str]:
        """Currencies some enabled gateway takes: the business currency first, then A to Z."""
        codes = {code for gateway in self.gateways.values() for code in gateway.currencies}
        return sorted(codes, key=lambda code: (code != self.default, code))

    def limits(self, code: str) -> ChargeLimits:
        """What every gateway taking `code` can charge, combined with the configured cash step."""
        step = self._steps.get(code, 1)
        minimum, maximum = 1, None
        for gateway in self.gateways.values():
            if code not in gateway.currencies:
                continue
            limits = charge_limits(gateway, code)
            step = math.lcm(step, limits.step)
            minimum = max(minimum, limits.minimum)
            if limits.maximum is not None:
                maximum = limits.maximum if maximum is None else min(maximum, limits.maximum)
        minimum = -(-minimum // step) * step  # the smallest chargeable multiple of the step
        return ChargeLimits(step=step, minimum=minimum, maximum=maximum)

    def convert(self, money: Money, code: str) -> Money | None:
        """`money` in `code`, rounded half-up to that currency's step; None without a rate."""
        if money.currency == code:
            return money
        exact = self.rates.convert_exact(money, code)
        if exact is None:
            return None
        return Money(round_half_up(exact, self.limits(code).step), code)

    def price(self, prices: Mapping[str, Money], code: str) -> Price | None:
        """The list price in `code`: the owner's own, else converted (business currency first)."""
        if code in prices:
            return Price(prices[code])
        for source in self._sources(prices):
            converted = self.convert(prices[source], code)
            if converted is not None and converted.amount > 0:
                return Price(converted, prices[source])
        return None

    def _sources(self, prices: Mapping[str, Money]) -> Iterable[str]:
        return sorted(prices, key=lambda code: (code != self.default, code))
