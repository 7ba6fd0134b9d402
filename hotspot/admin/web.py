"""What every admin page shares: the navigation, the page shell's context, flash messages,
safe `next` links, form reading and the sign-in redirect.

The navigation is one table (`NAV`): an entry shows only when the signed-in role holds its
permission.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from litestar import MediaType, Request, Response
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from hotspot.accounts.guards import resolved_principal
from hotspot.accounts.principal import Principal
from hotspot.billing.forms import form_currencies
from hotspot.config import FIRST_DAY, LAST_DAY
from hotspot.http.errors import exception_handlers as http_exception_handlers
from hotspot.http.errors import wants_html
from hotspot.runtime import Hotspot

__all__ = [
    "NAV",
    "NO_STORE",
    "TEMPLATE_FILTERS",
    "NavEntry",
    "flash",
    "form_currencies_of",
    "form_data",
    "fragment",
    "fragment_or_page",
    "hx_redirect",
    "keyset_list",
    "page",
    "page_exception_handlers",
    "redirect",
    "safe_next",
    "visible_nav",
    "wants_fragment",
]

NO_STORE = CacheControlHeader(no_store=True)
FLASH_KEY = "flash"
Level = Literal["success", "info", "warning", "danger"]


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: str
    icon: str  # bootstrap-icons name
    permission: str
    href: str


NAV: tuple[NavEntry, ...] = (
    NavEntry("overview", "Overview", "bi-grid-1x2", "account.read", "/admin"),
    NavEntry("sessions", "Sessions", "bi-broadcast", "sessions.read", "/admin/sessions"),
    NavEntry("payments", "Payments", "bi-cash-coin", "payments.read", "/admin/payments"),
    NavEntry("customers", "Customers", "bi-person-lines-fill", "customers.read", "/admin/customers"),
    NavEntry("vouchers", "Vouchers", "bi-ticket-perforated", "vouchers.read", "/admin/vouchers"),
    NavEntry("packages", "Packages", "bi-box-seam", "packages.read", "/admin/packages"),
    NavEntry("promos", "Promos & discounts", "bi-percent", "packages.read", "/admin/promos"),
    NavEntry("routers", "Routers", "bi-router", "routers.read", "/admin/routers"),
    NavEntry("reports", "Reports", "bi-graph-up-arrow", "reports.read", "/admin/reports"),
    NavEntry("admins", "Admins", "bi-people", "admins.read", "/admin/admins"),
    NavEntry("audit", "Audit log", "bi-journal-text", "audit.read", "/admin/audit"),
    NavEntry("security", "Security log", "bi-shield-exclamation", "audit.read", "/admin/security"),
    NavEntry("plugins", "Plugins", "bi-plug", "plugins.read", "/admin/plugins"),
    NavEntry("settings", "Settings", "bi-sliders", "settings.read", "/admin/settings"),
)


def visible_nav(principal: Principal) -> list[NavEntry]:
    """The entries this admin may open (by permission)."""
    return [e for e in NAV if principal.can(e.permission)]


# --- requests --------------------------------------------------------------------------------


def hotspot_of(request: Request[Any, Any, Any]) -> Hotspot:
    hotspot: Hotspot = request.app.state.hotspot
    return hotspot


def request_id(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


async def form_data(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted form: one value per field, lists for repeated fields (checkbox groups)."""
    form = await request.form()
    out: dict[str, Any] = {}
    for key in form:
        values = form.getall(key)
        strings = [v for v in values if isinstance(v, str)]
        out[key] = strings if len(strings) > 1 else (strings[0] if strings else "")
    return out


def text(data: Mapping[str, Any], key: str, *, strip: bool = True) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    value = str(value)[:4096]
    return value.strip() if strip else value


def values(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def safe_next(value: str | None, default: str = "/admin") -> str:
    """Only a path on this box: no scheme, no host, no protocol-relative `//evil`, no backslash."""
    if not value or len(value) > 2000:
        return default
    parts = urlsplit(value)
    if (
        parts.scheme
        or parts.netloc
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 32 for c in value)
    ):
        return default
    return value


# --- flash messages (kept in the server-side session until shown) -------------------------------


def flash(request: Request[Any, Any, Any], message: str, level: Level = "success") -> None:
    session = dict(request.session) if isinstance(request.scope.get("session"), dict) else {}
    items = list(session.get(FLASH_KEY) or [])[-4:]
    items.append({"level": level, "message": message})
    session[FLASH_KEY] = items
    request.set_session(session)


