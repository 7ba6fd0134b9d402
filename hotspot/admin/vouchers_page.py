"""The vouchers pages (/admin/vouchers): batches, a batch's codes with print and revoke, one
voucher's story (devices, sessions, every redeem attempt) and the redeem log.

One URL answers a whole page, or with htmx only the list or only the next keyset rows (as the
sessions page does). Every change goes through hotspot.vouchers.admin_actions, the same
functions the JSON API uses, so a batch made or revoked here is audited the same way.

Codes are money: seeing a batch or the log needs `vouchers.read`, but codes show in full, and
print or download, only with `vouchers.write`; a reader sees them masked. PINs are stored only
hashed, so the ones of a batch just made are kept for `ISSUED_TTL` in the box's store for the
admin who made it (to print and download), then they are gone for good.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import anyio
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.vouchers import (
    OUTCOMES,
    REASONS,
    AttemptFilter,
    AttemptQueryError,
    RedeemLog,
    code_of,
)
from hotspot.admin.web import (
    flash,
    form_data,
    fragment,
    fragment_or_page,
    hx_redirect,
    keyset_list,
    page,
    redirect,
    safe_next,
    text,
    wants_fragment,
)
from hotspot.billing import format_money
from hotspot.billing.forms import parse_count, parse_date
from hotspot.errors import FormErrors
from hotspot.http.client import client_ip
from hotspot.portal.format import format_bytes, format_duration, format_speed
from hotspot.runtime import Hotspot
from hotspot.vouchers.admin_actions import (
    batch_csv_text,
    batch_pdf,
    create_batch,
    revoke_batch,
    revoke_voucher,
)
from hotspot.vouchers.codes import (
    DEFAULT_LENGTH,
    MAX_LENGTH,
    MAX_PREFIX,
    MIN_LENGTH,
    has_only_code_symbols,
    normalise_code,
)
from hotspot.vouchers.printing import PrintError, poster_pdf
from hotspot.vouchers.service import (
    MAX_DEVICES,
    Batch,
    BatchSpec,
    IssuedVoucher,
    VoucherError,
    expiry_timestamp,
)
from hotspot.vouchers.tables import VoucherState

__all__ = ["MAX_FORM_COUNT", "VOUCHERS_HANDLERS", "BatchForm", "FormErrors", "mask", "parse_batch_form"]

PAGE_SIZE = 50
MAX_FORM_COUNT = 5_000  # a sheet of more takes minutes to render; the CLI makes bigger batches
MAX_SHOWN = 200  # codes listed on the page right after a batch is made; the rest are in downloads
ISSUED_TTL = 15 * 60
STORE = "admin_vouchers"
PRINTS: dict[str, str] = {
    "a4": "PDF, A4 sheet",
    "58mm": "PDF, 58 mm roll",
    "80mm": "PDF, 80 mm roll",
    "csv": "CSV",
}
FMT = {"bytes": format_bytes, "speed": format_speed, "duration": format_duration, "money": format_money}
STATE_STYLE = {
    "unused": "text-bg-light border",
    "active": "text-bg-success",
    "exhausted": "text-bg-secondary",
    "expired": "text-bg-warning",
    "revoked": "text-bg-danger",
}


# --- the "New batch" form --------------------------------------------------------------------


@dataclass(frozen=True)
class BatchForm:
    """The form as typed, kept to show again when something is wrong."""

    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, data: dict[str, Any]) -> BatchForm:
        names = ("package", "count", "prefix", "length", "expires", "devices", "devices_total", "note")
        values = {name: text(data, name)[:300] for name in names}
        for flag in ("pin", "bind_mac"):
            values[flag] = "1" if text(data, flag) in ("1", "on", "true") else ""
        return cls(values)


def _whole(raw: str, field_name: str, low: int, high: int, errors: dict[str, str], what: str) -> int | None:
    if not raw:
        return None
    try:  # ASCII digits only: "²".isdigit() is true, but int("²") raises
        return parse_count(raw, low=low, high=high)
    except ValueError:
        errors[field_name] = f"{what}: a whole number from {low:,} to {high:,}."
        return None


def parse_batch_form(form: BatchForm, *, timezone: str, today: date, created_by: str) -> BatchSpec:
    """A BatchSpec from the form, or FormErrors naming every field at fault (the service checks
    the rest: the package's price, the prefix's letters, devices against MAC binding)."""
    v = form.values
    errors: dict[str, str] = {}
    if not v["package"]:
        errors["package"] = "Choose a package."
    count = _whole(v["count"], "count", 1, MAX_FORM_COUNT, errors, "How many")
    if count is None and "count" not in errors:
        errors["count"] = "How many vouchers? 1 or more."
    length = _whole(v["length"], "length", MIN_LENGTH, MAX_LENGTH, errors, "Code length")
    prefix = normalise_code(v["prefix"])
    if len(prefix) > MAX_PREFIX:
        errors["prefix"] = f"At most {MAX_PREFIX} characters."
    devices = _whole(v["devices"], "devices", 1, MAX_DEVICES, errors, "Devices at once")
    total = _whole(v["devices_total"], "devices_total", 1, 10_000, errors, "Devices in total")
    expires_at: float | None = None
    try:
        day = parse_date(v["expires"])
    except ValueError as exc:
        errors["expires"] = str(exc)
    else:
        if day is not None and day < today:
            errors["expires"] = "That day is already past."
        elif day is not None:
            expires_at = expiry_timestamp(day, timezone)
    if errors:
        raise FormErrors(errors)
    assert count is not None
    return BatchSpec(
        package=v["package"],
        count=count,
        prefix=prefix,
        length=length or DEFAULT_LENGTH,
        expires_at=expires_at,
        devices=devices,
        devices_total=total,
        bind_mac=bool(v["bind_mac"]),
        pin=bool(v["pin"]),
        created_by=created_by,
        note=v["note"],
    )


# --- helpers ----------------------------------------------------------------------------------


def mask(display: str, prefix: str = "") -> str:
    """A code as a reader without vouchers.write sees it: the prefix and the last 2 symbols."""
    body = display[len(prefix) :]
    symbols = sum(1 for ch in body if ch != "-")
    kept, out = 0, []
    for ch in body:
        if ch == "-":
            out.append(ch)
            continue
        kept += 1
        out.append(ch if kept > symbols - 2 else "•")
    return prefix + "".join(out)


def _one(request: Request[Any, Any, Any], name: str, size: int = 64) -> str | None:
    value = (request.query_params.get(name) or "").strip()[:size]
    return value or None


def _cursor(raw: str | None) -> int | None:
    """A keyset cursor (a row id), or None; ValueError when it is not one of ours."""
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise ValueError("not a page cursor from this list")
    return int(raw)


def _store(hotspot: Hotspot) -> Any:
    return hotspot.stores.get(STORE)


async def _keep_issued(
    hotspot: Hotspot, principal: Principal, batch_id: int, issued: list[IssuedVoucher]
) -> str:
    token = secrets.token_urlsafe(16)
    value = {"admin": principal.admin_id, "batch": batch_id, "codes": [[v.code, v.pin] for v in issued]}
    await _store(hotspot).set(f"issued:{token}", json.dumps(value), expires_in=ISSUED_TTL)
    return token


async def _issued(
    hotspot: Hotspot, principal: Principal, batch_id: int, token: str | None
) -> list[IssuedVoucher] | None:
    """The codes (and PINs) of a batch this admin just made, while they are kept."""
    if not token or len(token) > 64:
        return None
    raw = await _store(hotspot).get(f"issued:{token}")
    if raw is None:
        return None
    value = json.loads(raw)
    if value.get("admin") != principal.admin_id or value.get("batch") != batch_id:
        return None
    return [IssuedVoucher(code, pin) for code, pin in value.get("codes", [])]


async def _batch(hotspot: Hotspot, batch_id: int) -> Batch:
    try:
        return await hotspot.vouchers.batch(batch_id)
    except VoucherError:
        raise NotFoundException(f"No voucher batch #{batch_id}.") from None


async def _packages(hotspot: Hotspot) -> list[tuple[str, str]]:
    """Every package (hidden ones too: a voucher may sell what the portal does not), with its price
    in the business currency, which the cards print."""
    currency = hotspot.settings.business.currency
    return [
        (p.name, format_money(p.prices[currency]) if currency in p.prices else "no price in " + currency)
        for p in await hotspot.catalog.all()
    ]


# --- batches ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchQuery:
    before: str | None
    code: str | None

    def link(self, **change: str | None) -> str:
        params: dict[str, str | None] = {"before": self.before, "code": self.code}
        params.update(change)
        query = urlencode({k: v for k, v in params.items() if v})
        return "/admin/vouchers" + (f"?{query}" if query else "")


async def _find(hotspot: Hotspot, code: str) -> tuple[Any, dict[str, str]]:
    """The voucher a code names (as typed: case and dashes do not matter), or an error for the field."""
    normal = normalise_code(code)
    if not has_only_code_symbols(normal) or len(normal) > 32:
        return None, {"code": "Voucher codes use letters and the digits 2-9 only."}
    try:
        return await hotspot.vouchers.get(normal), {}
    except VoucherError:
        return None, {"code": f"No voucher {code!r}."}


async def _new_form(
    request: Request[Any, Any, Any],
    hotspot: Hotspot,
    principal: Principal,
    *,
    form: BatchForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    context: dict[str, Any] = {
        "form": (form or BatchForm()).values,
        "errors": errors or {},
        "packages": await _packages(hotspot),
        "limits": {
            "count": MAX_FORM_COUNT,
            "min_length": MIN_LENGTH,
            "max_length": MAX_LENGTH,
            "default_length": DEFAULT_LENGTH,
            "max_prefix": MAX_PREFIX,
            "max_devices": MAX_DEVICES,
        },
    }
    return fragment_or_page(
        request,
        "admin/_voucher_new.html",
        "admin/voucher_action.html",
        principal=principal,
        active="vouchers",
        title="New voucher batch",
        status_code=status_code,
        body="admin/_voucher_new.html",
        **context,
    )


@get("/admin/vouchers", include_in_schema=False, cache=False, guards=[requires("vouchers.read")])
async def vouchers_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    query = BatchQuery(before=_one(request, "before", 20), code=_one(request, "code", 64))
    errors: dict[str, str] = {}
    found = None
    if query.code:
        found, errors = await _find(hotspot, query.code)
    try:
        before = _cursor(query.before)
    except ValueError as exc:
        errors["before"] = str(exc)
        before = None
    batches = (
        await hotspot.vouchers.batches(PAGE_SIZE + 1, before_id=before) if "before" not in errors else []
    )
    shown = batches[:PAGE_SIZE]
    counts = await hotspot.vouchers.state_counts([b.id for b in shown])
    can_write = principal.can("vouchers.write")
    context: dict[str, Any] = {
        "query": query,
        "rows": [(b, counts[b.id]) for b in shown],
        "next_link": query.link(before=str(shown[-1].id)) if len(batches) > PAGE_SIZE else None,
        "found": found,
        "found_code": (found.display if can_write else mask(found.display)) if found else None,
        "errors": errors,
        "states": VoucherState.ALL,
        "state_style": STATE_STYLE,
        "fmt": FMT,
        "can_write": can_write,
        "tz": hotspot.settings.business.timezone,
    }
    status = 400 if "before" in errors or errors.get("code", "").startswith("Voucher codes") else 200
    if wants_fragment(request):
        template = "admin/_voucher_batch_rows.html" if query.before else "admin/_voucher_batches.html"
        return fragment(request, template, status_code=status, **context)
    return page(
        request,
        "admin/vouchers.html",
        principal=principal,
        active="vouchers",
        title="Vouchers",
        status_code=status,
        **context,
    )


@get("/admin/vouchers/new", include_in_schema=False, cache=False, guards=[requires("vouchers.write")])
async def new_batch_form(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    return await _new_form(request, hotspot, principal)


@post("/admin/vouchers/batches", include_in_schema=False, guards=[requires("vouchers.write")])
async def create_batch_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template | Redirect | Response[Any]:
    form = BatchForm.of(await form_data(request))
    tz = hotspot.settings.business.timezone
    today = datetime.now(ZoneInfo(tz)).date()
    try:
        spec = parse_batch_form(form, timezone=tz, today=today, created_by=principal.username)
        made = await create_batch(hotspot, spec, principal, client_ip(request))
    except FormErrors as exc:
        return await _new_form(request, hotspot, principal, form=form, errors=exc.errors, status_code=400)
    except VoucherError as exc:
        known = {"package", "count", "prefix", "length", "expires", "devices", "devices_total", "bind_mac"}
        where = exc.field if exc.field in known else "form"
        return await _new_form(
            request, hotspot, principal, form=form, errors={where: exc.message}, status_code=400
        )
    token = await _keep_issued(hotspot, principal, made.batch.id, made.vouchers)
    count = made.batch.count
    flash(request, f"{count} voucher{'s' if count != 1 else ''} for {made.batch.package} made.")
    return hx_redirect(request, f"/admin/vouchers/batches/{made.batch.id}?issued={token}")


# --- one batch ------------------------------------------------------------------------------


@get(
    "/admin/vouchers/batches/{batch_id:int}",
    include_in_schema=False,
    cache=False,
    guards=[requires("vouchers.read")],
)
async def batch_page(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    batch_id: FromPath[int],
) -> Template:
    batch = await _batch(hotspot, batch_id)
    state = _one(request, "state", 16)
    after_raw = _one(request, "after", 20)
    errors: dict[str, str] = {}
    if state is not None and state not in VoucherState.ALL:
        errors["state"] = f"Choose one of: {', '.join(VoucherState.ALL)}."
    try:
        after = _cursor(after_raw)
    except ValueError as exc:
        errors["after"] = str(exc)
        after = None
    rows = (
        []
        if errors
        else await hotspot.vouchers.batch_vouchers(batch_id, state=state, after_id=after, limit=PAGE_SIZE + 1)
    )
    shown = rows[:PAGE_SIZE]
    can_write = principal.can("vouchers.write")

    def link(**change: str | None) -> str:
        params: dict[str, str | None] = {"state": state if "state" not in errors else None}
        params.update(change)
        query = urlencode({k: v for k, v in params.items() if v})
        return f"/admin/vouchers/batches/{batch_id}" + (f"?{query}" if query else "")

    context: dict[str, Any] = {
        "batch": batch,
        "state": state if "state" not in errors else None,
        "rows": shown,
        "next_link": link(after=str(shown[-1].id)) if len(rows) > PAGE_SIZE else None,
        "errors": errors,
        "can_write": can_write,
        "shown_code": (lambda v: v.display) if can_write else (lambda v: mask(v.display, batch.prefix)),
        "state_style": STATE_STYLE,
        "back": link(),
        "fmt": FMT,
        "tz": hotspot.settings.business.timezone,
    }
    status = 400 if errors else 200
    if wants_fragment(request):
        template = "admin/_voucher_rows.html" if after_raw else "admin/_voucher_list.html"
        return fragment(request, template, status_code=status, **context)
    token = _one(request, "issued", 64)
    issued = await _issued(hotspot, principal, batch_id, token) if can_write else None
    return page(
        request,
        "admin/voucher_batch.html",
        principal=principal,
        active="vouchers",
        title=f"Batch #{batch.id}",
        status_code=status,
        counts=(await hotspot.vouchers.state_counts([batch_id]))[batch_id],
        states=VoucherState.ALL,
        prints=PRINTS,
        issued=issued[:MAX_SHOWN] if issued else None,
        issued_count=len(issued) if issued else 0,
        issued_token=token if issued else None,
        issued_minutes=ISSUED_TTL // 60,
        public_url=hotspot.settings.server.public_url,
        **context,
    )


def _download(body: str | bytes, media_type: str, filename: str) -> Response[Any]:
    return Response(
        body,
        media_type=media_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{filename}"'},
    )


@get(
    "/admin/vouchers/batches/{batch_id:int}/print/{kind:str}",
    include_in_schema=False,
    cache=False,
    guards=[requires("vouchers.write")],
)
async def print_batch(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    batch_id: FromPath[int],
    kind: FromPath[str],
) -> Response[Any] | Redirect:
    """A sheet (A4, 58/80 mm roll) of the unused vouchers, or the whole batch as CSV; with the
    PINs while the batch is fresh (`issued`)."""
    if kind not in PRINTS:
        raise NotFoundException("No such print format.")
    await _batch(hotspot, batch_id)
    token = _one(request, "issued", 64)
    issued = await _issued(hotspot, principal, batch_id, token)
    everyone = request.query_params.get("all") == "1"
    try:
        if kind == "csv":
            return _download(
                await batch_csv_text(hotspot, batch_id, issued=issued),
                "text/csv; charset=utf-8",
                f"vouchers-{batch_id}.csv",
            )
        document = await batch_pdf(hotspot, batch_id, layout=kind, unused_only=not everyone, issued=issued)
    except (PrintError, VoucherError) as exc:
        flash(request, str(exc.message if isinstance(exc, VoucherError) else exc), "warning")
        back = f"/admin/vouchers/batches/{batch_id}" + (f"?issued={token}" if issued else "")
        return redirect(back)
    return _download(document, "application/pdf", f"vouchers-{batch_id}-{kind}.pdf")


@post(
    "/admin/vouchers/batches/{batch_id:int}/forget",
    include_in_schema=False,
    guards=[requires("vouchers.write")],
)
async def forget_issued(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    batch_id: FromPath[int],
) -> Redirect | Response[Any]:
    """ "I have printed them": the PINs of a batch just made are dropped now, not in ISSUED_TTL."""
    token = text(await form_data(request), "issued")[:64]
    if await _issued(hotspot, principal, batch_id, token) is not None:
        await _store(hotspot).delete(f"issued:{token}")
        flash(request, "The PINs are forgotten: nobody can show them again.", "info")
    return hx_redirect(request, f"/admin/vouchers/batches/{batch_id}")


@get("/admin/vouchers/poster", include_in_schema=False, cache=False, guards=[requires("vouchers.write")])
async def poster(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot]
) -> Response[Any] | Redirect:
    """An A4 poster for the wall: scan to open the portal, buy or type a voucher."""
    settings = hotspot.settings
    try:
        document = await anyio.to_thread.run_sync(
            lambda: poster_pdf(business=settings.business.name, base_url=settings.server.public_url or "")
        )
    except PrintError as exc:
        flash(request, str(exc), "warning")
        return redirect(safe_next(request.query_params.get("back"), "/admin/vouchers"))
    return _download(document, "application/pdf", "portal-poster.pdf")


# --- revoking -----------------------------------------------------------------------------------

Target = Literal["voucher", "batch"]


async def _revoke_form(
    request: Request[Any, Any, Any],
    principal: Principal,
    *,
    target: Target,
    subject: Any,
    code: str,
    counts: dict[str, int] | None,
    back: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    context: dict[str, Any] = {
        "target": target,
        "subject": subject,
        "code": code,
        "counts": counts or {},
        "back": back,
        "errors": errors or {},
        "state_style": STATE_STYLE,
    }
    return fragment_or_page(
        request,
        "admin/_voucher_revoke.html",
        "admin/voucher_action.html",
        principal=principal,
        active="vouchers",
        title="Revoke vouchers" if target == "batch" else f"Revoke {code}",
        status_code=status_code,
        body="admin/_voucher_revoke.html",
        **context,
    )


@get(
    "/admin/vouchers/batches/{batch_id:int}/revoke",
    include_in_schema=False,
    cache=False,
    guards=[requires("vouchers.write")],
)
async def revoke_batch_form(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    batch_id: FromPath[int],
) -> Template:
    batch = await _batch(hotspot, batch_id)
    counts = (await hotspot.vouchers.state_counts([batch_id]))[batch_id]
    back = f"/admin/vouchers/batches/{batch_id}"
    return await _revoke_form(
        request, principal, target="batch", subject=batch, code="", counts=counts, back=back
    )


@post(
    "/admin/vouchers/batches/{batch_id:int}/revoke",
    include_in_schema=False,
    guards=[requires("vouchers.write")],
)
async def revoke_batch_page(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    batch_id: FromPath[int],
) -> Template | Redirect | Response[Any]:
    batch = await _batch(hotspot, batch_id)
    which = text(await form_data(request), "which")
    back = f"/admin/vouchers/batches/{batch_id}"
    if which not in ("unused", "all"):
        counts = (await hotspot.vouchers.state_counts([batch_id]))[batch_id]
        return await _revoke_form(
            request,
            principal,
            target="batch",
            subject=batch,
            code="",
            counts=counts,
            back=back,
            errors={"which": "Choose which vouchers to revoke."},
            status_code=400,
        )
    count = await revoke_batch(
        hotspot, batch_id, principal, client_ip(request), unused_only=which == "unused"
    )
    if count:
        words = "unused voucher" if which == "unused" else "voucher"
        flash(request, f"Batch #{batch_id}: {count} {words}{'s' if count != 1 else ''} revoked.")
    else:
        flash(request, f"Batch #{batch_id}: nothing left to revoke.", "info")
    return hx_redirect(request, back)


async def _voucher_code(voucher_id: int) -> str:
    code = await code_of(voucher_id)
    if code is None:
        raise NotFoundException(f"No voucher #{voucher_id}.")
    return code


@get(
    "/admin/vouchers/{voucher_id:int}/revoke",
    include_in_schema=False,
    cache=False,
    guards=[requires("vouchers.write")],
)
async def revoke_voucher_form(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    voucher_id: FromPath[int],
) -> Template:
    voucher = await hotspot.vouchers.get(await _voucher_code(voucher_id))
    back = safe_next(request.query_params.get("back"), f"/admin/vouchers/{voucher_id}")
    return await _revoke_form(
        request, principal, target="voucher", subject=voucher, code=voucher.display, counts=None, back=back
    )


@post(
    "/admin/vouchers/{voucher_id:int}/revoke",
    include_in_schema=False,
    guards=[requires("vouchers.write")],
)
async def revoke_voucher_page(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    voucher_id: FromPath[int],
) -> Redirect | Response[Any]:
    code = await _voucher_code(voucher_id)
    back = safe_next(text(await form_data(request), "back"), f"/admin/vouchers/{voucher_id}")
    before = await hotspot.vouchers.get(code)
    if before.state == VoucherState.REVOKED:
        flash(request, f"{before.display} was already revoked.", "info")
        return hx_redirect(request, back)
    after = await revoke_voucher(hotspot, code, principal, client_ip(request))
    flash(request, f"{after.display} is revoked; any device on it is being disconnected.")
    return hx_redirect(request, back)


# --- one voucher and the redeem log ----------------------------------------------------------


@get(
    "/admin/vouchers/{voucher_id:int}",
    include_in_schema=False,
    cache=False,
    guards=[requires("vouchers.read")],
)
async def voucher_page(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    voucher_id: FromPath[int],
) -> Template:
    history = await hotspot.vouchers.history(await _voucher_code(voucher_id))
    batch = await hotspot.vouchers.batch(history.voucher.batch_id)
    can_write = principal.can("vouchers.write")
    display = history.voucher.display
    return page(
        request,
        "admin/voucher_detail.html",
        principal=principal,
        active="vouchers",
        title=display if can_write else mask(display, batch.prefix),
        history=history,
        v=history.voucher,
        batch=batch,
        can_write=can_write,
        state_style=STATE_STYLE,
        reasons=REASONS,
        fmt=FMT,
    )


@dataclass(frozen=True)
class LogQuery:
    filters: AttemptFilter
    after: str | None

    def link(self, **change: str | None) -> str:
        params: dict[str, str | None] = {
            "outcome": self.filters.outcome,
            "reason": self.filters.reason,
            "q": self.filters.q,
        }
        params.update(change)
        query = urlencode({k: v for k, v in params.items() if v})
        return "/admin/vouchers/log" + (f"?{query}" if query else "")


@get("/admin/vouchers/log", include_in_schema=False, cache=False, guards=[requires("vouchers.read")])
async def log_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    can_write = principal.can("vouchers.write")
    query = LogQuery(
        AttemptFilter(
            outcome=_one(request, "outcome", 16),
            reason=_one(request, "reason", 32),
            q=_one(request, "q"),
            whole_code=not can_write,  # codes show masked: no search by their start
        ),
        _one(request, "after", 20),
    )
    return await keyset_list(
        request,
        query=query,
        fetch=lambda: RedeemLog().page(query.filters, query.after, PAGE_SIZE),
        refused=AttemptQueryError,
        templates=(
            "admin/voucher_log.html",
            "admin/_voucher_attempts.html",
            "admin/_voucher_attempt_rows.html",
        ),
        principal=principal,
        active="vouchers",
        title="Voucher redeem log",
        can_write=can_write,
        mask=mask,
        tz=hotspot.settings.business.timezone,
        outcomes=OUTCOMES,
        reasons=REASONS,
    )


VOUCHERS_HANDLERS = [
    vouchers_page,
    new_batch_form,
    create_batch_page,
    batch_page,
    print_batch,
    forget_issued,
    poster,
    revoke_batch_form,
    revoke_batch_page,
    revoke_voucher_form,
    revoke_voucher_page,
    voucher_page,
    log_page,
]
