""" "Have a voucher?": the portal's voucher form, redeemed by `Vouchers.redeem`.

The form posts the code (and the PIN, once the voucher asked for it) with the router's redirect
as hidden inputs, like the buy form. HTMX gets fragments, a plain post gets a redirect or the
whole page (no JavaScript needed). A redeemed voucher answers the portal's `OrderStatus`, so
what follows is exactly a purchase's: the live panel, the countdown, the router login hand-off.

How the page knows a PIN is needed: it does not ask before the code is known. The service
refuses a PIN voucher without one (`pin_required`, not counted as a guess), and the form comes
back with the PIN field open and focused, the code kept.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Response, Template

from hotspot.http.client import client_ip
from hotspot.portal.redirect import has_redirect_params, parse_redirect
from hotspot.portal.session import PortalSession
from hotspot.portal.views import NO_STORE, is_htmx, page_context_for, voucher_form
from hotspot.runtime import Hotspot
from hotspot.vouchers import RedeemRequest, VoucherError

__all__ = ["NO_DEVICE", "portal_redeem"]

NO_DEVICE = (
    "This page doesn't know which device you're on. Join the WiFi, wait for its login page to "
    "open (or open any website), then enter the code there."
)


@post("/portal/vouchers", include_in_schema=False, status_code=200)
async def portal_redeem(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Response[Any]:
    """Redeem a voucher typed or scanned on this device."""
    session = PortalSession(request)
    posted = {key: str(value) for key, value in (await request.form()).items()}
    if has_redirect_params(posted):  # the router's redirect, carried by the page's hidden inputs
        session.set_redirect(parse_redirect(posted))
    htmx = is_htmx(request)
    voucher = voucher_form(posted)
    errors: dict[str, str] = {}
    form_error: str | None = None
    headers = dict(NO_STORE)
    status = None
    if not voucher["code"]:
        errors["code"] = "Enter the code printed on your voucher."
    else:
        redirect = session.redirect
        try:
            status = await hotspot.vouchers.redeem(
                RedeemRequest(
                    code=voucher["code"],
                    pin=voucher["pin"] or None,
                    mac=redirect.mac,
                    ip=redirect.ip,
                    router=redirect.router_hint,
                    link_login_only=redirect.link_login_only,
                    link_orig=redirect.link_orig,
                    source_ip=client_ip(request),
                )
            )
        except VoucherError as exc:
            if exc.reason == "pin_required":
                voucher["pin_shown"] = "1"
            if exc.field in ("code", "pin"):
                errors[exc.field] = exc.message
            elif exc.field in ("mac", "ip"):
                form_error = NO_DEVICE
            else:
                form_error = exc.message
            headers.update(exc.headers())
    if status is None:
        # A refusal is an answer for the form, shown in it (422), even a lockout (429 for the API).
        context = await page_context_for(
            request,
            hotspot,
            session,
            voucher=voucher,
            voucher_errors=errors,
            voucher_error=form_error,
            voucher_first=posted.get("lead") == "1" or not htmx,
            show=False,
        )
        session.save()
        template = "portal/_voucher_form.html" if htmx else "portal/index.html"
        return Template(template, context=context, status_code=422, headers=headers)
    session.own(status.order_id)
    session.save()
    if not htmx:
        return Redirect("/portal?status=1", status_code=303)
    context = await page_context_for(request, hotspot, session, status=status)
    return Template(
        "portal/_redeem_response.html",
        context=context,
        headers={**NO_STORE, "HX-Retarget": "#pay-status", "HX-Reswap": "innerHTML"},
    )