def pop_flashes(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    current = request.scope.get("session")
    if not isinstance(current, dict) or not current.get(FLASH_KEY):
        return []
    session = dict(current)
    items = [i for i in session.pop(FLASH_KEY) or [] if isinstance(i, dict)]
    request.set_session(session)
    return items


# --- responses ---------------------------------------------------------------------------------


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    principal: Principal | None,
    active: str = "",
    title: str = "",
    status_code: int = 200,
    **context: Any,
) -> Template:
    """An admin page: the shell's context (who, navigation, messages) plus the page's own."""
    hotspot = hotspot_of(request)
    return Template(
        template_name=template,
        context={
            "principal": principal,
            "nav": visible_nav(principal) if principal else [],
            "active": active,
            "title": title,
            "flashes": pop_flashes(request),
            "request_id": request_id(request),
            "business": hotspot.settings.business,
            "tz": hotspot.settings.business.timezone,
            "user_theme": principal.theme if principal else "",
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Vary": "HX-Request"},
        media_type=MediaType.HTML,
    )


def redirect(path: str) -> Redirect:
    return Redirect(path, status_code=HTTP_303_SEE_OTHER, headers={"Cache-Control": "no-store"})


def hx_redirect(request: Request[Any, Any, Any], path: str) -> Response[Any]:
    """A redirect htmx follows as a full page load (HX-Redirect), else a plain 303."""
    if request.headers.get("hx-request"):
        return Response(b"", status_code=200, headers={"HX-Redirect": path, "Cache-Control": "no-store"})
    return redirect(path)


def login_url(request: Request[Any, Any, Any]) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/admin/login?next=" + quote(safe_next(target), safe="/")


def _is_page_request(request: Request[Any, Any, Any]) -> bool:
    return bool(request.headers.get("hx-request")) or wants_html(request)


def _not_signed_in(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """Pages send a browser to the sign-in page (and back afterwards; a fresh install on to the
    setup wizard); JSON callers get 401."""
    if _is_page_request(request):
        return hx_redirect(request, login_url(request))
    handler = http_exception_handlers[HTTPException]
    response: Response[Any] = handler(request, exc)
    return response


def _not_allowed(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    """An admin who must first set up 2FA is sent to do so; anyone else gets the 403 page."""
    if _is_page_request(request):
        principal = resolved_principal(request)
        if principal is not None and principal.must_enrol_2fa:
            flash(request, "The owner requires two-step sign-in for every admin: set it up first.", "warning")
            return hx_redirect(request, "/admin/account#two-step")
    handler = http_exception_handlers[HTTPException]
    response: Response[Any] = handler(request, exc)
    return response


def page_exception_handlers() -> dict[type[Exception] | int, Any]:
    return {NotAuthorizedException: _not_signed_in, PermissionDeniedException: _not_allowed}


# --- formatting helpers for templates ---------------------------------------------------------


def when(stamp: float | None, tz: str, fmt: str = "%d %b %Y, %H:%M") -> str:
    """A Unix time in the business's time zone, e.g. '30 Nov 2026, 14:05'."""
    if stamp is None:
        return "never"
    return datetime.fromtimestamp(float(stamp), ZoneInfo(tz)).strftime(fmt)


def ago(stamp: float | None, now: float | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 days ago'."""
    if stamp is None:
        return "never"
    seconds = max(0.0, (now if now is not None else time.time()) - float(stamp))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


def utc_day_start(day: str, tz: str) -> float | None:
    """'2026-11-30' as the Unix time that day starts in the business's time zone (None if not a date)."""
    try:
        parsed = datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        return None
    if not FIRST_DAY <= parsed.date() <= LAST_DAY:  # year 1 or 9999: no Unix time in every zone
        return None
    return parsed.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC).timestamp()


def duration(seconds: int | float | None) -> str:
    """3600 -> '1 hour', 86400 * 7 -> '7 days', 5400 -> '90 minutes'."""
    if seconds is None:
        return "no limit"
    seconds = int(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


TEMPLATE_FILTERS = {"when": when, "ago": ago, "duration": duration}


def fragment(
    request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any
) -> Template:
    """A piece of a page for htmx to swap in (no shell, and flash messages stay for the next page)."""
    return Template(
        template_name=template,
        context={"request_id": request_id(request), **context},
        headers={"Cache-Control": "no-store", "Vary": "HX-Request"},
        media_type=MediaType.HTML,
        status_code=status_code,
    )


def fragment_or_page(
    request: Request[Any, Any, Any],
    fragment_template: str,
    page_template: str,
    *,
    principal: Principal,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """The same URL answers htmx with the piece it swaps in (a modal's content, a list) and a
    browser without JavaScript, or a link opened in a new tab, with the whole page around it."""
    if wants_fragment(request):
        context.pop("active", None)
        context.pop("title", None)
        return fragment(request, fragment_template, status_code=status_code, **context)
    return page(request, page_template, principal=principal, status_code=status_code, **context)


# --- keyset lists (payments, customers, the redeem log, ...) ----------------------------------


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """An htmx call from the page itself (not a boosted navigation, which wants the whole page)."""
    return bool(request.headers.get("hx-request")) and not request.headers.get("hx-boosted")


class ListQuery(Protocol):
    @property
    def after(self) -> Any: ...

    def link(self, *, after: Any) -> str: ...


class ListPage(Protocol):
    @property
    def rows(self) -> Sequence[Any]: ...

    @property
    def next_cursor(self) -> Any: ...


async def keyset_list(
    request: Request[Any, Any, Any],
    *,
    query: ListQuery,
    fetch: Callable[[], Awaitable[ListPage]],
    refused: type[Exception],
    templates: tuple[str, str, str],
    principal: Principal,
    active: str,
    title: str,
    **context: Any,
) -> Template:
    """A filtered list paged by keyset, as a whole page, the list alone (htmx: new filters) or
    its next rows ("Load more"). `templates`: (page, list, rows). A bad filter or cursor (the
    `refused` exception, naming its `field`) is shown on the form with a 400, never a 500."""
    errors: dict[str, str] = {}
    rows: Sequence[Any] = []
    next_cursor: Any = None
    try:
        result = await fetch()
        rows, next_cursor = result.rows, result.next_cursor
    except refused as exc:
        errors = {str(getattr(exc, "field", "") or "q"): str(exc)}
    context.update(
        query=query,
        rows=rows,
        next_link=query.link(after=next_cursor) if next_cursor else None,
        errors=errors,
    )
    whole, listing, more = templates
    return fragment_or_page(
        request,
        more if query.after else listing,
        whole,
        principal=principal,
        active=active,
        title=title,
        status_code=400 if errors else 200,
        **context,
    )


def form_currencies_of(hotspot: Hotspot, *given: Iterable[str]) -> list[str]:
    """The currency columns of this box's money forms (`billing.forms.form_currencies`)."""
    return form_currencies(
        hotspot.settings.business.currency, hotspot.checkout.pricing.currencies.accepted(), *given
    )
