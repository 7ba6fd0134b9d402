""" "Already paid on another phone or laptop?": move a paid session to this device.

Three plain pages (no JavaScript needed): the number that paid, then the code sent to it, then
the portal's own status panel on this device. The work is `hotspot.customers.Customers`; here
only the forms, the browser's session (which code it asked for) and the router's redirect,
which arrives as the query string of GET /portal/move (the landing page's form carries it) and
goes on with the forms as hidden inputs until the first post keeps it in the session.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Response, Template

from hotspot.customers import CODE_DIGITS, MoveError, MoveRequest
from hotspot.http.client import client_ip
from hotspot.portal.redirect import RouterRedirect, has_redirect_params, parse_redirect
from hotspot.portal.session import PortalSession
from hotspot.portal.views import NO_STORE, request_id_of, router_inputs
from hotspot.runtime import Hotspot

__all__ = ["MOVE_HANDLERS"]

TEMPLATE = "portal/move.html"


def _enabled(hotspot: Hotspot) -> None:
    if not hotspot.customers.otp_enabled:
        raise NotFoundException("Moving a package between devices is not offered here.")


def _context(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    redirect: RouterRedirect,
    *,
    step: str,
    phone: str = "",
    masked: str = "",
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
) -> dict[str, Any]:
    query = redirect.as_query()
    return {
        "step": step,
        "phone": phone,
        "masked": masked,
        "errors": errors or {},
        "form_error": form_error,
        "known": bool(redirect.mac and redirect.ip),
        "digits": CODE_DIGITS,
        "minutes": hotspot.customers.settings.otp_ttl_minutes,
        "router_inputs": router_inputs(redirect),
        "back_href": "/portal?" + urlencode({**query, "shop": "1"}),
        "request_id": request_id_of(request),
    }


def _request(request: Request[Any, Any, Any], redirect: RouterRedirect) -> MoveRequest:
    return MoveRequest(
        mac=redirect.mac,
        ip=redirect.ip,
        source_ip=client_ip(request),
        router=redirect.router_hint,
        link_login_only=redirect.link_login_only,
        link_orig=redirect.link_orig,
    )


def _refused(exc: MoveError) -> tuple[dict[str, str], str | None, dict[str, str]]:
    """(field errors, form error, headers) for a refusal."""
    headers = {**NO_STORE, **exc.headers()}
    if exc.field:
        return {exc.field: exc.message}, None, headers
    return {}, exc.message, headers


@get("/portal/move", include_in_schema=False, cache=False)
async def move_start(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Template:
    """Ask for the number that paid."""
    _enabled(hotspot)
    session = PortalSession(request)
    query = {key: str(value) for key, value in request.query_params.items()}
    redirect = parse_redirect(query) if has_redirect_params(query) else session.redirect
    context = _context(request, hotspot, redirect, step="phone", phone=(session.move or {}).get("phone", ""))
    return Template(TEMPLATE, context=context, headers=NO_STORE)


@post("/portal/move", include_in_schema=False, status_code=200)
async def move_send(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Response[Any]:
    """Send a code to the number that paid; then ask for it."""
    _enabled(hotspot)
    session = PortalSession(request)
    posted = {key: str(value) for key, value in (await request.form()).items()}
    if has_redirect_params(posted):
        session.set_redirect(parse_redirect(posted))
    redirect = session.redirect
    phone = posted.get("phone", "").strip()[:32]
    try:
        sent = await hotspot.customers.send_move_code(phone, _request(request, redirect))
    except MoveError as exc:
        errors, form_error, headers = _refused(exc)
        session.save()
        context = _context(
            request, hotspot, redirect, step="phone", phone=phone, errors=errors, form_error=form_error
        )
        return Template(TEMPLATE, context=context, status_code=422, headers=headers)
    session.set_move(sent.challenge, phone, sent.phone)
    session.save()
    context = _context(request, hotspot, redirect, step="code", phone=phone, masked=sent.phone)
    return Template(TEMPLATE, context=context, headers=NO_STORE)


@post("/portal/move/confirm", include_in_schema=False, status_code=200)
async def move_confirm(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Response[Any]:
    """Check the code and move the package here; then the portal shows the session."""
    _enabled(hotspot)
    session = PortalSession(request)
    posted = await request.form()
    redirect = session.redirect
    pending = session.move
    if pending is None:
        context = _context(
            request,
            hotspot,
            redirect,
            step="phone",
            form_error="Ask for a code first: enter the number that paid.",
        )
        return Template(TEMPLATE, context=context, status_code=422, headers=NO_STORE)
    code = str(posted.get("code") or "").strip()[:16]
    try:
        order_id = await hotspot.customers.move_here(pending["challenge"], code, _request(request, redirect))
    except MoveError as exc:
        errors, form_error, headers = _refused(exc)
        context = _context(
            request,
            hotspot,
            redirect,
            step="code",
            phone=pending["phone"],
            masked=pending["masked"],
            errors=errors,
            form_error=form_error,
        )
        context["code"] = code
        context["new_code"] = exc.reason in ("expired", "failed", "replaced", "used", "no_code")
        return Template(TEMPLATE, context=context, status_code=422, headers=headers)
    session.clear_move()
    session.own(order_id)
    session.save()
    return Redirect("/portal?status=1", status_code=303)


MOVE_HANDLERS = [move_start, move_send, move_confirm]
