"""The portal as the customer's browser sees it: the page, the buy form, live status, the router login.

Everything here asks `hotspot.checkout` (hotspot.payments.checkout) and renders what it answers;
no table is touched. HTMX posts get fragments, plain form posts get a redirect (no JavaScript
needed to buy), and the payment is followed live over server-sent events with a polling
fallback (both carry the same JSON: the order's status plus the rendered status panel).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, ServerSentEvent, ServerSentEventMessage, Template
from litestar.template import TemplateEngineProtocol
from markupsafe import Markup, escape

from hotspot.contracts import Money
from hotspot.http.client import client_ip
from hotspot.http.pwa import manifest_response, service_worker_response
from hotspot.http.security import CSP
from hotspot.payments.checkout import (
    BuyRequest,
    Checkout,
    CheckoutError,
    DeviceLogin,
    OrderStatus,
    PackageOffer,
    order_channel,
)
from hotspot.payments.phone import InvalidPhone, normalize_phone
from hotspot.portal.chap import login_fields
from hotspot.portal.format import (
    countdown,
    failure,
    format_bytes,
    format_devices,
    format_duration,
    format_money,
    format_speed,
)
from hotspot.portal.redirect import PARAMS, RouterRedirect, has_redirect_params, parse_redirect
from hotspot.portal.session import PortalSession
from hotspot.runtime import Hotspot

__all__ = [
    "LANDING",
    "LANDING_DECLINES",
    "NO_STORE",
    "PAGE_HANDLERS",
    "SKIP_COMPRESSION",
    "PortalOptions",
    "chosen_currency",
    "form_values",
    "is_htmx",
    "order_kind",
    "package_view",
    "page_context",
    "page_context_for",
    "portal_options",
    "request_id_of",
    "router_inputs",
    "voucher_form",
]

log = logging.getLogger("hotspot.portal")

SKIP_COMPRESSION = "skip_compression"  # route opt: the compression middleware leaves it alone
KEEPALIVE_SECONDS = 15.0
STREAM_MAX_SECONDS = 15 * 60.0  # EventSource reconnects by itself after this
AUTO_CONNECTS = 2  # automatic trips to the router's login page per order, then a button
TERMINAL = frozenset({"online", "failed", "ended"})
IN_FLIGHT = frozenset({"waiting", "activating"})
_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NO_STORE = {"Cache-Control": "no-store"}
LANDING = {"home_href": ""}  # GET /portal's extra context: the brand link reloads the page as it is
# Query parameters that change what GET /portal shows beyond the router's redirect: a page with
# them is rendered by the handler, not served from the landing rendition.
LANDING_DECLINES = ("voucher", "currency")


# --- helpers ----------------------------------------------------------------------------------


def checkout_of(hotspot: Hotspot) -> Checkout:
    return hotspot.checkout


def request_id_of(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _query(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in request.query_params.items()}


def _checked_id(order_id: str) -> str:
    if not _ORDER_ID.match(order_id):
        raise NotFoundException("There is no such order.")
    return order_id


def package_view(offer: PackageOffer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "name": offer.name,
        "description": offer.description,
        "price": format_money(offer.price),
        "duration": format_duration(offer.seconds),
        "data": format_bytes(offer.bytes_total) if offer.bytes_total else None,
        "speed": format_speed(offer.down_bps) if offer.down_bps else None,
        "devices": format_devices(offer.devices),
    }


def order_kind(order_id: str) -> str:
    """ "voucher" for a voucher's order (hotspot.vouchers gives them ids starting with "v"),
    "order" for a purchase ("o"): the panel's words differ (nothing was paid for a voucher)."""
    return "voucher" if order_id.startswith("v") else "order"


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def status_view(
    status: OrderStatus, *, owner: bool, redirect: RouterRedirect, connects: int = 0
) -> dict[str, Any]:
    """The status panel's context: the order in words, and the links this browser may follow.

    `connects` is how often this browser was already sent to the router's login page for the
    order: the script goes there by itself only the first time (no loop if the router refuses).
    """
    remaining_bytes = status.remaining_bytes
    data_pct = None
    if status.bytes_total and remaining_bytes is not None:
        data_pct = max(0, min(100, round(100 * remaining_bytes / status.bytes_total)))
    continue_url = (status.login.dst if status.login and status.login.dst else None) or redirect.link_orig
    needs_login = status.state == "online" and status.login is not None
    connect_url = f"/portal/orders/{status.order_id}/connect" if needs_login and owner else None
    return {
        "order_id": status.order_id,
        "kind": order_kind(status.order_id),
        "state": status.state,
        "reason": status.reason,
        "retry": status.retry,
        "failure": failure(status.reason) if status.state == "failed" else None,
        "package": status.package,
        "amount": format_money(status.amount),
        "phone": status.phone,
        "remaining_seconds": status.remaining_seconds,
        "countdown": countdown(status.remaining_seconds),
        "time_total": format_duration(status.seconds_total) if status.seconds_total else None,
        "data_left": format_bytes(remaining_bytes)
        if status.bytes_total and remaining_bytes is not None
        else None,
        "data_total": format_bytes(status.bytes_total) if status.bytes_total else None,
        "data_pct": data_pct,
        "needs_login": needs_login,
        "connect_url": connect_url,
        "auto_connect": bool(connect_url) and connects == 0 and not redirect.error,
        "continue_url": continue_url,
        "continue_host": _host(continue_url),
        "owner": owner,
        "updated_at": status.updated_at,
    }


