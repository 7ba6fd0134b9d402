"""Promo codes: a code the customer types for a percentage or a fixed amount off.

A code is checked (`check`) when the portal quotes a price and again when the order is made;
a refusal names its reason (`REASONS`) in words fit for the customer. The order then holds one
*use* (`reserve`, inside the order's transaction): the use counter goes up only through a
conditional UPDATE (`used < max_uses`), which PostgreSQL serialises on the promo's row lock and
SQLite on its single writer, so max_uses holds under concurrent orders; the per-phone count is
read after that UPDATE, under the same lock, so it holds too.

A use follows its order (`follow`): paid -> "used"; payment failed -> "released" (the counter
goes back down, so a failed M-Pesa prompt does not burn the customer's use); a retry of that
order takes it again (`renew`), and a late payment of a released order counts it again even
past max_uses (the customer paid the promo price: the record must say so).

Percent is kept in basis points (1000 = 10%) and amounts in minor units per currency.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo

from litestar.stores.base import Store

from hotspot.billing.catalog import PackageView
from hotspot.billing.currencies import Currencies, format_money, round_half_up
from hotspot.billing.discounts import day_bounds
from hotspot.billing.percent import describe_percent
from hotspot.billing.tables import Promo, PromoUse, PromoUseState
from hotspot.contracts import Money
from hotspot.db import Database
from hotspot.errors import HotspotError, Refused

__all__ = [
    "REASONS",
    "PromoError",
    "PromoGuard",
    "PromoRefused",
    "PromoSpec",
    "PromoView",
    "Promos",
    "normalize_code",
    "parse_day",
]

Reason = Literal[
    "unknown",
    "inactive",
    "not_started",
    "expired",
    "exhausted",
    "not_for_package",
    "below_minimum",
    "phone_limit",
    "currency",
    "too_large",
    "rate_limited",
]
REASONS: tuple[Reason, ...] = (
    "unknown",
    "inactive",
    "not_started",
    "expired",
    "exhausted",
    "not_for_package",
    "below_minimum",
    "phone_limit",
    "currency",
    "too_large",
    "rate_limited",
)
_CODE = re.compile(r"^[A-Z0-9]{3,32}$")


def normalize_code(text: str) -> str:
    """How a code is stored and looked up: upper case, no spaces or dashes ("save-10 " -> SAVE10)."""
    return re.sub(r"[\s\-]+", "", text).upper()


class PromoError(HotspotError):
    """A promo cannot be created or changed as asked (the owner's mistake, not the customer's);
    `field` names the form field at fault, when one is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PromoRefused(Refused):
    """The customer's code does not apply; `reason` is one of REASONS, `message` is for them."""

    reason: Reason

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message, reason=reason, status_code=429 if reason == "rate_limited" else 400)


@dataclass(frozen=True)
class PromoSpec:
    """A promo as the owner asks for it (CLI now, the admin later)."""

    code: str
    percent_bp: int | None = None
    amounts: Mapping[str, Money] | None = None
    package_ids: Sequence[int] = ()
    min_prices: Mapping[str, Money] | None = None
    valid_from: float | None = None
    valid_until: float | None = None
    max_uses: int | None = None
    per_phone: int | None = None
    description: str = ""


@dataclass(frozen=True)
class PromoView:
    """A promo row in plain values."""

    id: int
    code: str
    description: str
    percent_bp: int | None
    amounts: dict[str, Money]
    package_ids: tuple[int, ...]
    min_prices: dict[str, Money]
    valid_from: float | None
    valid_until: float | None
    max_uses: int | None
    per_phone: int | None
    active: bool
    used: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PromoView:
        return cls(
            id=int(row["id"]),
            code=row["code"],
            description=row["description"],
            percent_bp=row["percent_bp"],
            amounts={c: Money(int(a), c) for c, a in _json(row["amounts"], {}).items()},
            package_ids=tuple(int(i) for i in _json(row["package_ids"], [])),
            min_prices={c: Money(int(a), c) for c, a in _json(row["min_prices"], {}).items()},
            valid_from=row["valid_from"],
            valid_until=row["valid_until"],
            max_uses=row["max_uses"],
            per_phone=row["per_phone"],
            active=bool(row["active"]),
            used=int(row["used"]),
        )

    @property
    def label(self) -> str:
        """What it does, in the customer's words: "10% off", "KES 20 off"."""
        if self.percent_bp is not None:
            return f"{describe_percent(self.percent_bp)} off"
        return " / ".join(format_money(m) for m in self.amounts.values()) + " off"


def _json(value: Any, empty: Any) -> Any:
    if value is None or value == "":
        return empty
    return json.loads(value) if isinstance(value, str) else value


