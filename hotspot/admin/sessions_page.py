"""The sessions page (/admin/sessions): who is online now and who was, with the operator's three
actions on a customer's grant: disconnect, extend (time or data) and change speed.

One URL answers a whole page, or with htmx only the list (filters, search) or only the next rows
("Load more", keyset cursor from hotspot.admin.sessions). Each action goes through the
GrantService, so the router hears of it the same way a purchase does, and is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from hotspot.access.grants import GrantNotFound
from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.sessions import SessionFilter, SessionQueryError, Sessions
from hotspot.admin.web import (
    flash,
    form_data,
    fragment,
    fragment_or_page,
    hx_redirect,
    page,
    safe_next,
    text,
    wants_fragment,
)
from hotspot.config._units import parse_rate
from hotspot.errors import FormErrors, HotspotError
from hotspot.http.client import client_ip
from hotspot.portal.format import format_bytes, format_duration, format_speed
from hotspot.runtime import Hotspot

__all__ = ["ACTIONS", "SESSIONS_HANDLERS", "parse_extend", "parse_speed"]

PAGE_SIZE = 50
SOURCES = ("order", "voucher", "admin")
Action = Literal["disconnect", "extend", "speed"]
ACTIONS: dict[str, str] = {"disconnect": "Disconnect", "extend": "Extend", "speed": "Change speed"}
TIME_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
DATA_UNITS = {"MB": 10**6, "GB": 10**9}
MAX_SECONDS = 366 * 86400
MAX_BYTES = 10 * 10**12
MAX_RATE = 10 * 10**9
FMT = {"bytes": format_bytes, "speed": format_speed, "duration": format_duration}


def _count(raw: str, field: str, errors: dict[str, str]) -> int:
    if not raw:
        return 0
    if not re.fullmatch(r"[0-9]{1,9}", raw):  # not isdigit(): "²" is a digit to it, not to int()
        errors[field] = "Enter a whole number, 0 or more."
        return 0
    return int(raw)


def parse_extend(form: dict[str, Any]) -> tuple[int, int]:
    """(seconds, bytes) to add, from an amount and unit of time and/or of data."""
    errors: dict[str, str] = {}
    time_unit, data_unit = text(form, "time_unit"), text(form, "data_unit")
    if time_unit not in TIME_UNITS:
        errors["time_unit"] = "Choose minutes, hours or days."
    if data_unit not in DATA_UNITS:
        errors["data_unit"] = "Choose MB or GB."
    amount = _count(text(form, "time"), "time", errors)
    data = _count(text(form, "data"), "data", errors)
    seconds = amount * TIME_UNITS.get(time_unit, 0)
    size = data * DATA_UNITS.get(data_unit, 0)
    if seconds > MAX_SECONDS:
        errors["time"] = "At most a year at a time."
    if size > MAX_BYTES:
        errors["data"] = "At most 10 TB at a time."
    if not errors and seconds == 0 and size == 0:
        errors["time"] = "Add some time, some data, or both."
    if errors:
        raise FormErrors(errors)
    return seconds, size


def parse_speed(form: dict[str, Any]) -> tuple[int | None, int | None]:
    """(down, up) in bits per second from "5M", "512k"; empty means no limit."""
    errors: dict[str, str] = {}
    out: list[int | None] = []
    for field in ("down", "up"):
        raw = text(form, field)
        if not raw:
            out.append(None)
            continue
        try:
            rate = parse_rate(raw[:32])
        except ValueError:
            errors[field] = "Write a speed like 512k, 5M or 2.5M (or leave empty for no limit)."
            continue
        if not 8_000 <= rate <= MAX_RATE:
            errors[field] = "Between 8k and 10G."
            continue
        out.append(rate)
    if errors:
        raise FormErrors(errors)
    return out[0], out[1]


@dataclass(frozen=True)
class Query:
    tab: Literal["active", "history"]
    filters: SessionFilter
    after: str | None

    def link(self, **change: str | None) -> str:
        """This list's URL with some parameters changed (for tabs, "Load more" and going back)."""
        params = {
            "tab": self.tab,
            "router": self.filters.router,
            "package": self.filters.package,
            "source": self.filters.source,
            "q": self.filters.q,
        }
        params.update(change)
        return "/admin/sessions?" + urlencode({k: v for k, v in params.items() if v})


def _query(request: Request[Any, Any, Any]) -> Query:
    p = request.query_params

    def one(name: str, size: int = 128) -> str | None:
        value = (p.get(name) or "").strip()[:size]
        return value or None

    source = one("source")
    return Query(
        tab="history" if p.get("tab") == "history" else "active",
        filters=SessionFilter(
            router=one("router"),
            package=one("package"),
            source=source if source in SOURCES else None,
            q=one("q", 64),
        ),
        after=one("after", 64),
    )