def client_payload(
    status: OrderStatus, view: Mapping[str, Any], html: str = "", banner: str = ""
) -> dict[str, Any]:
    """What the portal's script receives (SSE and polling): the status without credentials, the
    panel and the banner to show, and where to log in when this browser may."""
    data = status.as_dict()
    data.pop("login", None)
    data["connect_url"] = view["connect_url"]
    data["html"] = html
    data["banner"] = banner
    return data


def _render(request: Request[Any, Any, Any], template: str, context: Mapping[str, Any]) -> str:
    engine: TemplateEngineProtocol[Any, Any] = request.app.template_engine  # type: ignore[assignment]
    return str(engine.get_template(template).render(**context))


def render_status(request: Request[Any, Any, Any], view: Mapping[str, Any], **extra: Any) -> str:
    return _render(request, "portal/_status.html", {"s": view, **extra})


def status_json(
    request: Request[Any, Any, Any], status: OrderStatus, session: PortalSession
) -> dict[str, Any]:
    view = _view(status, session)
    banner = _render(request, "portal/_banner.html", {"s": view})
    return client_payload(status, view, render_status(request, view), banner)


def _status_from_message(raw: bytes | str) -> OrderStatus | None:
    """An OrderStatus back from the JSON published on the order's channel (None if unreadable)."""
    try:
        data = json.loads(raw)
        amount = data["amount"]
        login = data.get("login")
        return OrderStatus(
            order_id=str(data["order_id"]),
            payment_id=data.get("payment_id"),
            state=data["state"],
            reason=str(data.get("reason") or ""),
            package=str(data.get("package") or ""),
            amount=Money(int(amount["amount"]), str(amount["currency"])),
            phone=data.get("phone"),
            seconds_total=data.get("seconds_total"),
            bytes_total=data.get("bytes_total"),
            remaining_seconds=data.get("remaining_seconds"),
            remaining_bytes=data.get("remaining_bytes"),
            expires_at=data.get("expires_at"),
            login=DeviceLogin(**login) if isinstance(login, dict) else None,
            updated_at=float(data.get("updated_at") or 0.0),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _view(status: OrderStatus, session: PortalSession) -> dict[str, Any]:
    return status_view(
        status,
        owner=session.owns(status.order_id),
        redirect=session.redirect,
        connects=session.connects(status.order_id),
    )


async def _status_or_404(checkout: Checkout, order_id: str) -> OrderStatus:
    try:
        return await checkout.status(order_id)
    except CheckoutError as exc:
        if exc.status_code == 404:
            raise NotFoundException("There is no such order.") from exc
        raise


async def _packages(checkout: Checkout, currency: str | None = None) -> list[dict[str, Any]]:
    return [package_view(p) for p in await checkout.packages(currency)]


@dataclass(frozen=True)
class PortalOptions:
    """What the page offers besides packages: the currency picker and the move-here link."""

    currency: str  # the business currency: prices are in it unless the customer picks another
    currencies: tuple[str, ...]  # on offer (a picker when more than one)
    move: bool  # "Already paid on another phone or laptop?" (hotspot.customers)


async def portal_options(hotspot: Hotspot) -> PortalOptions:
    checkout = hotspot.checkout
    return PortalOptions(
        currency=checkout.currency,
        currencies=tuple(await checkout.currencies()),
        move=hotspot.customers.otp_enabled,
    )


def chosen_currency(options: PortalOptions, wanted: str | None) -> str:
    """The customer's pick when it is on offer, else the business currency."""
    code = (wanted or "").strip().upper()
    return code if code in options.currencies else options.currency


async def _greeting_status(checkout: Checkout, session: PortalSession, mac: str | None) -> OrderStatus | None:
    """What a returning browser/device opens onto: its payment in flight or its live access
    (by MAC, as the router reported it), else this browser's own latest order if still relevant."""
    if mac:
        status = await checkout.for_device(mac)
        if status is not None:
            session.see(status.order_id)
            return status
    for order_id in reversed(session.owned[-3:]):
        try:
            status = await checkout.status(order_id)
        except CheckoutError:
            continue
        # A failure is shown too (as a banner; the panel opens on request): it may be retried.
        return status if status.state != "ended" else None
    return None


def form_values(values: Mapping[str, Any] | None = None) -> dict[str, str]:
    values = values or {}
    return {
        "package_id": str(values.get("package_id") or "").strip()[:12],
        "phone": str(values.get("phone") or "").strip()[:32],
        "promo": str(values.get("promo") or "").strip()[:40],
        "currency": str(values.get("currency") or "").strip().upper()[:3],
    }


def voucher_form(values: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The voucher form as typed (kept on a refusal); `pin_shown`: the PIN field is on the page."""
    values = values or {}
    pin = str(values.get("pin") or "").strip()[:16]
    return {
        "code": str(values.get("code") or values.get("voucher") or "").strip()[:40],
        "pin": pin,
        "pin_shown": "1" if pin or values.get("pin_shown") else "",
    }


async def page_context_for(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    session: PortalSession,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    form_error: str | None = None,
    status: OrderStatus | None = None,
    show: bool | None = None,
    voucher: Mapping[str, str] | None = None,
    voucher_errors: Mapping[str, str] | None = None,
    voucher_error: str | None = None,
    voucher_first: bool = False,
    quote: Mapping[str, Any] | None = None,
    redirect: RouterRedirect | None = None,
) -> dict[str, Any]:
    """`redirect`: the router's values when they came with the form (default: the session's)."""
    options = await portal_options(hotspot)
    currency = chosen_currency(options, (form or {}).get("currency"))
    return page_context(
        await _packages(hotspot.checkout, currency),
        redirect or session.redirect,
        options=options,
        currency=currency,
        view=_view(status, session) if status else None,
        form=form,
        errors=errors,
        form_error=form_error,
        show=show,
        request_id=request_id_of(request),
        voucher=voucher,
        voucher_errors=voucher_errors,
        voucher_error=voucher_error,
        voucher_first=voucher_first,
        quote=quote,
    )


def page_context(
    packages: list[dict[str, Any]],
    redirect: RouterRedirect,
    *,
    options: PortalOptions,
    currency: str | None = None,
    view: Mapping[str, Any] | None = None,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    form_error: str | None = None,
    show: bool | None = None,
    request_id: str,
    voucher: Mapping[str, str] | None = None,
    voucher_errors: Mapping[str, str] | None = None,
    voucher_error: str | None = None,
    voucher_first: bool = False,
    quote: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The portal page's context (also what the landing rendition is drawn from).

    `show`: open the status panel (True), keep it closed (False), or decide (None: open unless
    the news is an old failure, which only gets the banner). `voucher_first`: the voucher card
    leads (a scanned QR code, a refused code), else the packages do."""
    form = dict(form or form_values())
    if not form["package_id"] and len(packages) == 1:
        form["package_id"] = str(packages[0]["id"])
    form["currency"] = currency or options.currency
    selected = next((p for p in packages if str(p["id"]) == form["package_id"]), None)
    state = view["state"] if view else None
    return {
        "packages": packages,
        "form": form,
        "errors": dict(errors or {}),
        "form_error": form_error,
        "selected": selected,
        "currencies": options.currencies if len(options.currencies) > 1 else (),
        "move": options.move,
        "quote": quote,
        "voucher": dict(voucher or voucher_form()),
        "voucher_errors": dict(voucher_errors or {}),
        "voucher_error": voucher_error,
        "voucher_first": voucher_first,
        "redirect": redirect,
        "s": view,
        "modal_open": state is not None and (show if show is not None else state != "failed"),
        "online": state == "online",
        "request_id": request_id,
        "router_inputs": router_inputs(redirect),
    }


def router_inputs(redirect: RouterRedirect) -> Markup:
    """The router's redirect as hidden inputs of the buy form, under the router's own names.

    It goes with the purchase, so a new phone's landing needs no session (hotspot.portal.landing);
    the buy handler takes it from the form (checked again, as every value is the visitor's to
    forge, exactly as the query string was), else from the session."""
    parts: list[str] = []
    for prefix, attribute in _HIDDEN:
        value = getattr(redirect, attribute)
        if value is not None:
            parts += (prefix, escape(value), '">')
    return Markup("".join(parts))  # noqa: S704 (fixed markup around escaped values)


_HIDDEN = tuple(
    (f'<input type="hidden" name="{name}" value="', attribute) for name, attribute in PARAMS.items()
)


def _connect_csp(action: str) -> str:
    """The page that posts the login form to the router must be allowed to: the router is
    another origin (http://10.5.50.1), and it redirects on to wherever the customer was going."""
    origin = urlsplit(action)
    return CSP.replace(
        "form-action 'self'", f"form-action 'self' {origin.scheme}://{origin.netloc} http: https:"
    )


# --- pages --------------------------------------------------------------------------------------


@get("/portal", include_in_schema=False, cache=False, name="portal")
async def portal_page(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Template:
    """The captive portal: packages and the pay form, or the device's payment/session when it has one."""
    checkout = checkout_of(hotspot)
    session = PortalSession(request)
    query = _query(request)
    if has_redirect_params(query):
        session.set_redirect(parse_redirect(query))
    status = await _greeting_status(checkout, session, session.redirect.mac)
    show = False if query.get("shop") == "1" else True if query.get("status") == "1" else None
    # A scanned voucher QR code (/portal?voucher=CODE): the voucher card leads, filled in.
    scanned = voucher_form({"code": query.get("voucher", "")}) if query.get("voucher") else None
    context = await page_context_for(
        request,
        hotspot,
        session,
        form=form_values({"currency": query.get("currency", "")}),
        status=status,
        show=False if scanned and show is None else show,
        voucher=scanned,
        voucher_first=scanned is not None,
    )
    session.save()
    return Template("portal/index.html", context={**context, **LANDING}, headers=NO_STORE)


@post("/portal/orders", include_in_schema=False, status_code=200)
async def portal_buy(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Response[Any]:
    """The pay form (HTMX, or a plain form post without JavaScript)."""
    checkout = checkout_of(hotspot)
    session = PortalSession(request)
    posted = {key: str(value) for key, value in (await request.form()).items()}
    if has_redirect_params(posted):  # the router's redirect, carried by the page's hidden inputs
        session.set_redirect(parse_redirect(posted))
    form = form_values(posted)
    errors: dict[str, str] = {}
    package_id = int(form["package_id"]) if re.fullmatch(r"[0-9]{1,9}", form["package_id"]) else None
    if package_id is None:
        errors["package_id"] = "Choose a package first."
    phone = ""
    if not form["phone"]:
        errors["phone"] = "Enter the M-Pesa number that will pay, e.g. 0712 345 678"
    else:
        try:
            phone = normalize_phone(form["phone"])
        except InvalidPhone as exc:
            errors["phone"] = str(exc)
    form_error = None
    status = None
    if not errors and package_id is not None:
        redirect = session.redirect
        try:
            status = await checkout.buy(
                BuyRequest(
                    package_id=package_id,
                    phone=phone,
                    mac=redirect.mac,
                    ip=redirect.ip,
                    router=redirect.router_hint,
                    promo=form["promo"] or None,
                    currency=chosen_currency(await portal_options(hotspot), form["currency"]),
                    link_login_only=redirect.link_login_only,
                    link_orig=redirect.link_orig,
                    client_ip=client_ip(request),
                )
            )
        except CheckoutError as exc:
            if exc.field in ("package_id", "phone", "promo"):
                errors[exc.field] = exc.message
            else:
                form_error = exc.message
    if status is None:
        context = await page_context_for(
            request, hotspot, session, form=form, errors=errors, form_error=form_error, show=False
        )
        session.save()
        if is_htmx(request):
            return Template("portal/_buy_form.html", context=context, status_code=422, headers=NO_STORE)
        return Template("portal/index.html", context=context, status_code=422, headers=NO_STORE)

    session.own(status.order_id)
    session.save()
    if not is_htmx(request):
        return Redirect("/portal?status=1", status_code=303)
    context = await page_context_for(request, hotspot, session, form=form, status=status)
    return Template(
        "portal/_buy_response.html",
        context=context,
        headers={**NO_STORE, "HX-Retarget": "#pay-status", "HX-Reswap": "innerHTML"},
    )


@post("/portal/orders/{order_id:str}/retry", include_in_schema=False, status_code=200)
async def portal_retry(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], order_id: FromPath[str]
) -> Response[Any]:
    """Pay a failed order again: "Try again" (same phone) or "Use another number"."""
    checkout = checkout_of(hotspot)
    session = PortalSession(request)
    order_id = _checked_id(order_id)
    if not session.may_view(order_id):
        raise NotFoundException("There is no such order.")
    form = await request.form()
    raw_phone = str(form.get("phone") or "").strip()[:32]
    error: str | None = None
    phone: str | None = None
    if raw_phone:
        try:
            phone = normalize_phone(raw_phone)
        except InvalidPhone as exc:
            error = str(exc)
    elif form.get("other"):
        error = "Enter the M-Pesa number that will pay, e.g. 0712 345 678"
    status: OrderStatus | None = None
    if error is None:
        try:
            status = await checkout.retry(order_id, phone)
        except CheckoutError as exc:
            if exc.status_code == 404:
                raise NotFoundException("There is no such order.") from exc
            error = exc.message
    if status is not None:
        session.save()
        if not is_htmx(request):
            return Redirect("/portal?status=1", status_code=303)
        return Template(
            "portal/_status_response.html", context={"s": _view(status, session)}, headers=NO_STORE
        )
    current = await _status_or_404(checkout, order_id)
    view = _view(current, session)
    extra = {"retry_error": error, "retry_phone": raw_phone}
    if is_htmx(request):
        return Template(
            "portal/_status_response.html", context={"s": view, **extra}, status_code=422, headers=NO_STORE
        )
    context = await page_context_for(request, hotspot, session, status=current, show=True)
    return Template("portal/index.html", context={**context, **extra}, status_code=422, headers=NO_STORE)


@get("/portal/orders/{order_id:str}/status", include_in_schema=False, cache=False)
async def portal_status(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], order_id: FromPath[str]
) -> Response[dict[str, Any]]:
    """Polling fallback for the live panel (proxies that buffer event streams)."""
    session = PortalSession(request)
    order_id = _checked_id(order_id)
    if not session.may_view(order_id):
        raise NotFoundException("There is no such order.")
    status = await _status_or_404(checkout_of(hotspot), order_id)
    data = status_json(request, status, session)
    return Response(data, headers=NO_STORE)


@get(
    "/portal/orders/{order_id:str}/events",
    include_in_schema=False,
    cache=False,
    opt={SKIP_COMPRESSION: True},
)
async def portal_events(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], order_id: FromPath[str]
) -> ServerSentEvent:
    """The order's status live: now, then on every change, until it is online, failed or ended."""
    session = PortalSession(request)
    order_id = _checked_id(order_id)
    if not session.may_view(order_id):
        raise NotFoundException("There is no such order.")
    checkout = checkout_of(hotspot)
    await _status_or_404(checkout, order_id)

    def message(status: OrderStatus) -> ServerSentEventMessage:
        data = status_json(request, status, session)
        return ServerSentEventMessage(
            data=json.dumps(data), event="status", id=f"{status.updated_at:.3f}", retry=3000
        )

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        async with hotspot.channels.start_subscription([order_channel(order_id)]) as subscriber:
            async with subscriber.run_in_background(queue.put):
                # Subscribed first, read second: a change in between is not lost.
                status = await checkout.status(order_id)
                last = status.updated_at
                yield message(status)
                deadline = time.monotonic() + STREAM_MAX_SECONDS
                while status.state not in TERMINAL and time.monotonic() < deadline:
                    try:
                        raw = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ServerSentEventMessage(comment="keep-alive")
                        continue
                    update = _status_from_message(raw)
                    if update is None or update.order_id != order_id:
                        update = await checkout.status(order_id)
                    if update.updated_at < last:
                        continue  # an older change arriving late
                    status, last = update, update.updated_at
                    yield message(status)

    return ServerSentEvent(stream(), headers={**NO_STORE, "X-Accel-Buffering": "no"})


