"""The packages page (/admin/packages): what is sold, with its prices in every currency, and the
owner's changes to it: create and edit (in a modal), hide or show, move up or down the portal's
list, and delete a package that was never sold (one that was is hidden instead: orders, vouchers
and reports refer to it).

Every change goes through the Catalog, which drops its cached list at once, so the portal in this
process shows it on the next page load (other processes within the Catalog's `ttl`). Every change
is audited. Forms read input with hotspot.billing.forms, the same parser the setup wizard uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template
from piccolo.query.functions.aggregate import Count

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.web import (
    flash,
    form_currencies_of,
    form_data,
    fragment_or_page,
    hx_redirect,
    page,
    text,
)
from hotspot.billing.catalog import PackageNameTaken, PackageNotFound, PackageView
from hotspot.billing.currencies import format_money
from hotspot.billing.forms import FormErrors, PackageForm, parse_package
from hotspot.http.client import client_ip
from hotspot.payments.tables import Order
from hotspot.portal.format import format_bytes, format_speed
from hotspot.runtime import Hotspot
from hotspot.vouchers.tables import VoucherBatch

__all__ = ["PACKAGES_HANDLERS", "PackageRow", "form_page", "package_record"]

LIST = "/admin/packages"
FMT = {"bytes": format_bytes, "speed": format_speed, "money": format_money}


def form_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    template: str,
    *,
    active: str,
    title: str,
    back: str,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """A create/edit form: the modal's content for htmx, else a page of its own around it (no
    JavaScript, a link opened in a new tab, or a form posted without htmx)."""
    return fragment_or_page(
        request,
        template,
        "admin/catalog_form.html",
        principal=principal,
        active=active,
        title=title,
        status_code=status_code,
        form_template=template,
        back=back,
        **context,
    )


def package_record(package: PackageView) -> dict[str, Any]:
    """A package as the audit log keeps it (prices in minor units per currency)."""
    return {
        "name": package.name,
        "description": package.description,
        "prices": {code: m.amount for code, m in package.prices.items()},
        "seconds": package.seconds,
        "bytes_total": package.bytes_total,
        "down_bps": package.down_bps,
        "up_bps": package.up_bps,
        "devices": package.devices,
        "visible": package.visible,
        "sort_order": package.sort_order,
    }


@dataclass(frozen=True)
class PackageRow:
    """One line of the list: the package, what it sold, and whether it may still be deleted."""

    package: PackageView
    sold: int  # paid orders
    references: int  # orders in any state and voucher batches: any of them forbids deleting
    promos: tuple[str, ...]  # codes limited to this package (among others)


async def _counts(query: Any) -> dict[int, int]:
    """{package id: rows} from a `select(package_id, Count()).group_by(package_id)`."""
    return {int(r["package_id"]): int(r["count"]) for r in await query.run()}


async def _rows(hotspot: Hotspot) -> list[PackageRow]:
    packages = await hotspot.catalog.all()
    by_order = Order.select(Order.package_id, Count()).group_by(Order.package_id)
    paid = await _counts(
        Order.select(Order.package_id, Count()).where(Order.state == "paid").group_by(Order.package_id)
    )
    orders = await _counts(by_order)
    batches = await _counts(
        VoucherBatch.select(VoucherBatch.package_id, Count()).group_by(VoucherBatch.package_id)
    )
    limited: dict[int, list[str]] = {}
    for promo in await hotspot.checkout.pricing.promos.all():
        for package_id in promo.package_ids:
            limited.setdefault(package_id, []).append(promo.code)
    return [
        PackageRow(
            package=p,
            sold=paid.get(p.id, 0),
            references=orders.get(p.id, 0) + batches.get(p.id, 0),
            promos=tuple(limited.get(p.id, ())),
        )
        for p in packages
    ]


def _typed(data: dict[str, Any], currencies: list[str]) -> PackageForm:
    return PackageForm(
        name=text(data, "name"),
        description=text(data, "description"),
        prices={code: text(data, f"price_{code}") for code in currencies},
        duration=text(data, "duration"),
        data=text(data, "data"),
        down=text(data, "down"),
        up=text(data, "up"),
        devices=text(data, "devices"),
        visible=text(data, "visible") == "1",
        sort_order=text(data, "sort_order"),
    )


@get(LIST, include_in_schema=False, cache=False, guards=[requires("packages.read")])
async def packages_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    rows = await _rows(hotspot)
    return page(
        request,
        "admin/packages.html",
        principal=principal,
        active="packages",
        title="Packages",
        rows=rows,
        on_sale=sum(1 for r in rows if r.package.visible),
        can_write=principal.can("packages.write"),
        fmt=FMT,
    )


async def _package(hotspot: Hotspot, package_id: int) -> PackageView:
    try:
        return await hotspot.catalog.get(package_id, visible_only=False)
    except PackageNotFound:
        raise NotFoundException(f"No package #{package_id}.") from None


def _form(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    typed: PackageForm,
    *,
    package: PackageView | None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    currencies = form_currencies_of(hotspot, typed.prices, package.prices if package else ())
    return form_page(
        request,
        principal,
        "admin/_package_form.html",
        active="packages",
        title=f"Edit {package.name}" if package else "New package",
        back=LIST,
        status_code=status_code,
        package=package,
        form=typed,
        errors=errors or {},
        currencies=currencies,
        business_currency=hotspot.settings.business.currency,
    )


@get(f"{LIST}/new", include_in_schema=False, cache=False, guards=[requires("packages.write")])
async def new_package(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    last = max((p.sort_order for p in await hotspot.catalog.all()), default=0)
    return _form(request, hotspot, principal, PackageForm(sort_order=str(last + 1)), package=None)


@get(
    f"{LIST}/{{package_id:int}}/edit",
    include_in_schema=False,
    cache=False,
    guards=[requires("packages.write")],
)
async def edit_package(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    package_id: FromPath[int],
) -> Template:
    package = await _package(hotspot, package_id)
    return _form(request, hotspot, principal, PackageForm.of(package), package=package)


async def _save(
    request: Request[Any, Any, Any], hotspot: Hotspot, principal: Principal, package: PackageView | None
) -> Template | Response[Any]:
    data = await form_data(request)
    typed = _typed(data, form_currencies_of(hotspot, package.prices if package else ()))
    try:
        spec = parse_package(typed)
        async with hotspot.db.transaction():
            if package is None:
                saved = await hotspot.catalog.create(spec)
            else:
                saved = await hotspot.catalog.update(package.id, spec)
            await hotspot.accounts.audit.record(
                principal.actor,
                "package.update" if package else "package.create",
                ("package", saved.id),
                package_record(package) if package else None,
                package_record(saved),
                client_ip(request),
            )
    except FormErrors as exc:
        return _form(request, hotspot, principal, typed, package=package, errors=exc.errors, status_code=400)
    except PackageNameTaken:
        errors = {"name": "Another package has this name: choose another."}
        return _form(request, hotspot, principal, typed, package=package, errors=errors, status_code=400)
    except PackageNotFound:
        errors = {"form": "This package was deleted meanwhile."}
        return _form(request, hotspot, principal, typed, package=package, errors=errors, status_code=409)
    hotspot.catalog.forget()  # a rolled-back write must not leave a list cached from inside it
    state = "on sale" if saved.visible else "saved, hidden from customers"
    flash(request, f"{saved.name}: {state}.")
    if package is not None and package.name != saved.name:
        _warn_rules(request, hotspot, package.name)
    return hx_redirect(request, LIST)


def _warn_rules(request: Request[Any, Any, Any], hotspot: Hotspot, old_name: str) -> None:
    """Bundle discounts name packages (DiscountRuleSettings.packages): say which no longer match."""
    rules = [r.id for r in hotspot.settings.discounts if old_name in r.packages]
    if rules:
        flash(
            request,
            f"The discount {', '.join(rules)} names “{old_name}”: it no longer applies to this package.",
            "warning",
        )


@post(LIST, include_in_schema=False, guards=[requires("packages.write")], status_code=200)
async def create_package(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Response[Any]:
    return await _save(request, hotspot, principal, None)


@post(
    f"{LIST}/{{package_id:int}}",
    include_in_schema=False,
    guards=[requires("packages.write")],
    status_code=200,
)
async def update_package(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    package_id: FromPath[int],
) -> Template | Response[Any]:
    return await _save(request, hotspot, principal, await _package(hotspot, package_id))


@post(f"{LIST}/{{package_id:int}}/visible", include_in_schema=False, guards=[requires("packages.write")])
async def set_visible(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    package_id: FromPath[int],
) -> Redirect | Response[Any]:
    """Hide a package from the portal (orders and vouchers keep working), or offer it again."""
    before = await _package(hotspot, package_id)
    visible = text(await form_data(request), "visible") == "1"
    async with hotspot.db.transaction():
        after = await hotspot.catalog.set_visible(package_id, visible)
        await hotspot.accounts.audit.record(
            principal.actor,
            "package.show" if visible else "package.hide",
            ("package", package_id),
            {"visible": before.visible},
            {"visible": after.visible},
            client_ip(request),
        )
    hotspot.catalog.forget()
    flash(
        request, f"{after.name} is on sale again." if visible else f"{after.name} is hidden from customers."
    )
    return hx_redirect(request, LIST)


@post(f"{LIST}/{{package_id:int}}/move", include_in_schema=False, guards=[requires("packages.write")])
async def move_package(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    package_id: FromPath[int],
) -> Redirect | Response[Any]:
    """One place up or down the portal's list (positions are renumbered 1, 2, 3...)."""
    package = await _package(hotspot, package_id)
    direction = text(await form_data(request), "direction")
    if direction not in ("up", "down"):
        flash(request, "Move a package up or down.", "danger")
        return hx_redirect(request, LIST)
    before = [p.id for p in await hotspot.catalog.all()]
    async with hotspot.db.transaction():
        after = await hotspot.catalog.move(package_id, -1 if direction == "up" else 1)
        order = [p.id for p in after]
        if order != before:
            await hotspot.accounts.audit.record(
                principal.actor,
                "package.move",
                ("package", package_id),
                {"order": before},
                {"order": order},
                client_ip(request),
            )
    hotspot.catalog.forget()
    flash(request, f"{package.name} moved {direction}." if order != before else f"{package.name} stays put.")
    return hx_redirect(request, LIST)


