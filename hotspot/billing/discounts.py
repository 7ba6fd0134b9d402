"""Automatic discounts: rules the owner writes in the admin (Promos & discounts, saved as the stored
setting ``discounts``) or under `discounts:` in the YAML, which then wins; applied without a code.

Two kinds (config.example.yaml shows both):

* ``bundle``: bigger bundles priced lower. A package qualifies when it is named in `packages`,
  or when it meets every size condition the rule gives: lasts at least `min_duration`, carries
  at least `min_data` (a package without a data cap carries more than any). Orders have no
  quantity on a hotspot, so "bigger" is measured on the package itself.
* ``repeat``: loyalty. With `every: 5` and `within: 30d`, a purchase is the phone's Nth, where
  N - 1 is the number of that phone's orders *paid* in the 30 days before now; the rule applies
  when N is a multiple of 5 (the 5th, 10th, 15th... purchase in the window). Without a phone
  number (a quote before the customer typed it) it cannot apply.

Each rule takes `percent` off the list price or a fixed `amount` per currency (converted at the
configured rate when the order's currency is not listed; without a rate the rule does not
apply). Amounts are rounded half-up to the currency's step (billing.currencies).

Which apply: among the rules that match, the one taking the most off applies (the earlier rule
in the YAML on a tie); rules with `stacks: true` apply on top of it, each computed on the list
price. billing.pricing then keeps the total at or above the smallest chargeable amount, and the
order records every rule that applied (Order.discount_detail).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from hotspot.billing.catalog import PackageView
from hotspot.billing.currencies import Currencies, format_money, round_half_up
from hotspot.billing.percent import basis_points, describe_percent
from hotspot.config import DiscountRuleSettings, parse_duration, parse_money, parse_size
from hotspot.contracts import Money

__all__ = ["AppliedDiscount", "DiscountRule", "Discounts", "PaidPurchases", "day_bounds"]

log = logging.getLogger("hotspot.billing")

PaidPurchases = Callable[[str, float], Awaitable[int]]  # (phone, since) -> orders paid since then


def day_bounds(first: date | None, last: date | None, tz: ZoneInfo) -> tuple[float | None, float | None]:
    """[start of `first`, end of `last`) in the business time zone, as Unix times; ValueError for a
    day so far off that it has no Unix time (forms and settings keep days within config.LAST_DAY)."""
    try:
        start = datetime.combine(first, time.min, tz).timestamp() if first else None
        end = datetime.combine(last + timedelta(days=1), time.min, tz).timestamp() if last else None
    except (OverflowError, OSError):
        raise ValueError(f"{last or first} is too far off to be a day a discount ends or starts") from None
    return start, end


@dataclass(frozen=True)
class AppliedDiscount:
    """A rule that priced an order, and how much it took off."""

    rule_id: str
    label: str
    amount: Money


@dataclass(frozen=True)
class DiscountRule:
    """One owner-defined rule, read from its settings."""

    id: str
    kind: Literal["bundle", "repeat"]
    label: str
    percent_bp: int | None
    amounts: dict[str, Money]
    packages: frozenset[str]
    min_seconds: int | None
    min_bytes: int | None
    every: int | None
    within_seconds: int
    stacks: bool
    starts_at: float | None
    ends_at: float | None

    @classmethod
    def from_settings(cls, spec: DiscountRuleSettings, tz: ZoneInfo) -> DiscountRule:
        starts_at, ends_at = day_bounds(spec.valid_from, spec.valid_until, tz)
        amounts = {m.currency: m for m in map(parse_money, spec.amount or [])}
        rule = cls(
            id=spec.id,
            kind=spec.kind,
            label=spec.label,
            percent_bp=basis_points(spec.percent) if spec.percent is not None else None,
            amounts=amounts,
            packages=frozenset(spec.packages),
            min_seconds=parse_duration(spec.min_duration) if spec.min_duration is not None else None,
            min_bytes=parse_size(spec.min_data) if spec.min_data is not None else None,
            every=spec.every,
            within_seconds=parse_duration(spec.within),
            stacks=spec.stacks,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        return rule if rule.label else _with_label(rule)

    def in_force(self, now: float) -> bool:
        return (self.starts_at is None or now >= self.starts_at) and (
            self.ends_at is None or now < self.ends_at
        )

    def fits(self, package: PackageView) -> bool:
        """bundle: named, or meeting every size condition given."""
        if package.name in self.packages:
            return True
        if self.min_seconds is None and self.min_bytes is None:
            return False
        long_enough = self.min_seconds is None or package.seconds >= self.min_seconds
        big_enough = (
            self.min_bytes is None or package.bytes_total is None or package.bytes_total >= self.min_bytes
        )
        return long_enough and big_enough

    def amount_off(self, base: Money, currencies: Currencies, step: int) -> Money | None:
        """What the rule takes off `base`, rounded half-up to the step; None when it cannot say."""
        if self.percent_bp is not None:
            return Money(round_half_up(Fraction(base.amount * self.percent_bp, 10_000), step), base.currency)
        if base.currency in self.amounts:
            fixed = self.amounts[base.currency]
            return Money(round_half_up(Fraction(fixed.amount), step), base.currency)
        for source in sorted(self.amounts):
            converted = currencies.convert(self.amounts[source], base.currency)
            if converted is not None:
                return converted
        return None


def _off(rule: DiscountRule) -> str:
    if rule.percent_bp is not None:
        return f"{describe_percent(rule.percent_bp)} off"
    return " / ".join(format_money(m) for m in rule.amounts.values()) + " off"


def _with_label(rule: DiscountRule) -> DiscountRule:
    """A label in the customer's words when the owner wrote none."""
    if rule.kind == "repeat":
        label = f"{_off(rule)} every {_ordinal(rule.every or 0)} purchase within {_span(rule.within_seconds)}"
    else:
        conditions = []
        if rule.min_seconds is not None:
            conditions.append(f"{_span(rule.min_seconds)} or longer")
        if rule.min_bytes is not None:
            conditions.append(f"{_size(rule.min_bytes)} or more")
        label = f"{_off(rule)} " + (
            " with ".join(conditions) if conditions else ", ".join(sorted(rule.packages))
        )
    return replace(rule, label=label)


