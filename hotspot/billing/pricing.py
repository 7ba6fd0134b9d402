"""One price for one purchase: what the portal shows before paying and what the order charges.

`Pricing.quote` works in this order (rounding rules: billing.currencies):

1. **List price** in the asked currency: the owner's own, else converted at the configured
   rate, half-up to the currency's step.
2. **Automatic discounts** (billing.discounts) on the list price, each half-up to the step.
   Together they never take the price below the smallest chargeable amount (the gateways'
   minimum, at least one step): a discount that would is trimmed to fit, and a note says so.
3. **Promo code** on what is left: its percentage of it, or its fixed amount, half-up to the
   step. A promo that would bring the price below the smallest chargeable amount is refused
   (reason ``too_large``) rather than trimmed: M-Pesa cannot charge KES 0, and free access is
   what vouchers are for. The minimum price a promo asks for is compared with the list price.
4. **Total**: rounded *down* to the step (the customer never pays more than the arithmetic),
   so total = list - discounts - promo - rounding.

Wrong promo codes count against the client (IP) and the phone (PromoGuard), so guessing codes
through the quote API or the order form runs into the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hotspot.billing.catalog import Catalog, PackageNotFound, PackageView
from hotspot.billing.currencies import Currencies, format_money, round_down
from hotspot.billing.discounts import AppliedDiscount, Discounts, PaidPurchases
from hotspot.billing.promos import PromoGuard, PromoRefused, Promos, PromoView
from hotspot.contracts import Money
from hotspot.errors import Refused

__all__ = ["AppliedPromo", "Pricing", "PricingError", "Quote"]


class PricingError(Refused):
    """No price can be given: `field` names the input to fix; `reason` is a promo's REASONS code."""

    def __init__(self, message: str, *, field: str, status_code: int = 400, reason: str = "") -> None:
        super().__init__(message, reason=reason, field=field, status_code=status_code)


@dataclass(frozen=True)
class AppliedPromo:
    """The promo code that priced an order, and how much it took off."""

    promo_id: int
    code: str
    label: str
    amount: Money


@dataclass(frozen=True)
class Quote:
    """A price, with every step that made it: total = base - discounts - promo - rounding."""

    package_id: int
    package: str
    base: Money
    converted_from: Money | None
    discounts: tuple[AppliedDiscount, ...]
    promo: AppliedPromo | None
    rounding: Money
    total: Money
    notes: tuple[str, ...] = ()
    promo_terms: PromoView | None = field(default=None, repr=False, compare=False)

    @property
    def currency(self) -> str:
        return self.total.currency

    def detail(self) -> dict[str, Any]:
        """What the order keeps (Order.discount_detail): which rules and promo applied, and why."""
        return {
            "list": self.base.amount,
            "converted_from": (
                {"amount": self.converted_from.amount, "currency": self.converted_from.currency}
                if self.converted_from
                else None
            ),
            "discounts": [
                {"rule": d.rule_id, "label": d.label, "amount": d.amount.amount} for d in self.discounts
            ],
            "promo": (
                {"code": self.promo.code, "label": self.promo.label, "amount": self.promo.amount.amount}
                if self.promo
                else None
            ),
            "rounding": self.rounding.amount,
            "notes": list(self.notes),
        }


class Pricing:
    """Quotes: list price, discounts, promo, rounding; used by the quote API and by Checkout.buy."""

    def __init__(
        self,
        catalog: Catalog,
        currencies: Currencies,
        discounts: Discounts,
        promos: Promos,
        *,
        guard: PromoGuard | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = catalog
        self.currencies = currencies
        self.discounts = discounts
        self.promos = promos
        self.guard = guard
        self.clock = clock
        self.history: PaidPurchases | None = None  # set by payments.Checkout, which owns the orders

    async def quote(
        self,
        package_id: int,
        currency: str | None = None,
        *,
        phone: str | None = None,
        promo: str | None = None,
        client: str | None = None,
    ) -> Quote:
        """Price one package for one customer; PricingError (naming the field) when it cannot."""
        code = (currency or self.currencies.default).upper()
        try:
            package = await self.catalog.get(package_id)
        except PackageNotFound:
            raise PricingError("Choose one of the packages on offer", field="package_id") from None
        accepted = self.currencies.accepted()
        price = self.currencies.price(package.prices, code)
        if price is None or (accepted and code not in accepted):
            raise PricingError(f"{package.name} is not sold in {code}", field="currency")
        limits = self.currencies.limits(code)
        now = self.clock()
        base = price.money
        notes: list[str] = []
        running = base.amount
        applied: list[AppliedDiscount] = []
        found = await self.discounts.applicable(
            package, base, phone=phone, now=now, step=limits.step, history=self.history
        )
        smallest = format_money(Money(limits.minimum, code))
        for discount in found:
            room = running - limits.minimum
            if room <= 0:
                notes.append(f"{discount.label}: not applied, the price is already as low as it can go")
                continue
            amount = min(discount.amount.amount, room)
            if amount < discount.amount.amount:
                notes.append(f"{discount.label}: reduced so the price stays at {smallest} or more")
            applied.append(replace(discount, amount=Money(amount, code)))
            running -= amount
        used: AppliedPromo | None = None
        terms: PromoView | None = None
        if promo and promo.strip():
            terms = await self._promo(promo, package, base, phone, client, now)
            off = self.promos.amount_off(terms, Money(running, code), self.currencies, limits.step)
            if running - off.amount < limits.minimum:
                after = Money(max(running - off.amount, 0), code)
                raise PricingError(
                    f"This promo code would bring the price to {format_money(after)}, below the smallest "
                    f"amount that can be paid ({smallest}). "
                    "For free access, ask for a voucher.",
                    field="promo",
                    reason="too_large",
                )
            used = AppliedPromo(terms.id, terms.code, terms.label, off)
            running -= off.amount
        # A price already below one step (an owner's odd list price) is left for the gateway to judge.
        total = round_down(running, limits.step) if running >= limits.step else running
        if limits.maximum is not None and total > limits.maximum:
            raise PricingError(
                f"{package.name} costs more than can be paid at once "
                f"({format_money(Money(limits.maximum, code))})",
                field="package_id",
            )
        return Quote(
            package_id=package.id,
            package=package.name,
            base=base,
            converted_from=price.converted_from,
            discounts=tuple(applied),
            promo=used,
            rounding=Money(running - total, code),
            total=Money(total, code),
            notes=tuple(notes),
            promo_terms=terms,
        )

    async def _promo(
        self, code: str, package: PackageView, base: Money, phone: str | None, client: str | None, now: float
    ) -> PromoView:
        keys = ([f"ip:{client}"] if client else []) + ([f"phone:{phone}"] if phone else [])
        try:
            if self.guard is not None:
                await self.guard.check(keys)
            return await self.promos.check(
                code, package, base, phone=phone, now=now, currencies=self.currencies
            )
        except PromoRefused as refused:
            if refused.reason == "unknown" and self.guard is not None:
                await self.guard.failed(keys)
            raise PricingError(
                refused.message, field="promo", status_code=refused.status_code, reason=refused.reason
            ) from None
