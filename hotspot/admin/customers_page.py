"""The customers pages (/admin/customers): every phone that ordered, searchable by phone or
device; one customer's purchases, sessions and devices, with the owner's actions on them:
block or unblock the phone or one of its devices, bind the phone to devices or unbind it.

The list answers a whole page or, with htmx, only the list (search) or the next keyset rows
(as the sessions page does). Every action goes through hotspot.customers.Blocks, the same code
the portal's gate reads, and is audited; a block form opens in a modal (a page of its own
without JavaScript) and comes back with inline errors, keeping what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.addresses import normalize_mac
from hotspot.admin.customers import CustomerDetail, CustomerList, CustomerQueryError
from hotspot.admin.web import (
    flash,
    form_data,
    fragment_or_page,
    hx_redirect,
    keyset_list,
    page,
    redirect,
    text,
)
from hotspot.billing.currencies import format_money
from hotspot.billing.forms import parse_date
from hotspot.customers.admin_api import MAX_BLOCK_DAYS
from hotspot.customers.blocks import MAX_REASON, BindingView, BlockError, BlockView
from hotspot.customers.tables import BlockKind
from hotspot.errors import FormErrors
from hotspot.http.client import client_ip
from hotspot.payments.phone import InvalidPhone, mask_phone, normalize_phone
from hotspot.portal.format import format_bytes
from hotspot.runtime import Hotspot
from hotspot.vouchers.service import expiry_timestamp

__all__ = ["CUSTOMERS_HANDLERS", "DURATIONS", "parse_block"]

PAGE_SIZE = 50
# How long a block lasts, as the modal offers it; "date" reads the `until` field.
DURATIONS: dict[str, tuple[str, int | None]] = {
    "": ("Until unblocked", None),
    "1h": ("1 hour", 3600),
    "1d": ("1 day", 86400),
    "7d": ("7 days", 7 * 86400),
    "30d": ("30 days", 30 * 86400),
    "date": ("Until a date…", None),
}
MAX_DAYS_AHEAD = MAX_BLOCK_DAYS


def _until(typed: str, now: float, tz: str) -> float:
    """The end of the day typed (business time) as a Unix time; ValueError with the sentence to
    show. The shared reader keeps the year sane: 9999-12-31 plus a day overflows datetime."""
    day = parse_date(typed)
    if day is None:
        raise ValueError("Pick a date (YYYY-MM-DD).")
    ends = expiry_timestamp(day, tz)  # the same day's end as a voucher valid until then
    if ends <= now:
        raise ValueError("Pick today or a later date.")
    if ends > now + MAX_DAYS_AHEAD * 86400:
        raise ValueError("At most ten years ahead (or choose Until unblocked).")
    return ends


def parse_block(form: dict[str, Any], now: float, tz: str) -> tuple[str, float | None]:
    """(reason, expires_at) from the block form; a date means until that day ends (business time)."""
    errors: dict[str, str] = {}
    reason = " ".join(text(form, "reason").split())
    if not reason:
        errors["reason"] = "Say why (the customer never sees it)."
    elif len(reason) > MAX_REASON:
        errors["reason"] = f"At most {MAX_REASON} characters."
    choice = text(form, "duration")
    expires_at: float | None = None
    if choice not in DURATIONS:
        errors["duration"] = "Choose how long the block lasts."
    elif choice == "date":
        try:
            expires_at = _until(text(form, "until"), now, tz)
        except ValueError as exc:
            errors["until"] = str(exc)
    else:
        seconds = DURATIONS[choice][1]
        expires_at = None if seconds is None else now + seconds
    if errors:
        raise FormErrors(errors)
    return reason, expires_at


@dataclass(frozen=True)
class Query:
    q: str | None
    after: str | None

    def link(self, **change: str | None) -> str:
        params: dict[str, str | None] = {"q": self.q}
        params.update(change)
        query = urlencode({k: v for k, v in params.items() if v})
        return "/admin/customers" + (f"?{query}" if query else "")


def _query(request: Request[Any, Any, Any]) -> Query:
    p = request.query_params
    q = (p.get("q") or "").strip()[:64] or None
    after = (p.get("after") or "").strip()[:32] or None
    return Query(q, after)


def _listing(hotspot: Hotspot) -> CustomerList:
    return CustomerList(hotspot.db, hotspot.customers.blocks, clock=lambda: hotspot.customers.clock())


def _money(totals: Any) -> str:
    return ", ".join(format_money(m) for m in totals) or "—"


def _phone(raw: str) -> str:
    try:
        return normalize_phone(raw[:32])
    except InvalidPhone:
        raise NotFoundException("Not a phone number.") from None


def _number(typed: str | None) -> str | None:
    """The whole phone number a search names, if it does (its page can block it before it buys)."""
    try:
        return normalize_phone(typed) if typed else None
    except InvalidPhone:
        return None


def _home(phone: str) -> str:
    return f"/admin/customers/{quote(phone)}"


@get("/admin/customers", include_in_schema=False, cache=False, guards=[requires("customers.read")])
async def customers_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    query = _query(request)
    return await keyset_list(
        request,
        query=query,
        fetch=lambda: _listing(hotspot).page(query.q, query.after, PAGE_SIZE),
        refused=CustomerQueryError,
        templates=("admin/customers.html", "admin/_customers_list.html", "admin/_customer_rows.html"),
        principal=principal,
        active="customers",
        title="Customers",
        number=_number(query.q),
        money=_money,
        tz=hotspot.settings.business.timezone,
    )


async def _detail_page(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    detail: CustomerDetail,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "admin/customer_detail.html",
        principal=principal,
        active="customers",
        title=detail.phone,
        status_code=status_code,
        detail=detail,
        masked=mask_phone(detail.phone),
        money=_money,
        format_money=format_money,
        format_bytes=format_bytes,
        can_write=principal.can("customers.write"),
        can_payments=principal.can("payments.read"),
        form=form or {},
        errors=errors or {},
        home=_home(detail.phone),
        tz=hotspot.settings.business.timezone,
    )


@get(
    "/admin/customers/{phone:str}", include_in_schema=False, cache=False, guards=[requires("customers.read")]
)
async def customer_detail(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    phone: FromPath[str],
) -> Template | Redirect:
    number = _phone(phone)
    if number != phone:
        return redirect(_home(number))
    detail = await _listing(hotspot).detail(number)  # a number that never bought may be blocked too
    return await _detail_page(request, hotspot, principal, detail)


# --- block and unblock ------------------------------------------------------------------------


def _target(phone: str, raw: str) -> tuple[str, str]:
    """(kind, value) of what a form names: the phone itself, or one of its devices by MAC."""
    if not raw or raw == "phone":
        return BlockKind.PHONE, phone
    mac = normalize_mac(raw)
    if mac is None:
        raise NotFoundException("Not a device MAC.")
    return BlockKind.MAC, mac


def _block_form(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    phone: str,
    kind: str,
    value: str,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    context: dict[str, Any] = {
        "phone": phone,
        "kind": kind,
        "value": value,
        "target": "phone" if kind == BlockKind.PHONE else value,
        "form": form or {},
        "errors": errors or {},
        "durations": DURATIONS,
        "max_reason": MAX_REASON,
        "home": _home(phone),
    }
    return fragment_or_page(
        request,
        "admin/_customer_block.html",
        "admin/customer_block.html",
        principal=principal,
        active="customers",
        title=f"Block {value}",
        status_code=status_code,
        **context,
    )


@get(
    "/admin/customers/{phone:str}/block",
    include_in_schema=False,
    cache=False,
    guards=[requires("customers.write")],
)
async def block_form(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    phone: FromPath[str],
) -> Template:
    number = _phone(phone)
    kind, value = _target(number, request.query_params.get("target") or "")
    return _block_form(request, hotspot, principal, number, kind, value)


@post("/admin/customers/{phone:str}/block", include_in_schema=False, guards=[requires("customers.write")])
async def block(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    phone: FromPath[str],
) -> Template | Response[Any]:
    number = _phone(phone)
    form = await form_data(request)
    kind, value = _target(number, text(form, "target"))
    blocks = hotspot.customers.blocks

    async def audit(stored: BlockView) -> None:  # in the block's transaction, before any router
        await hotspot.accounts.audit.record(
            principal.actor,
            "customer.block",
            ("phone" if kind == BlockKind.PHONE else "device", value),
            None,
            {
                "reason": stored.reason,
                "expires_at": stored.expires_at,
                **({"customer": number} if kind == BlockKind.MAC else {}),
            },
            client_ip(request),
        )

    try:
        reason, expires_at = parse_block(form, blocks.clock(), hotspot.settings.business.timezone)
        outcome = await blocks.block(
            kind, value, reason=reason, by=principal.username, expires_at=expires_at, audit=audit
        )
    except FormErrors as exc:
        return _block_form(
            request, hotspot, principal, number, kind, value, form=form, errors=exc.errors, status_code=400
        )
    except BlockError as exc:
        field = exc.field if exc.field in ("reason", "until") else "form"
        if exc.field == "expires":
            field = "until" if text(form, "duration") == "date" else "duration"
        return _block_form(
            request,
            hotspot,
            principal,
            number,
            kind,
            value,
            form=form,
            errors={field: exc.message},
            status_code=exc.status_code,
        )
    what = "This number" if kind == BlockKind.PHONE else f"Device {value}"
    dropped = f", {outcome.disconnected} device{'s' if outcome.disconnected != 1 else ''} disconnected"
    flash(
        request,
        f"{what} is blocked: {outcome.suspended} package{'s' if outcome.suspended != 1 else ''} "
        f"suspended{dropped if outcome.disconnected else ''}.",
    )
    return hx_redirect(request, _home(number))


async def _refused(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    phone: str,
    exc: BlockError,
    form: dict[str, Any],
) -> Template | Response[Any]:
    """A bind, unbind or unblock that cannot be done: the customer's page again, saying why."""
    detail = await _listing(hotspot).detail(phone)
    field = "mac" if exc.field == "mac" else "form"
    return await _detail_page(
        request,
        hotspot,
        principal,
        detail,
        form=form,
        errors={field: exc.message},
        status_code=exc.status_code,
    )


