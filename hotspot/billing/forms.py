"""What the owner types into a form (prices, time, data cap, speeds, dates) read into settings
models, and stored values written back the way the owner types them.

Shared by the setup wizard's package rows, the admin's package form and the promo and discount
forms, so every page accepts the same spellings ("20", "1,500", "1h", "2GB", "5M") and explains
a mistake with the same sentence. Errors are keyed by form field; a price or amount in one
currency is keyed ``<field>_<CODE>`` (``price_KES``), so the page marks the right box.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from hotspot.billing.catalog import PackageView
from hotspot.billing.currencies import exponent, is_currency, parse_money
from hotspot.config import FIRST_DAY, LAST_DAY, PackageSettings, parse_duration, parse_rate, parse_size
from hotspot.contracts import Money
from hotspot.errors import FormErrors

__all__ = [
    "MAX_AMOUNT",
    "MAX_RATE",
    "MIN_BYTES",
    "MIN_RATE",
    "FormErrors",
    "PackageForm",
    "amount_text",
    "duration_text",
    "form_currencies",
    "money_arg",
    "parse_amount",
    "parse_amounts",
    "parse_count",
    "parse_date",
    "parse_package",
    "rate_text",
    "size_text",
    "validation_errors",
]

MIN_RATE = 8_000  # 8 kbit/s: below it a "speed" is a typo (5 instead of 5M)
MAX_RATE = 10 * 10**9
MIN_BYTES = 10**6  # 1 MB: below it a data cap is a typo (500 instead of 500MB)
MAX_DEVICES = 20
# The most a price or an amount off may be, in minor units: 10 billion KES is no hotspot's price,
# and the long digit strings a form would otherwise take overflow the orders' BIGINT columns.
MAX_AMOUNT = 10**12
_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _sentence(message: str) -> str:
    message = message.removeprefix("Value error, ").strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", ")")) else message + "."


def validation_errors(exc: ValidationError, fields: Mapping[str, str] | None = None) -> dict[str, str]:
    """A settings model's complaints keyed by form field (`fields` renames model fields;
    a complaint about the whole model goes to "form"), each as a sentence."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = err.get("loc") or ()
        name = str(loc[0]) if loc else "form"
        key = (fields or {}).get(name, name)
        out.setdefault(key, _sentence(str(err["msg"])))
    return out


# --- amounts of money -------------------------------------------------------------------------


def parse_amount(typed: str, currency: str) -> Money:
    """An amount typed without its currency ("20", "1,500", "0.40"), in that currency's minor units."""
    text = typed.strip().replace(",", "").replace(" ", "")
    if not _NUMBER.fullmatch(text) or len(text) > 24:
        raise ValueError(f"Write an amount like 20 or {'20.50' if exponent(currency) else '1500'}.")
    try:
        money = parse_money(f"{text} {currency}")
    except ValueError:
        places = exponent(currency)
        unit = "no decimals" if places == 0 else f"at most {places} decimals"
        raise ValueError(f"{currency} amounts have {unit}.") from None
    if money.amount > MAX_AMOUNT:
        raise ValueError(f"At most {MAX_AMOUNT // 10 ** exponent(currency):,} {currency}.")
    return money


def parse_amounts(typed: Mapping[str, str], prefix: str) -> tuple[dict[str, Money], dict[str, str]]:
    """{currency: typed amount} read into Money (blanks skipped); errors keyed `<prefix>_<CODE>`."""
    amounts: dict[str, Money] = {}
    errors: dict[str, str] = {}
    for code, raw in typed.items():
        if not raw.strip():
            continue
        key = f"{prefix}_{code}"
        if not is_currency(code):
            errors[key] = f"{code} is not a currency."
            continue
        try:
            money = parse_amount(raw, code)
        except ValueError as exc:
            errors[key] = str(exc)
            continue
        if money.amount <= 0:
            errors[key] = "Must be more than zero."
            continue
        amounts[code] = money
    return amounts, errors


def amount_text(money: Money) -> str:
    """How an amount is typed back into a form: "20", "20.50", "1500"."""
    places = exponent(money.currency)
    whole, minor = divmod(money.amount, 10**places)
    return str(whole) if minor == 0 else f"{whole}.{minor:0{places}d}"


def money_arg(money: Money) -> str:
    """Money as a settings string, "20.00 KES" (what PackageSettings and discount rules read)."""
    value = Decimal(money.amount).scaleb(-exponent(money.currency))
    return f"{value} {money.currency}"


def form_currencies(business: str, accepted: Iterable[str], *given: Iterable[str]) -> list[str]:
    """The currencies a money form offers: the business's first, then what gateways take and
    what the record already has, A to Z."""
    others = {c for c in accepted if is_currency(c)}
    for codes in given:
        others |= {c for c in codes if is_currency(c)}
    others.discard(business)
    return [business, *sorted(others)]


# --- counts, dates, units ---------------------------------------------------------------------


