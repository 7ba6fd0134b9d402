"""Prices on the portal before paying: the promo preview and the currency picker.

`POST /portal/quote` answers the buy form's price preview (portal.js posts the form, debounced,
when the package, phone or promo changes): `Checkout.quote` priced exactly as the order will be,
rendered as `portal/_quote.html`: what the promo code and automatic discounts (a repeat
customer's, once the phone is known) take off and the total the Pay button shows, or in plain
words why the code does not apply. Wrong codes count against the client like a purchase's
(billing.pricing's PromoGuard), so the preview is no way around guessing limits.

`POST /portal/prices` redraws the buy form in the currency picked (HTMX, or a plain post
without JavaScript), keeping what was typed and the package when it is sold in that currency.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.response import Template

from hotspot.billing.currencies import format_money
from hotspot.billing.pricing import Quote
from hotspot.http.client import client_ip
from hotspot.payments.checkout import CheckoutError
from hotspot.payments.phone import InvalidPhone, normalize_phone
from hotspot.portal.redirect import has_redirect_params, parse_redirect
from hotspot.portal.session import PortalSession
from hotspot.portal.views import (
    NO_STORE,
    chosen_currency,
    form_values,
    is_htmx,
    page_context_for,
    portal_options,
)
from hotspot.runtime import Hotspot

__all__ = ["portal_prices", "portal_quote", "quote_view"]

MIN_PROMO = 3  # promo codes are 3-32 letters and digits (billing.promos): shorter is still being typed


def quote_view(quote: Quote) -> dict[str, Any]:
    """The preview's context: the list price, every amount taken off, and the total."""
    lines = [{"label": d.label, "amount": format_money(d.amount)} for d in quote.discounts]
    if quote.promo is not None:
        lines.append(
            {"label": f"{quote.promo.code}: {quote.promo.label}", "amount": format_money(quote.promo.amount)}
        )
    if quote.rounding.amount:
        lines.append({"label": "Rounded down", "amount": format_money(quote.rounding)})
    return {
        "package": quote.package,
        "list": format_money(quote.base),
        "total": format_money(quote.total),
        "lines": lines,
        "notes": list(quote.notes),
    }


@post("/portal/quote", include_in_schema=False, status_code=200)
async def portal_quote(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Template:
    """The price preview for the buy form as it stands (a fragment: #quote)."""
    form = form_values(await request.form())
    errors: dict[str, str] = {}
    quote: Quote | None = None
    if re.fullmatch(r"[0-9]{1,9}", form["package_id"]):
        currency = chosen_currency(await portal_options(hotspot), form["currency"])
        try:
            phone: str | None = normalize_phone(form["phone"]) if form["phone"] else None
        except InvalidPhone:
            phone = None  # still being typed: priced without it, no error while typing
        promo = form["promo"] if len(form["promo"].replace(" ", "").replace("-", "")) >= MIN_PROMO else None
        checkout = hotspot.checkout
        for code in (promo, None) if promo else (None,):
            try:
                quote = await checkout.quote(
                    int(form["package_id"]), currency, phone=phone, promo=code, client_ip=client_ip(request)
                )
                break
            except CheckoutError as exc:
                if exc.field == "promo":
                    errors["promo"] = exc.message  # the price without it follows
                    continue
                break  # no such package (anymore), not sold in that currency: no preview
    context = {"quote": quote_view(quote) if quote else None, "errors": errors}
    return Template("portal/_quote.html", context=context, headers=NO_STORE)


@post("/portal/prices", include_in_schema=False, status_code=200)
async def portal_prices(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Template:
    """The buy form (or, without JavaScript, the page) with prices in the currency picked."""
    session = PortalSession(request)
    posted = await request.form()
    form = form_values(posted)
    values = {key: str(value) for key, value in posted.items()}
    redirect = parse_redirect(values) if has_redirect_params(values) else None
    context = await page_context_for(request, hotspot, session, form=form, redirect=redirect, show=False)
    if context["selected"] is None:
        context["form"]["package_id"] = ""  # not sold in this currency
    if is_htmx(request):
        return Template("portal/_buy_form.html", context=context, headers=NO_STORE)
    return Template("portal/index.html", context=context, headers=NO_STORE)