class PromoGuard:
    """Counts wrong codes per client (IP, phone) so guessing codes is hopeless at the limit."""

    def __init__(self, store: Store, *, limit: int = 10, window_seconds: int = 900) -> None:
        self.store = store
        self.limit = limit
        self.window_seconds = window_seconds

    async def check(self, keys: Sequence[str]) -> None:
        for key in keys:
            raw = await self.store.get(key)
            if raw is not None and int(raw) >= self.limit:
                raise PromoRefused(
                    "rate_limited",
                    "Too many wrong promo codes were tried. "
                    f"Wait {self.window_seconds // 60} minutes and try again.",
                )

    async def failed(self, keys: Sequence[str]) -> None:
        for key in keys:
            raw = await self.store.get(key)
            await self.store.set(key, str(int(raw or 0) + 1), expires_in=self.window_seconds)


def _stored_terms(spec: PromoSpec) -> tuple[str, str, str]:
    """The JSON columns of a promo's terms (amounts, package ids, minimum prices), as `create`
    and `update` store them."""
    return (
        json.dumps({c: m.amount for c, m in (spec.amounts or {}).items()}),
        json.dumps(sorted(set(spec.package_ids))),
        json.dumps({c: m.amount for c, m in (spec.min_prices or {}).items()}),
    )