def _span(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("" if count == 1 else "s")
    return f"{seconds} seconds"


def _size(count: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6)):
        if count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Discounts:
    """The owner's rules, and which of them price one purchase."""

    def __init__(self, rules: Sequence[DiscountRule], currencies: Currencies) -> None:
        self.rules = list(rules)
        self.currencies = currencies

    @classmethod
    def from_settings(
        cls, specs: Sequence[DiscountRuleSettings], currencies: Currencies, tz: ZoneInfo
    ) -> Discounts:
        """The rules that can be read; one that cannot is logged and left out, so a bad rule
        saved in the admin never stops the box from starting (it prices nothing until fixed)."""
        rules: list[DiscountRule] = []
        for spec in specs:
            try:
                rules.append(DiscountRule.from_settings(spec, tz))
            except (ValueError, OverflowError) as exc:
                log.error("discount %r is left out: %s (edit it under Promos & discounts)", spec.id, exc)
        return cls(rules, currencies)

    async def applicable(
        self,
        package: PackageView,
        base: Money,
        *,
        phone: str | None,
        now: float,
        step: int,
        history: PaidPurchases | None,
    ) -> list[AppliedDiscount]:
        """The best single rule plus every stacking one, in the order the owner wrote them."""
        matched: list[tuple[int, DiscountRule, Money]] = []
        for position, rule in enumerate(self.rules):
            if not rule.in_force(now) or not await self._matches(rule, package, phone, now, history):
                continue
            amount = rule.amount_off(base, self.currencies, step)
            if amount is not None and amount.amount > 0:
                matched.append((position, rule, amount))
        competing = [m for m in matched if not m[1].stacks]
        chosen = [max(competing, key=lambda m: (m[2].amount, -m[0]))] if competing else []
        chosen += [m for m in matched if m[1].stacks]
        return [
            AppliedDiscount(rule.id, rule.label, amount)
            for _, rule, amount in sorted(chosen, key=lambda m: m[0])
        ]

    @staticmethod
    async def _matches(
        rule: DiscountRule, package: PackageView, phone: str | None, now: float, history: PaidPurchases | None
    ) -> bool:
        if rule.kind == "bundle":
            return rule.fits(package)
        if phone is None or history is None or rule.every is None:
            return False
        paid = await history(phone, now - rule.within_seconds)
        return (paid + 1) % rule.every == 0