@get("/portal/orders/{order_id:str}/connect", include_in_schema=False, cache=False)
async def portal_connect(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], order_id: FromPath[str]
) -> Response[Any]:
    """Send the browser to the router's login page with the grant's credentials.

    Only the browser that created the order gets here: knowing a MAC or an order id is not
    enough. The form is posted by portal.js (a button when scripts are off, or after two tries).
    """
    session = PortalSession(request)
    order_id = _checked_id(order_id)
    if not session.owns(order_id):
        raise NotFoundException("There is no such order.")
    status = await _status_or_404(checkout_of(hotspot), order_id)
    login = status.login
    if status.state != "online" or login is None:
        return Redirect("/portal?status=1", status_code=303)
    redirect = session.redirect
    dst = login.dst or redirect.link_orig
    chap_id, chap_challenge = redirect.chap_id, redirect.chap_challenge
    try:
        fields = login_fields(
            login.username, login.password, chap_id=chap_id, chap_challenge=chap_challenge, dst=dst
        )
    except ValueError:
        log.warning("CHAP values for order %s unusable; sending the plain password", order_id)
        fields = login_fields(login.username, login.password, chap_id=None, chap_challenge=None, dst=dst)
    attempt = session.connect_attempt(order_id)
    session.save()
    return Template(
        "portal/connect.html",
        context={
            "action": login.link_login_only,
            "fields": fields,
            "auto": attempt <= AUTO_CONNECTS and not redirect.error,
            "error": redirect.error,
            "package": status.package,
            "request_id": request_id_of(request),
        },
        headers={**NO_STORE, "Content-Security-Policy": _connect_csp(login.link_login_only)},
    )


# --- PWA ----------------------------------------------------------------------------------------


@get("/portal/sw.js", include_in_schema=False, cache=False)
async def portal_service_worker(hotspot: NamedDependency[Hotspot]) -> Response[bytes]:
    """Served from /portal/ (not /static/) so it may control the portal."""
    return service_worker_response("portal/sw.js", scope="/portal", business=hotspot.settings.business.name)


@get("/portal/manifest.webmanifest", include_in_schema=False, cache=False)
async def portal_manifest(hotspot: NamedDependency[Hotspot]) -> Response[dict[str, Any]]:
    name = hotspot.settings.business.name
    return manifest_response(
        name=f"{name} WiFi",
        short_name=name,
        description=f"Buy WiFi at {name} with M-Pesa.",
        scope="/portal",
        start_url="/portal?source=pwa",
        orientation="portrait",
    )


PAGE_HANDLERS = [
    portal_page,
    portal_buy,
    portal_retry,
    portal_status,
    portal_events,
    portal_connect,
    portal_service_worker,
    portal_manifest,
]