def parse_count(typed: str, *, low: int, high: int, what: str = "a whole number") -> int:
    """A whole number between low and high; ValueError with the sentence to show."""
    text = typed.strip()
    if not re.fullmatch(r"-?[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise ValueError(f"Enter {what} from {low} to {high}.")
    return int(text)


def parse_date(typed: str) -> date | None:
    """A day as YYYY-MM-DD (what <input type=date> posts) from FIRST_DAY to LAST_DAY; None when
    blank. Every dated admin form reads days here, so a typo like 9999 is refused before a
    datetime or a Unix time is made of it (that overflows)."""
    text = typed.strip()
    if not text:
        return None
    if not _DAY.fullmatch(text):
        raise ValueError("Pick a date (YYYY-MM-DD).")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError("Pick a date (YYYY-MM-DD).") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"Pick a day from {FIRST_DAY.year} to {LAST_DAY.year}.")
    return day


def duration_text(seconds: int) -> str:
    """3600 -> "1h", 604800 -> "7d", 90 -> "90s": what parse_duration reads back."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def size_text(count: int | None) -> str:
    """2_000_000_000 -> "2GB", 500_000_000 -> "500MB"; "" for no cap."""
    if count is None:
        return ""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count % size == 0:
            return f"{count // size}{unit}"
    return str(count)


def rate_text(bps: int | None) -> str:
    """5_000_000 -> "5M", 512_000 -> "512k"; "" for no limit."""
    if bps is None:
        return ""
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if bps % size == 0:
            return f"{bps // size}{unit}"
    return str(bps)


# --- packages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageForm:
    """A package as typed: every value a string, prices by currency ({"KES": "20"})."""

    name: str = ""
    description: str = ""
    prices: Mapping[str, str] = field(default_factory=dict)
    duration: str = "1h"
    data: str = ""
    down: str = ""
    up: str = ""
    devices: str = "1"
    visible: bool = True
    sort_order: str = "0"

    @classmethod
    def of(cls, package: PackageView) -> PackageForm:
        """A stored package as its edit form shows it."""
        return cls(
            name=package.name,
            description=package.description,
            prices={code: amount_text(m) for code, m in package.prices.items()},
            duration=duration_text(package.seconds),
            data=size_text(package.bytes_total),
            down=rate_text(package.down_bps),
            up=rate_text(package.up_bps),
            devices=str(package.devices),
            visible=package.visible,
            sort_order=str(package.sort_order),
        )


def _unit(typed: str, parse: Any, low: int, high: int, field_name: str, errors: dict[str, str]) -> None:
    """Check a size or a speed before the model does, with the sentence the form shows."""
    if not typed:
        return
    examples = "500MB or 2GB" if parse is parse_size else "512k or 5M"
    try:
        value = parse(typed[:32])
    except ValueError:
        errors[field_name] = f"Write it like {examples}, or leave it empty for no limit."
        return
    if not low <= value <= high:
        least = "1MB" if parse is parse_size else "8k"
        errors[field_name] = f"At least {least}: write it like {examples}."


def parse_package(form: PackageForm, *, require: str | None = None) -> PackageSettings:
    """The package the form describes, or FormErrors keyed by field.

    `require` names a currency whose price must be given (the wizard asks for the business's
    price); otherwise any one price will do, the portal converts to the others."""
    errors: dict[str, str] = {}
    name = form.name.strip()
    if not name:
        errors["name"] = "Give it a name, e.g. 1 hour."
    elif len(name) > 64:
        errors["name"] = "At most 64 characters."
    if len(form.description) > 300:
        errors["description"] = "At most 300 characters."
    prices, price_errors = parse_amounts(form.prices, "price")
    errors.update(price_errors)
    if require is not None and not form.prices.get(require, "").strip():
        errors[f"price_{require}"] = f"Enter the price in {require}."
    elif not prices and not price_errors:
        first = next(iter(form.prices), "")
        errors[f"price_{first}" if first else "price"] = "Give at least one price."
    duration = form.duration.strip()
    if not duration:
        errors["duration"] = "Say how long it lasts, e.g. 1h, 30m or 7d."
    else:
        try:
            seconds = parse_duration(duration[:16])
        except ValueError:
            errors["duration"] = "Write a time like 30m, 1h or 7d."
        else:
            if not 60 <= seconds <= 366 * 86400:
                errors["duration"] = "Between 1 minute and a year."
    _unit(form.data.strip(), parse_size, MIN_BYTES, 10**15, "data", errors)
    _unit(form.down.strip(), parse_rate, MIN_RATE, MAX_RATE, "down", errors)
    _unit(form.up.strip(), parse_rate, MIN_RATE, MAX_RATE, "up", errors)
    for key, typed, low, high, what in (
        ("devices", form.devices, 1, MAX_DEVICES, "a number of devices"),
        ("sort_order", form.sort_order or "0", -9999, 9999, "a position"),
    ):
        try:
            parse_count(typed, low=low, high=high, what=what)
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise FormErrors(errors)
    raw: dict[str, Any] = {
        "name": name,
        "description": form.description.strip(),
        "price": [money_arg(m) for m in prices.values()],
        "duration": duration,
        "devices": int(form.devices.strip()),
        "visible": form.visible,
        "sort_order": int((form.sort_order or "0").strip()),
    }
    for key in ("data", "down", "up"):
        value = getattr(form, key).strip()
        if value:
            raw[key] = value
    try:
        return PackageSettings.model_validate(raw)
    except ValidationError as exc:
        raise FormErrors(validation_errors(exc)) from None
