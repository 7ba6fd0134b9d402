"""The portal as the customer's browser sees it: the page, the buy form, live status, the router login.

Everything here asks `hotspot.checkout` (hotspot.payments.checkout) and renders what it answers;
no table is touched. HTMX posts get fragments, plain form posts get a redirect (no JavaScript
needed to buy), and the payment is followed live over server-sent events with a polling
fallback (both carry the same JSON: the order's status plus the rendered status panel).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, ServerSentEvent, ServerSentEventMessage, Template
from litestar.template import TemplateEngineProtocol

from hotspot import __version__
from hotspot.contracts import Money
from hotspot.http.assets import static_dir
from hotspot.http.client import client_ip
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
from hotspot.portal.redirect import RouterRedirect, has_redirect_params, parse_redirect
from hotspot.portal.session import PortalSession
from hotspot.runtime import Hotspot

__all__ = ["PORTAL_HANDLERS", "SKIP_COMPRESSION"]

log = logging.getLogger("hotspot.portal")

SKIP_COMPRESSION = "skip_compression"  # route opt: the compression middleware leaves it alone
KEEPALIVE_SECONDS = 15.0
STREAM_MAX_SECONDS = 15 * 60.0  # EventSource reconnects by itself after this
AUTO_CONNECTS = 2  # automatic trips to the router's login page per order, then a button
TERMINAL = frozenset({"online", "failed", "ended"})
IN_FLIGHT = frozenset({"waiting", "activating"})
_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NO_STORE = {"Cache-Control": "no-store"}


# --- helpers ----------------------------------------------------------------------------------


def checkout_of(hotspot: Hotspot) -> Checkout:
    return hotspot.checkout


def _request_id(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
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


async def _packages(checkout: Checkout) -> list[dict[str, Any]]:
    return [package_view(p) for p in await checkout.packages()]


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


def _form(values: Mapping[str, Any] | None = None) -> dict[str, str]:
    values = values or {}
    return {
        "package_id": str(values.get("package_id") or "").strip()[:12],
        "phone": str(values.get("phone") or "").strip()[:32],
        "promo": str(values.get("promo") or "").strip()[:40],
    }


async def _page_context(
    request: Request[Any, Any, Any],
    checkout: Checkout,
    session: PortalSession,
    *,
    form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    form_error: str | None = None,
    status: OrderStatus | None = None,
    show: bool | None = None,
) -> dict[str, Any]:
    """`show`: open the status panel (True), keep it closed (False), or decide (None: open unless
    the news is an old failure, which only gets the banner)."""
    redirect = session.redirect
    packages = await _packages(checkout)
    form = dict(form or _form())
    if not form["package_id"] and len(packages) == 1:
        form["package_id"] = str(packages[0]["id"])
    view = _view(status, session) if status else None
    selected = next((p for p in packages if str(p["id"]) == form["package_id"]), None)
    state = view["state"] if view else None
    return {
        "packages": packages,
        "form": form,
        "errors": dict(errors or {}),
        "form_error": form_error,
        "selected": selected,
        "redirect": redirect,
        "s": view,
        "modal_open": state is not None and (show if show is not None else state != "failed"),
        "online": state == "online",
        "request_id": _request_id(request),
    }


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
    context = await _page_context(request, checkout, session, status=status, show=show)
    session.save()
    return Template("portal/index.html", context=context, headers=NO_STORE)


@post("/portal/orders", include_in_schema=False, status_code=200)
async def portal_buy(request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]) -> Response[Any]:
    """The pay form (HTMX, or a plain form post without JavaScript)."""
    checkout = checkout_of(hotspot)
    session = PortalSession(request)
    form = _form(await request.form())
    errors: dict[str, str] = {}
    package_id = int(form["package_id"]) if form["package_id"].isdigit() else None
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
        context = await _page_context(
            request, checkout, session, form=form, errors=errors, form_error=form_error, show=False
        )
        session.save()
        if _is_htmx(request):
            return Template("portal/_buy_form.html", context=context, status_code=422, headers=NO_STORE)
        return Template("portal/index.html", context=context, status_code=422, headers=NO_STORE)

    session.own(status.order_id)
    session.save()
    if not _is_htmx(request):
        return Redirect("/portal?status=1", status_code=303)
    context = await _page_context(request, checkout, session, form=form, status=status)
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
        if not _is_htmx(request):
            return Redirect("/portal?status=1", status_code=303)
        return Template(
            "portal/_status_response.html", context={"s": _view(status, session)}, headers=NO_STORE
        )
    current = await _status_or_404(checkout, order_id)
    view = _view(current, session)
    extra = {"retry_error": error, "retry_phone": raw_phone}
    if _is_htmx(request):
        return Template(
            "portal/_status_response.html", context={"s": view, **extra}, status_code=422, headers=NO_STORE
        )
    context = await _page_context(request, checkout, session, status=current, show=True)
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
            "request_id": _request_id(request),
        },
        headers={**NO_STORE, "Content-Security-Policy": _connect_csp(login.link_login_only)},
    )


# --- PWA ----------------------------------------------------------------------------------------


@cache
def _service_worker(business: str) -> bytes:
    """The worker names its cache after the version, so an upgrade replaces every cached file;
    its built-in offline page carries the business name (HTML-escaped, in a JS string)."""
    text = (static_dir() / "portal" / "sw.js").read_text(encoding="utf-8")
    name = json.dumps(html.escape(business))[1:-1]
    return text.replace("__HOTSPOT_VERSION__", __version__).replace("__BUSINESS_NAME__", name).encode()


@get("/portal/sw.js", include_in_schema=False, cache=False)
async def portal_service_worker(hotspot: NamedDependency[Hotspot]) -> Response[bytes]:
    """Served from /portal/ (not /static/) so it may control the portal; never cached by HTTP."""
    return Response(
        _service_worker(hotspot.settings.business.name),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/portal"},
    )


@get("/portal/manifest.webmanifest", include_in_schema=False, cache=False)
async def portal_manifest(hotspot: NamedDependency[Hotspot]) -> Response[dict[str, Any]]:
    name = hotspot.settings.business.name
    manifest = {
        "name": f"{name} WiFi",
        "short_name": name[:12],
        "description": f"Buy WiFi at {name} with M-Pesa.",
        "id": "/portal",
        "start_url": "/portal?source=pwa",
        "scope": "/portal",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f3f6f6",
        "theme_color": "#0f766e",
        "icons": [
            {"src": "/static/portal/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
            {"src": "/static/portal/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {
                "src": "/static/portal/icon-maskable-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return Response(
        manifest, media_type="application/manifest+json", headers={"Cache-Control": "public, max-age=3600"}
    )


PORTAL_HANDLERS = [
    portal_page,
    portal_buy,
    portal_retry,
    portal_status,
    portal_events,
    portal_connect,
    portal_service_worker,
    portal_manifest,
]
