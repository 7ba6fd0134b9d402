"""Promo codes and automatic discounts (/admin/promos), two tabs of one page.

**Promo codes** live in the database (hotspot.billing.promos): create and edit them in a modal,
deactivate or reactivate one, and see every use (the orders it priced, with their phones, so
that list needs payments.read). A code cannot be renamed once made: uses are recorded under it.

**Discounts** are the owner's automatic rules (hotspot.billing.discounts: bundle and repeat
customer). They are settings, `discounts:` in the YAML, so the admin edits them the way the
wizard edits the business: the whole list is saved under the stored setting ``discounts``
(hotspot.settings_store), validated by DiscountRuleSettings, and the app is rebuilt to use it
(hotspot.admin.changes). A config file that sets `discounts:` wins and the tab is read-only.

Seeing needs packages.read; every change needs money.settings and is audited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath
from litestar.response import Response, Template
from pydantic import ValidationError

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.changes import NotApplied, apply_saved, save_settings
from hotspot.admin.packages_page import form_page
from hotspot.admin.web import (
    flash,
    form_currencies_of,
    form_data,
    fragment,
    hx_redirect,
    page,
    text,
    values,
    wants_fragment,
)
from hotspot.billing.catalog import PackageView
from hotspot.billing.currencies import format_money
from hotspot.billing.discounts import DiscountRule, day_bounds
from hotspot.billing.forms import (
    FormErrors,
    amount_text,
    money_arg,
    parse_amounts,
    parse_count,
    parse_date,
    validation_errors,
)
from hotspot.billing.percent import basis_points, describe_percent
from hotspot.billing.promos import PromoError, Promos, PromoSpec, PromoView, normalize_code
from hotspot.config import DiscountRuleSettings
from hotspot.contracts import Money
from hotspot.http.client import client_ip
from hotspot.locks import LockTimeout
from hotspot.runtime import Hotspot

__all__ = ["DISCOUNTS_KEY", "PROMOS_HANDLERS", "parse_discount_form", "parse_promo_form"]

LIST = "/admin/promos"
USES_PAGE = 50  # uses of a code shown at once; "Load more" fetches the next
DISCOUNTS = f"{LIST}?tab=discounts"
DISCOUNTS_KEY = "discounts"  # the stored setting: the whole list of rules (hotspot.config._stored)
RULES_LOCK = "admin:discounts"  # held while the list is read, changed and written back
Tab = Literal["codes", "discounts"]
_RULE_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")  # DiscountRuleSettings.id's own pattern
_RULE_ID = (
    "Use 1 to 32 lower-case letters, digits, - and _, starting with a letter or digit, e.g. weekly-saver."
)


def _promos(hotspot: Hotspot) -> Promos:
    return hotspot.checkout.pricing.promos


def _typed_amounts(data: Mapping[str, Any], prefix: str, currencies: Sequence[str]) -> dict[str, str]:
    return {code: text(data, f"{prefix}_{code}") for code in currencies}


def _limit(raw: str, key: str, errors: dict[str, str]) -> int | None:
    if not raw:
        return None
    try:
        return parse_count(raw, low=1, high=10**6, what="a number")
    except ValueError as exc:
        errors[key] = f"{exc} Leave it empty for no limit."
        return None


def _days(form: Mapping[str, Any], errors: dict[str, str]) -> tuple[date | None, date | None]:
    """The first and last day typed (both optional); the last may not come before the first."""
    out: list[date | None] = []
    for key in ("valid_from", "valid_until"):
        try:
            out.append(parse_date(text(form, key)))
        except ValueError as exc:
            errors[key] = str(exc)
            out.append(None)
    first, last = out
    if first and last and last < first:
        errors["valid_until"] = "The last day comes before the first."
    return first, last


# --- promo codes -------------------------------------------------------------------------------


def parse_promo_form(
    form: Mapping[str, Any], currencies: Sequence[str], packages: Sequence[PackageView], tz: ZoneInfo
) -> PromoSpec:
    """The promo the form describes, or FormErrors keyed by field (amounts as amount_KES)."""
    errors: dict[str, str] = {}
    code = normalize_code(text(form, "code"))
    if not code:
        errors["code"] = "Choose the code customers type, e.g. SAVE10."
    elif not (code.isascii() and code.isalnum() and 3 <= len(code) <= 32):
        errors["code"] = "3 to 32 letters and digits (spaces and dashes are dropped)."
    description = text(form, "description")
    if len(description) > 200:
        errors["description"] = "At most 200 characters."
    percent_bp: int | None = None
    amounts, amount_errors = parse_amounts(_typed_amounts(form, "amount", currencies), "amount")
    if text(form, "kind") == "amount":
        errors.update(amount_errors)
        if not amounts and not amount_errors:
            errors[f"amount_{currencies[0]}"] = "Enter the amount off."
    else:
        amounts = {}
        try:
            percent_bp = basis_points(text(form, "percent"))
        except ValueError:
            errors["percent"] = "Enter a percentage off, more than 0 and less than 100, e.g. 10 or 12.5."
    minimums, minimum_errors = parse_amounts(_typed_amounts(form, "min", currencies), "min")
    errors.update(minimum_errors)
    known = {str(p.id): p.id for p in packages}
    chosen = values(form, "packages")
    if any(c not in known for c in chosen):
        errors["packages"] = "Choose packages from the list."
    first, last = _days(form, errors)
    max_uses = _limit(text(form, "max_uses"), "max_uses", errors)
    per_phone = _limit(text(form, "per_phone"), "per_phone", errors)
    if errors:
        raise FormErrors(errors)
    starts, ends = day_bounds(first, last, tz)
    return PromoSpec(
        code=code,
        percent_bp=percent_bp,
        amounts=amounts or None,
        package_ids=[known[c] for c in chosen],
        min_prices=minimums or None,
        valid_from=starts,
        valid_until=ends,
        max_uses=max_uses,
        per_phone=per_phone,
        description=description,
    )


def _promo_form(promo: PromoView, tz: ZoneInfo) -> dict[str, Any]:
    """A stored promo as its edit form shows it (dates back to the days the owner picked)."""

    def day(stamp: float | None, end: bool) -> str:
        if stamp is None:
            return ""
        return datetime.fromtimestamp(stamp - (1 if end else 0), tz).date().isoformat()

    form: dict[str, Any] = {
        "code": promo.code,
        "description": promo.description,
        "kind": "percent" if promo.percent_bp is not None else "amount",
        "percent": describe_percent(promo.percent_bp).rstrip("%") if promo.percent_bp is not None else "",
        "packages": [str(i) for i in promo.package_ids],
        "valid_from": day(promo.valid_from, False),
        "valid_until": day(promo.valid_until, True),
        "max_uses": "" if promo.max_uses is None else str(promo.max_uses),
        "per_phone": "" if promo.per_phone is None else str(promo.per_phone),
    }
    form.update({f"amount_{c}": amount_text(m) for c, m in promo.amounts.items()})
    form.update({f"min_{c}": amount_text(m) for c, m in promo.min_prices.items()})
    return form


def promo_record(promo: PromoView) -> dict[str, Any]:
    """A promo as the audit log keeps it."""
    return {
        "code": promo.code,
        "description": promo.description,
        "percent_bp": promo.percent_bp,
        "amounts": {c: m.amount for c, m in promo.amounts.items()},
        "package_ids": list(promo.package_ids),
        "min_prices": {c: m.amount for c, m in promo.min_prices.items()},
        "valid_from": promo.valid_from,
        "valid_until": promo.valid_until,
        "max_uses": promo.max_uses,
        "per_phone": promo.per_phone,
        "active": promo.active,
    }


def _tab(request: Request[Any, Any, Any]) -> Tab:
    return "discounts" if request.query_params.get("tab") == "discounts" else "codes"


def _rule_views(hotspot: Hotspot) -> list[tuple[DiscountRuleSettings, DiscountRule | None]]:
    """Each rule with what the customer reads (None when it cannot be read: never, validated)."""
    tz = ZoneInfo(hotspot.settings.business.timezone)
    out: list[tuple[DiscountRuleSettings, DiscountRule | None]] = []
    for spec in hotspot.settings.discounts:
        try:
            out.append((spec, DiscountRule.from_settings(spec, tz)))
        except ValueError:
            out.append((spec, None))
    return out


@get(LIST, include_in_schema=False, cache=False, guards=[requires("packages.read")])
async def promos_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    packages = await hotspot.catalog.all()
    return page(
        request,
        "admin/promos.html",
        principal=principal,
        active="promos",
        title="Promos & discounts",
        tab=_tab(request),
        promos=await _promos(hotspot).all(),
        package_names={p.id: p.name for p in packages},
        rules=_rule_views(hotspot),
        pinned=hotspot.settings.is_pinned(DISCOUNTS_KEY),
        can_write=principal.can("money.settings"),
        can_see_uses=principal.can("payments.read"),
        money=format_money,
        now=hotspot.checkout.pricing.clock(),
    )


async def _promo(hotspot: Hotspot, promo_id: int) -> PromoView:
    promo = await _promos(hotspot).get(promo_id)
    if promo is None:
        raise NotFoundException(f"No promo #{promo_id}.")
    return promo


async def _promo_form_response(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    form: Mapping[str, Any],
    *,
    promo: PromoView | None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    given = [k.split("_", 1)[1] for k in form if k.startswith(("amount_", "min_"))]
    return form_page(
        request,
        principal,
        "admin/_promo_form.html",
        active="promos",
        title=f"Edit {promo.code}" if promo else "New promo code",
        back=LIST,
        status_code=status_code,
        promo=promo,
        form=form,
        errors=errors or {},
        currencies=form_currencies_of(hotspot, given),
        packages=await hotspot.catalog.all(),
    )


@get(f"{LIST}/new", include_in_schema=False, cache=False, guards=[requires("money.settings")])
async def new_promo(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _promo_form_response(request, hotspot, principal, {"kind": "percent"}, promo=None)


@get(
    f"{LIST}/{{promo_id:int}}/edit", include_in_schema=False, cache=False, guards=[requires("money.settings")]
)
async def edit_promo(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    promo_id: FromPath[int],
) -> Template:
    promo = await _promo(hotspot, promo_id)
    tz = ZoneInfo(hotspot.settings.business.timezone)
    return await _promo_form_response(request, hotspot, principal, _promo_form(promo, tz), promo=promo)


async def _save_promo(
    request: Request[Any, Any, Any], hotspot: Hotspot, principal: Principal, promo: PromoView | None
) -> Template | Response[Any]:
    data = await form_data(request)
    if promo is not None:
        data["code"] = promo.code  # shown read-only: uses are recorded under it
    promos = _promos(hotspot)
    currencies = form_currencies_of(
        hotspot, promo.amounts if promo else (), promo.min_prices if promo else ()
    )
    try:
        spec = parse_promo_form(data, currencies, await hotspot.catalog.all(), promos.tz)
        if promo is None and await promos.find(spec.code) is not None:
            raise FormErrors({"code": f"{spec.code} exists already: choose another code."})
        async with hotspot.db.transaction():
            saved = await promos.update(promo.id, spec) if promo else await promos.create(spec)
            await hotspot.accounts.audit.record(
                principal.actor,
                "promo.update" if promo else "promo.create",
                ("promo", saved.id),
                promo_record(promo) if promo else None,
                promo_record(saved),
                client_ip(request),
            )
    except FormErrors as exc:
        return await _promo_form_response(
            request, hotspot, principal, data, promo=promo, errors=exc.errors, status_code=400
        )
    except PromoError as exc:
        message = str(exc)
        errors = {exc.field or "form": message[:1].upper() + message[1:] + "."}
        return await _promo_form_response(
            request, hotspot, principal, data, promo=promo, errors=errors, status_code=400
        )
    flash(request, f"{saved.code}: {saved.label}{'' if saved.active else ' (inactive)'}.")
    return hx_redirect(request, LIST)


@post(LIST, include_in_schema=False, guards=[requires("money.settings")], status_code=200)
async def create_promo(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Response[Any]:
    return await _save_promo(request, hotspot, principal, None)


@post(
    f"{LIST}/{{promo_id:int}}", include_in_schema=False, guards=[requires("money.settings")], status_code=200
)
async def update_promo(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    promo_id: FromPath[int],
) -> Template | Response[Any]:
    return await _save_promo(request, hotspot, principal, await _promo(hotspot, promo_id))


@post(f"{LIST}/{{promo_id:int}}/active", include_in_schema=False, guards=[requires("money.settings")])
async def set_promo_active(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    promo_id: FromPath[int],
) -> Response[Any]:
    """Withdraw a code (orders already holding a use keep it) or bring it back."""
    promo = await _promo(hotspot, promo_id)
    active = text(await form_data(request), "active") == "1"
    async with hotspot.db.transaction():
        await _promos(hotspot).set_active(promo.code, active)
        await hotspot.accounts.audit.record(
            principal.actor,
            "promo.activate" if active else "promo.deactivate",
            ("promo", promo.id),
            {"active": promo.active},
            {"active": active},
            client_ip(request),
        )
    flash(
        request,
        f"{promo.code} works again."
        if active
        else f"{promo.code} is withdrawn: customers can no longer use it.",
    )
    return hx_redirect(request, LIST)


@get(
    f"{LIST}/{{promo_id:int}}/uses", include_in_schema=False, cache=False, guards=[requires("payments.read")]
)
async def promo_uses(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    promo_id: FromPath[int],
) -> Template:
    """The uses of one code, newest first: the order, the phone, what it took off, its state; a
    page of USES_PAGE at a time, the next fetched by "Load more" (keyset on the use's id)."""
    promo = await _promo(hotspot, promo_id)
    after = request.query_params.get("after")
    if after is not None and not re.fullmatch(r"[0-9]{1,18}", after):
        raise ClientException("Not a page cursor from this list.")
    before = int(after) if after is not None else None
    rows = await _promos(hotspot).uses(promo.code, limit=USES_PAGE + 1, before=before)
    uses = [{**u, "money": Money(int(u["discount"]), str(u["currency"]))} for u in rows[:USES_PAGE]]
    more = f"{LIST}/{promo.id}/uses?after={uses[-1]['id']}" if len(rows) > USES_PAGE else None
    context: dict[str, Any] = {
        "promo": promo,
        "uses": uses,
        "next_link": more,
        "money": format_money,
        "back": LIST,
        "tz": hotspot.settings.business.timezone,
    }
    if wants_fragment(request):
        rows_only = before is not None  # "Load more": the next rows, in place of its own row
        return fragment(
            request, "admin/_promo_use_rows.html" if rows_only else "admin/_promo_uses.html", **context
        )
    return page(
        request,
        "admin/catalog_form.html",
        principal=principal,
        active="promos",
        title=f"Uses of {promo.code}",
        form_template="admin/_promo_uses.html",
        **context,
    )


# --- automatic discounts -----------------------------------------------------------------------


def parse_discount_form(
    form: Mapping[str, Any], currencies: Sequence[str], package_names: Sequence[str]
) -> DiscountRuleSettings:
    """The rule the form describes, validated by DiscountRuleSettings; FormErrors by field."""
    errors: dict[str, str] = {}
    kind = text(form, "kind")
    raw: dict[str, Any] = {"id": text(form, "id"), "kind": kind, "label": text(form, "label")}
    if not _RULE_ID_PATTERN.fullmatch(raw["id"]):
        errors["id"] = _RULE_ID
    if kind not in ("bundle", "repeat"):
        errors["kind"] = "Choose bigger bundles or repeat customers."
    if text(form, "off") == "amount":
        amounts, amount_errors = parse_amounts(_typed_amounts(form, "amount", currencies), "amount")
        errors.update(amount_errors)
        if not amounts and not amount_errors:
            errors[f"amount_{currencies[0]}"] = "Enter the amount off."
        raw["amount"] = [money_arg(m) for m in amounts.values()]
    else:
        try:
            basis_points(text(form, "percent"))
        except ValueError:
            errors["percent"] = "Enter a percentage off, more than 0 and less than 100, e.g. 10 or 12.5."
        raw["percent"] = text(form, "percent").rstrip("%").strip()
    if kind == "bundle":
        chosen = values(form, "packages")
        if any(name not in package_names for name in chosen):
            errors["packages"] = "Choose packages from the list."
        raw["packages"] = chosen
        for key in ("min_duration", "min_data"):
            if text(form, key):
                raw[key] = text(form, key)
        if not (chosen or text(form, "min_duration") or text(form, "min_data")):
            errors["packages"] = "Choose packages, or give a least time or data (or both)."
    elif kind == "repeat":
        try:
            raw["every"] = parse_count(text(form, "every"), low=2, high=1000, what="a number")
        except ValueError as exc:
            errors["every"] = str(exc)
        raw["within"] = text(form, "within") or "30d"
    raw["stacks"] = text(form, "stacks") == "1"
    first, last = _days(form, errors)
    raw.update({k: v for k, v in (("valid_from", first), ("valid_until", last)) if v is not None})
    if errors:
        raise FormErrors(errors)
    try:
        return DiscountRuleSettings.model_validate(raw)
    except ValidationError as exc:
        found = validation_errors(exc)
        if "id" in found:
            found["id"] = _RULE_ID
        raise FormErrors(found) from None


def _rule_form(rule: DiscountRuleSettings) -> dict[str, Any]:
    """A saved rule as its edit form shows it."""
    form: dict[str, Any] = {
        "id": rule.id,
        "kind": rule.kind,
        "label": rule.label,
        "off": "amount" if rule.amount else "percent",
        "percent": "" if rule.percent is None else str(rule.percent),
        "packages": list(rule.packages),
        "min_duration": "" if rule.min_duration is None else str(rule.min_duration),
        "min_data": "" if rule.min_data is None else str(rule.min_data),
        "every": "" if rule.every is None else str(rule.every),
        "within": str(rule.within),
        "stacks": "1" if rule.stacks else "",
        "valid_from": rule.valid_from.isoformat() if rule.valid_from else "",
        "valid_until": rule.valid_until.isoformat() if rule.valid_until else "",
    }
    for text_amount in rule.amount or []:
        number, code = text_amount.split()
        form[f"amount_{code}"] = number
    return form


def _rule(hotspot: Hotspot, rule_id: str) -> DiscountRuleSettings:
    for rule in hotspot.settings.discounts:
        if rule.id == rule_id:
            return rule
    raise NotFoundException(f"No discount rule {rule_id!r}.")


async def _rule_form_response(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    form: Mapping[str, Any],
    *,
    rule: DiscountRuleSettings | None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    given = [k.split("_", 1)[1] for k in form if k.startswith("amount_")]
    return form_page(
        request,
        principal,
        "admin/_discount_form.html",
        active="promos",
        title=f"Edit discount {rule.id}" if rule else "New discount",
        back=DISCOUNTS,
        status_code=status_code,
        rule=rule,
        form=form,
        errors=errors or {},
        currencies=form_currencies_of(hotspot, given),
        packages=[p.name for p in await hotspot.catalog.all()],
        pinned=hotspot.settings.is_pinned(DISCOUNTS_KEY),
    )


@get(f"{LIST}/discounts/new", include_in_schema=False, cache=False, guards=[requires("money.settings")])
async def new_rule(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    start = {"kind": "bundle", "off": "percent", "within": "30d"}
    return await _rule_form_response(request, hotspot, principal, start, rule=None)


@get(
    f"{LIST}/discounts/{{rule_id:str}}/edit",
    include_in_schema=False,
    cache=False,
    guards=[requires("money.settings")],
)
async def edit_rule(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    rule_id: FromPath[str],
) -> Template:
    rule = _rule(hotspot, rule_id)
    return await _rule_form_response(request, hotspot, principal, _rule_form(rule), rule=rule)


async def _saved_rules(hotspot: Hotspot) -> list[dict[str, Any]]:
    """The list as stored now, read under RULES_LOCK: another admin (or another worker process)
    may have saved it since this app was built, and their change must not be written over."""
    stored = await hotspot.settings_store.get(DISCOUNTS_KEY)
    if isinstance(stored, list):
        return [dict(r) for r in stored if isinstance(r, dict)]
    return [r.model_dump(mode="json", exclude_defaults=True) for r in hotspot.settings.discounts]


def _readable(rules: Sequence[Mapping[str, Any]]) -> list[DiscountRuleSettings]:
    """The stored rules that validate (what pricing uses; hotspot.billing.discounts skips the rest)."""
    out: list[DiscountRuleSettings] = []
    for raw in rules:
        try:
            out.append(DiscountRuleSettings.model_validate(raw))
        except ValidationError:
            continue
    return out


async def _store_rules(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    *,
    action: str,
    before: DiscountRuleSettings | None,
    after: DiscountRuleSettings | None,
) -> str | None:
    """Change the stored list with `change` (given the list as stored now; FormErrors refuses) and
    save it, audited, under RULES_LOCK so two admins saving at once both keep their rule; then
    start pricing with it. The warning to show when it was saved but could not be applied."""
    try:
        async with hotspot.locks.hold(RULES_LOCK, ttl=30, wait=10):
            rules = change(await _saved_rules(hotspot))
            await save_settings(
                hotspot,
                principal,
                {DISCOUNTS_KEY: rules},
                action=action,
                target=DISCOUNTS_KEY,
                before={"rule": before.model_dump(mode="json") if before else None},
                after={"rule": after.model_dump(mode="json") if after else None},
                ip=client_ip(request),
            )
    except LockTimeout:
        raise FormErrors({"form": "Another admin is saving discounts right now: try again."}) from None
    try:
        new = await apply_saved(request)
    except NotApplied as exc:
        return str(exc)
    if new is None:  # a plain app (no in-place rebuild): price with the new rules in this one
        hotspot.settings = hotspot.settings.model_copy(update={"discounts": _readable(rules)})
        hotspot.apply_business(hotspot.settings.business)  # rebuilds pricing from the settings
    return None


def _pinned_refusal() -> FormErrors:
    return FormErrors(
        {
            "form": "The config file sets the discounts: change them there "
            "(or take them out of it to edit them here)."
        }
    )


def _put(spec: DiscountRuleSettings, *, new: bool) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """The change that adds `spec` (new) or puts it in place of the rule with its id."""
    dumped = spec.model_dump(mode="json", exclude_defaults=True)

    def change(current: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [r.get("id") for r in current]
        if new and spec.id in ids:
            raise FormErrors({"id": f"A rule called {spec.id} exists already: choose another name."})
        if not new and spec.id not in ids:
            raise FormErrors({"form": f"Discount {spec.id} was deleted meanwhile: add it again as new."})
        return [*current, dumped] if new else [dumped if r.get("id") == spec.id else r for r in current]

    return change


async def _save_rule(
    request: Request[Any, Any, Any], hotspot: Hotspot, principal: Principal, rule: DiscountRuleSettings | None
) -> Template | Response[Any]:
    data = await form_data(request)
    if rule is not None:
        data["id"] = rule.id  # shown read-only: orders record the rule by its id
    currencies = form_currencies_of(hotspot, [a.split()[1] for a in (rule.amount or [])] if rule else ())
    try:
        if hotspot.settings.is_pinned(DISCOUNTS_KEY):
            raise _pinned_refusal()
        spec = parse_discount_form(data, currencies, [p.name for p in await hotspot.catalog.all()])
        warning = await _store_rules(
            request,
            hotspot,
            principal,
            _put(spec, new=rule is None),
            action="discount.update" if rule else "discount.create",
            before=rule,
            after=spec,
        )
    except FormErrors as exc:
        status = 409 if "form" in exc.errors else 400
        return await _rule_form_response(
            request, hotspot, principal, data, rule=rule, errors=exc.errors, status_code=status
        )
    if warning:
        flash(request, warning, "danger")
    else:
        flash(request, f"Discount {spec.id} saved: it prices the next quote.")
    return hx_redirect(request, DISCOUNTS)


@post(f"{LIST}/discounts", include_in_schema=False, guards=[requires("money.settings")], status_code=200)
async def create_rule(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Response[Any]:
    return await _save_rule(request, hotspot, principal, None)


@post(
    f"{LIST}/discounts/{{rule_id:str}}",
    include_in_schema=False,
    guards=[requires("money.settings")],
    status_code=200,
)
async def update_rule(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    rule_id: FromPath[str],
) -> Template | Response[Any]:
    return await _save_rule(request, hotspot, principal, _rule(hotspot, rule_id))


@post(
    f"{LIST}/discounts/{{rule_id:str}}/delete", include_in_schema=False, guards=[requires("money.settings")]
)
async def delete_rule(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    rule_id: FromPath[str],
) -> Response[Any]:
    """Orders it priced keep their record of it (Order.discount_detail)."""
    rule = _rule(hotspot, rule_id)
    if hotspot.settings.is_pinned(DISCOUNTS_KEY):
        flash(request, _pinned_refusal().errors["form"], "danger")
        return hx_redirect(request, DISCOUNTS)
    try:
        warning = await _store_rules(
            request,
            hotspot,
            principal,
            lambda current: [r for r in current if r.get("id") != rule_id],
            action="discount.delete",
            before=rule,
            after=None,
        )
    except FormErrors as exc:
        flash(request, exc.errors["form"], "danger")
        return hx_redirect(request, DISCOUNTS)
    flash(request, warning or f"Discount {rule_id} is deleted.", "danger" if warning else "success")
    return hx_redirect(request, DISCOUNTS)


PROMOS_HANDLERS = [
    promos_page,
    new_promo,
    edit_promo,
    create_promo,
    update_promo,
    set_promo_active,
    promo_uses,
    new_rule,
    edit_rule,
    create_rule,
    update_rule,
    delete_rule,
]