@get("/admin/sessions", include_in_schema=False, cache=False, guards=[requires("sessions.read")])
async def sessions_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    query = _query(request)
    sessions = Sessions(hotspot.db)
    error: dict[str, str] = {}
    try:
        listing = sessions.active if query.tab == "active" else sessions.history
        result = await listing(query.filters, query.after, PAGE_SIZE)
        rows, next_cursor = result.rows, result.next_cursor
    except SessionQueryError as exc:
        error = {exc.field: str(exc)}
        rows, next_cursor = [], None
    context: dict[str, Any] = {
        "query": query,
        "rows": rows,
        "next_link": query.link(after=next_cursor) if next_cursor else None,
        "can_write": principal.can("sessions.write"),
        "errors": error,
        "fmt": FMT,
        "back": query.link(),
        "tz": hotspot.settings.business.timezone,
    }
    status = 400 if error else 200
    if wants_fragment(request) and query.after:
        return fragment(request, "admin/_session_rows.html", **context)
    if wants_fragment(request):
        return fragment(request, "admin/_sessions_list.html", status_code=status, **context)
    packages = sorted({p.name for p in await hotspot.catalog.all()})
    return page(
        request,
        "admin/sessions.html",
        principal=principal,
        active="sessions",
        title="Sessions",
        status_code=status,
        online=await sessions.count_active(),
        routers=sorted(hotspot.routers.routers),
        packages=packages,
        sources=SOURCES,
        **context,
    )


async def _grant(hotspot: Hotspot, grant_id: int) -> dict[str, Any]:
    try:
        return await hotspot.grants.get(grant_id)
    except GrantNotFound:
        raise NotFoundException(f"No grant #{grant_id}.") from None


def _action(action: str) -> Action:
    if action not in ACTIONS:
        raise NotFoundException("No such action on a session.")
    return action  # type: ignore[return-value]


def _form_response(
    request: Request[Any, Any, Any],
    principal: Principal,
    action: Action,
    grant: dict[str, Any],
    *,
    back: str,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    context: dict[str, Any] = {
        "action": action,
        "label": ACTIONS[action],
        "grant": grant,
        "form": form or {},
        "errors": errors or {},
        "back": back,
        "fmt": FMT,
        "time_units": TIME_UNITS,
        "data_units": DATA_UNITS,
    }
    return fragment_or_page(
        request,
        "admin/_session_action.html",
        "admin/session_action.html",
        principal=principal,
        active="sessions",
        title=f"{ACTIONS[action]}: {grant['username']}",
        status_code=status_code,
        **context,
    )


@get(
    "/admin/sessions/grants/{grant_id:int}/{action:str}",
    include_in_schema=False,
    cache=False,
    guards=[requires("sessions.write")],
)
async def action_form(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    grant_id: FromPath[int],
    action: FromPath[str],
) -> Template:
    chosen = _action(action)
    grant = await _grant(hotspot, grant_id)
    back = safe_next(request.query_params.get("back"), "/admin/sessions")
    return _form_response(request, principal, chosen, grant, back=back)


@post(
    "/admin/sessions/grants/{grant_id:int}/{action:str}",
    include_in_schema=False,
    guards=[requires("sessions.write")],
)
async def apply_action(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    grant_id: FromPath[int],
    action: FromPath[str],
) -> Template | Redirect | Response[Any]:
    chosen = _action(action)
    grant = await _grant(hotspot, grant_id)
    form = await form_data(request)
    back = safe_next(text(form, "back"), "/admin/sessions")
    before = {
        k: grant.get(k) for k in ("state", "seconds", "expires_at", "bytes_total", "down_bps", "up_bps")
    }
    try:
        if chosen == "disconnect":
            dropped = await hotspot.grants.disconnect(grant_id)
            after: dict[str, Any] = {"devices_dropped": dropped}
            message = (
                f"{grant['username']}: {dropped} device{'s' if dropped != 1 else ''} disconnected."
                if dropped
                else f"{grant['username']} had no device online."
            )
        elif chosen == "extend":
            seconds, size = parse_extend(form)
            await hotspot.grants.extend(grant_id, seconds=seconds, bytes_total=size)
            after = {"added_seconds": seconds, "added_bytes": size}
            added = [format_duration(seconds) if seconds else "", format_bytes(size) if size else ""]
            message = f"{grant['username']}: added {' and '.join(a for a in added if a)}."
        else:
            down, up = parse_speed(form)
            await hotspot.grants.change_speed(grant_id, down_bps=down, up_bps=up)
            after = {"down_bps": down, "up_bps": up}
            speeds = [
                f"{format_speed(v)} {d}" if v else f"no limit {d}" for v, d in ((down, "down"), (up, "up"))
            ]
            message = f"{grant['username']}: speed set to {', '.join(speeds)}."
    except FormErrors as exc:
        return _form_response(
            request, principal, chosen, grant, back=back, form=form, errors=exc.errors, status_code=400
        )
    except (GrantNotFound, HotspotError) as exc:
        return _form_response(
            request,
            principal,
            chosen,
            grant,
            back=back,
            form=form,
            errors={"form": str(exc)},
            status_code=409,
        )
    await hotspot.accounts.audit.record(
        principal.actor, f"session.{chosen}", ("grant", grant_id), before, after, client_ip(request)
    )
    flash(request, message)
    return hx_redirect(request, back)


SESSIONS_HANDLERS = [sessions_page, action_form, apply_action]