@post(f"{LIST}/{{package_id:int}}/delete", include_in_schema=False, guards=[requires("packages.write")])
async def delete_package(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    package_id: FromPath[int],
) -> Redirect | Response[Any]:
    """Only a package nothing refers to: never ordered, never printed on vouchers, in no promo."""
    package = await _package(hotspot, package_id)
    async with hotspot.db.transaction():
        orders = await Order.count().where(Order.package_id == package_id).run()
        batches = await VoucherBatch.count().where(VoucherBatch.package_id == package_id).run()
        codes = [p.code for p in await hotspot.checkout.pricing.promos.all() if package_id in p.package_ids]
        if orders or batches:
            sold = [f"{orders} order{'s' if orders != 1 else ''}"] if orders else []
            sold += [f"{batches} voucher batch{'es' if batches != 1 else ''}"] if batches else []
            message = f"{package.name} has {' and '.join(sold)}: it cannot be deleted. Hide it instead."
        elif codes:
            message = (
                f"{package.name} is named by promo code {', '.join(codes)}: "
                "take it off that promo first, or hide the package."
            )
        else:
            await hotspot.catalog.delete(package_id)
            await hotspot.accounts.audit.record(
                principal.actor,
                "package.delete",
                ("package", package_id),
                package_record(package),
                None,
                client_ip(request),
            )
            message = ""
    hotspot.catalog.forget()
    if message:
        flash(request, message, "danger")
    else:
        flash(request, f"{package.name} is deleted.")
        _warn_rules(request, hotspot, package.name)
    return hx_redirect(request, LIST)


PACKAGES_HANDLERS = [
    packages_page,
    new_package,
    edit_package,
    create_package,
    update_package,
    set_visible,
    move_package,
    delete_package,
]