@post("/admin/customers/{phone:str}/unblock", include_in_schema=False, guards=[requires("customers.write")])
async def unblock(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    phone: FromPath[str],
) -> Template | Response[Any]:
    number = _phone(phone)
    form = await form_data(request)
    kind, value = _target(number, text(form, "target"))

    async def audit(lifted: BlockView) -> None:  # in the lift's transaction
        await hotspot.accounts.audit.record(
            principal.actor,
            "customer.unblock",
            ("phone" if kind == BlockKind.PHONE else "device", value),
            {"reason": lifted.reason, "expires_at": lifted.expires_at, "blocked_by": lifted.created_by},
            {"lifted_at": lifted.lifted_at, **({"customer": number} if kind == BlockKind.MAC else {})},
            client_ip(request),
        )

    try:
        _, restored = await hotspot.customers.blocks.unblock(kind, value, by=principal.username, audit=audit)
    except BlockError as exc:
        return await _refused(request, hotspot, principal, number, exc, form)
    what = "This number" if kind == BlockKind.PHONE else f"Device {value}"
    flash(request, f"{what} is unblocked: {restored} package{'s' if restored != 1 else ''} back on.")
    return hx_redirect(request, _home(number))


# --- MAC binding ------------------------------------------------------------------------------


@post("/admin/customers/{phone:str}/bind", include_in_schema=False, guards=[requires("customers.write")])
async def bind(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    phone: FromPath[str],
) -> Template | Response[Any]:
    number = _phone(phone)
    form = await form_data(request)

    async def audit(bound: BindingView) -> None:  # in the binding's transaction
        await hotspot.accounts.audit.record(
            principal.actor, "customer.bind", ("phone", number), None, {"mac": bound.mac}, client_ip(request)
        )

    try:
        binding = await hotspot.customers.blocks.bind(
            number, text(form, "mac"), by=principal.username, audit=audit
        )
    except BlockError as exc:
        return await _refused(request, hotspot, principal, number, exc, form)
    flash(request, f"Bound to {binding.mac}: this number's purchases work only on its bound devices.")
    return hx_redirect(request, _home(number))


@post("/admin/customers/{phone:str}/unbind", include_in_schema=False, guards=[requires("customers.write")])
async def unbind(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    phone: FromPath[str],
) -> Template | Response[Any]:
    number = _phone(phone)
    form = await form_data(request)
    mac = normalize_mac(text(form, "mac")) or text(form, "mac")
    try:
        await hotspot.customers.blocks.unbind(number, mac)
    except BlockError as exc:
        return await _refused(request, hotspot, principal, number, exc, form)
    left = await hotspot.customers.blocks.bindings(number)
    await hotspot.accounts.audit.record(
        principal.actor,
        "customer.unbind",
        ("phone", number),
        {"mac": mac},
        {"bound_left": len(left)},
        client_ip(request),
    )
    flash(request, f"Unbound {mac}." + ("" if left else " This number may be used on any device again."))
    return hx_redirect(request, _home(number))


CUSTOMERS_HANDLERS = [customers_page, customer_detail, block_form, block, unblock, bind, unbind]