class Promos:
    """Create, find, check and count promo codes."""

    def __init__(
        self,
        db: Database,
        *,
        tz: ZoneInfo | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.tz = tz or ZoneInfo("Africa/Nairobi")
        self.clock = clock

    # --- the owner's side ------------------------------------------------------------------

    @staticmethod
    def _checked(spec: PromoSpec) -> str:
        """The spec's normalised code, after refusing terms that make no sense (PromoError)."""
        code = normalize_code(spec.code)
        if not _CODE.fullmatch(code):
            raise PromoError(f"a promo code is 3 to 32 letters and digits, not {spec.code!r}")
        if (spec.percent_bp is None) == (not spec.amounts):
            raise PromoError("give either a percentage or an amount off")
        if spec.percent_bp is not None and not 0 < spec.percent_bp < 10_000:
            raise PromoError("a percentage off must be more than 0% and less than 100%")
        for money in (spec.amounts or {}).values():
            if money.amount <= 0:
                raise PromoError(f"an amount off must be more than zero, not {format_money(money)}")
        for name, value in (("max uses", spec.max_uses), ("uses per phone", spec.per_phone)):
            if value is not None and value < 1:
                raise PromoError(f"{name} must be at least 1")
        if (
            spec.valid_from is not None
            and spec.valid_until is not None
            and spec.valid_until <= spec.valid_from
        ):
            raise PromoError("the promo must end after it starts")
        return code

    async def create(self, spec: PromoSpec) -> PromoView:
        code = self._checked(spec)
        amounts, package_ids, min_prices = _stored_terms(spec)
        now = self.clock()
        async with self.db.write_lock():
            if await Promo.exists().where(Promo.code == code).run():
                raise PromoError(f"promo code {code} already exists", field="code")
            [row] = (
                await Promo.insert(
                    Promo(
                        code=code,
                        description=spec.description,
                        percent_bp=spec.percent_bp,
                        amounts=amounts,
                        package_ids=package_ids,
                        min_prices=min_prices,
                        valid_from=spec.valid_from,
                        valid_until=spec.valid_until,
                        max_uses=spec.max_uses,
                        per_phone=spec.per_phone,
                        active=True,
                        used=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
                .returning(Promo.id)
                .run()
            )
        found = await self.get(int(row["id"]))
        assert found is not None
        return found

    async def update(self, promo_id: int, spec: PromoSpec) -> PromoView:
        """Change a promo's terms; its code stays (uses and orders are recorded under it), and so
        does its use count. A limit below the uses made so far is refused: deactivate it instead."""
        code = self._checked(spec)
        amounts, package_ids, min_prices = _stored_terms(spec)
        async with self.db.write_lock():
            current = await self.get(promo_id)
            if current is None:
                raise PromoError(f"no promo #{promo_id}")
            if code != current.code:
                raise PromoError("a promo code cannot be renamed: create a new one")
            if spec.max_uses is not None and spec.max_uses < current.used:
                raise PromoError(
                    f"it has been used {current.used} times already: "
                    "allow at least that many, or deactivate it",
                    field="max_uses",
                )
            await (
                Promo.update(
                    {
                        Promo.description: spec.description,
                        Promo.percent_bp: spec.percent_bp,
                        Promo.valid_from: spec.valid_from,
                        Promo.valid_until: spec.valid_until,
                        Promo.max_uses: spec.max_uses,
                        Promo.per_phone: spec.per_phone,
                        Promo.updated_at: self.clock(),
                        Promo.amounts: amounts,
                        Promo.package_ids: package_ids,
                        Promo.min_prices: min_prices,
                    },
                )
                .where(Promo.id == promo_id)
                .run()
            )
        found = await self.get(promo_id)
        assert found is not None
        return found

    async def set_active(self, code: str, active: bool) -> bool:
        async with self.db.write_lock():
            changed = await Promo.raw(
                "UPDATE hotspot_promo SET active = {}, updated_at = {} WHERE code = {} RETURNING id",
                active,
                self.clock(),
                normalize_code(code),
            ).run()
        return bool(changed)

    async def get(self, promo_id: int) -> PromoView | None:
        row = await Promo.select().where(Promo.id == promo_id).first().run()
        return PromoView.from_row(row) if row else None

    async def find(self, code: str) -> PromoView | None:
        row = await Promo.select().where(Promo.code == normalize_code(code)).first().run()
        return PromoView.from_row(row) if row else None

    async def all(self) -> list[PromoView]:
        return [PromoView.from_row(r) for r in await Promo.select().order_by(Promo.id).run()]

    async def uses(
        self, code: str, *, limit: int | None = None, before: int | None = None
    ) -> list[dict[str, Any]]:
        """Uses of a code, newest first: order, phone, discount, state. A page reads at most
        `limit` of them, those with an id below `before` (the last id of the page before), so a
        code used a hundred thousand times still shows its first page at once."""
        query = PromoUse.select().where(PromoUse.code == normalize_code(code))
        if before is not None:
            query = query.where(PromoUse.id < before)
        query = query.order_by(PromoUse.id, ascending=False)
        if limit is not None:
            query = query.limit(limit)
        return [dict(r) for r in await query.run()]

    # --- the customer's side -----------------------------------------------------------------

    def day(self, moment: float) -> str:
        when = datetime.fromtimestamp(moment, self.tz)
        return f"{when.day} {when:%b %Y}"

    async def check(
        self,
        code: str,
        package: PackageView,
        base: Money,
        *,
        phone: str | None,
        now: float,
        currencies: Currencies,
    ) -> PromoView:
        """The promo, when `code` may price this package for this phone now; else PromoRefused."""
        promo = await self.find(code) if _CODE.fullmatch(normalize_code(code)) else None
        if promo is None:
            raise PromoRefused("unknown", "That promo code is not valid. Check the spelling.")
        if not promo.active:
            raise PromoRefused("inactive", "This promo code has been withdrawn.")
        if promo.valid_from is not None and now < promo.valid_from:
            raise PromoRefused("not_started", f"This promo code starts on {self.day(promo.valid_from)}.")
        if promo.valid_until is not None and now >= promo.valid_until:
            raise PromoRefused("expired", f"This promo code expired on {self.day(promo.valid_until - 1)}.")
        if promo.max_uses is not None and promo.used >= promo.max_uses:
            raise PromoRefused("exhausted", "This promo code has been used up.")
        if promo.package_ids and package.id not in promo.package_ids:
            raise PromoRefused("not_for_package", f"This promo code is not valid for {package.name}.")
        if promo.min_prices:
            minimum = self._in(promo.min_prices, base.currency, currencies)
            if minimum is None:
                raise PromoRefused(
                    "currency", f"This promo code cannot be used when paying in {base.currency}."
                )
            if base.amount < minimum.amount:
                raise PromoRefused(
                    "below_minimum", f"This promo code needs a package of at least {format_money(minimum)}."
                )
        if promo.percent_bp is None and self._in(promo.amounts, base.currency, currencies) is None:
            raise PromoRefused("currency", f"This promo code cannot be used when paying in {base.currency}.")
        if (
            phone is not None
            and promo.per_phone is not None
            and await self._phone_uses(promo.id, phone) >= promo.per_phone
        ):
            raise PromoRefused("phone_limit", self._phone_limit_message(promo))
        return promo

    @staticmethod
    def _phone_limit_message(promo: PromoView) -> str:
        if promo.per_phone == 1:
            return "This promo code has already been used with this phone number."
        return f"This promo code has already been used {promo.per_phone} times with this phone number."

    @staticmethod
    def _in(amounts: Mapping[str, Money], currency: str, currencies: Currencies) -> Money | None:
        """The amount given in `currency`, else converted from one given in another."""
        if currency in amounts:
            return amounts[currency]
        for source in sorted(amounts):
            converted = currencies.convert(amounts[source], currency)
            if converted is not None:
                return converted
        return None

    def amount_off(self, promo: PromoView, price: Money, currencies: Currencies, step: int) -> Money:
        """What the promo takes off `price` (after automatic discounts), rounded half-up to the step."""
        if promo.percent_bp is not None:
            exact = Fraction(price.amount * promo.percent_bp, 10_000)
        else:
            fixed = self._in(promo.amounts, price.currency, currencies)
            assert fixed is not None, "check() refuses promos without an amount in this currency"
            exact = Fraction(fixed.amount)
        return Money(round_half_up(exact, step), price.currency)

    async def _phone_uses(self, promo_id: int, phone: str) -> int:
        return int(
            await PromoUse.count()
            .where(
                (PromoUse.promo_id == promo_id)
                & (PromoUse.phone == phone)
                & PromoUse.state.is_in([PromoUseState.HELD, PromoUseState.USED])
            )
            .run()
        )

    async def reserve(self, promo: PromoView, order_id: str, phone: str | None, discount: Money) -> None:
        """Hold one use for an order; call inside the transaction that inserts the order."""
        now = self.clock()
        await self._take(promo, phone)
        await PromoUse.insert(
            PromoUse(
                promo_id=promo.id,
                code=promo.code,
                order_id=order_id,
                phone=phone,
                discount=discount.amount,
                currency=discount.currency,
                state=PromoUseState.HELD,
                created_at=now,
                updated_at=now,
            )
        ).run()

    async def _take(self, promo: PromoView, phone: str | None) -> None:
        """The conditional UPDATE that makes max_uses (and, under its row lock, per_phone) exact."""
        won = await Promo.raw(
            "UPDATE hotspot_promo SET used = used + 1, updated_at = {}"
            " WHERE id = {} AND active = {} AND (max_uses IS NULL OR used < max_uses) RETURNING used",
            self.clock(),
            promo.id,
            True,
        ).run()
        if not won:
            current = await self.get(promo.id)
            if current is None or not current.active:
                raise PromoRefused("inactive", "This promo code has been withdrawn.")
            raise PromoRefused("exhausted", "This promo code has been used up.")
        if (
            phone is not None
            and promo.per_phone is not None
            and await self._phone_uses(promo.id, phone) >= promo.per_phone
        ):
            raise PromoRefused("phone_limit", self._phone_limit_message(promo))  # rolls the UPDATE back

    async def follow(self, order_id: str, paid: bool, failed: bool) -> None:
        """Keep an order's use in step with it: paid -> used, failed -> released (counter back)."""
        row = (
            await PromoUse.select(PromoUse.id, PromoUse.state)
            .where(PromoUse.order_id == order_id)
            .first()
            .run()
        )
        if row is None:
            return
        state = row["state"]
        if paid and state != PromoUseState.USED:
            await self._move(
                order_id, state, PromoUseState.USED, recount=1 if state == PromoUseState.RELEASED else 0
            )
        elif failed and state == PromoUseState.HELD:
            await self._move(order_id, state, PromoUseState.RELEASED, recount=-1)

    async def renew(self, order_id: str, phone: str | None) -> None:
        """Take a released use again before its order is retried; PromoRefused when none is left."""
        row = await PromoUse.select().where(PromoUse.order_id == order_id).first().run()
        if row is None or row["state"] != PromoUseState.RELEASED:
            return
        promo = await self.get(int(row["promo_id"]))
        if promo is None:
            raise PromoRefused("inactive", "This promo code has been withdrawn.")
        async with self.db.transaction():
            await self._take(promo, phone)
            await (
                PromoUse.update(
                    {
                        PromoUse.state: PromoUseState.HELD,
                        PromoUse.phone: phone,
                        PromoUse.updated_at: self.clock(),
                    }
                )
                .where((PromoUse.order_id == order_id) & (PromoUse.state == PromoUseState.RELEASED))
                .run()
            )

    async def _move(self, order_id: str, old: str, new: str, *, recount: int) -> None:
        async with self.db.transaction():
            moved = await PromoUse.raw(
                "UPDATE hotspot_promo_use SET state = {}, updated_at = {} WHERE order_id = {} AND state = {}"
                " RETURNING promo_id",
                new,
                self.clock(),
                order_id,
                old,
            ).run()
            if moved and recount:
                await Promo.raw(
                    "UPDATE hotspot_promo SET used = used + {} WHERE id = {}",
                    recount,
                    int(moved[0]["promo_id"]),
                ).run()


def parse_day(text: str, tz: ZoneInfo, *, end: bool) -> float:
    """Unix time of the start of day `text` (YYYY-MM-DD), or of the day after when `end`."""
    day = date.fromisoformat(text)
    start, stop = day_bounds(day, day, tz)
    assert start is not None and stop is not None
    return stop if end else start
