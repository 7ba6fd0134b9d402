"""The audit log (who changed what) and the security log (sign-ins, lockouts, oddities).

Both read newest first in keyset pages (`before` = the last id seen): a page costs one index
range however old the entries are, and stays stable while new entries arrive. Dates are days in
the business's time zone. The audit log exports as CSV through the JSON API's export (same
filters), which a signed-in browser may fetch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from hotspot.accounts.audit import AuditFilter
from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.accounts.security_log import SecurityFilter
from hotspot.admin.web import page, utc_day_start
from hotspot.runtime import Hotspot

__all__ = ["LOG_HANDLERS", "changes"]

PAGE = 50
SEVERITIES = ("info", "warning", "critical")


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """(key, before, after) for each key whose value differs (a created or removed thing: all keys)."""
    before, after = before or {}, after or {}
    keys = sorted(set(before) | set(after))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


def _day_range(since: str | None, until: str | None, tz: str) -> tuple[float | None, float | None]:
    start = utc_day_start(since, tz) if since else None
    end = utc_day_start(until, tz) if until else None
    if end is not None:  # "until 30 Nov" includes that whole day
        end += timedelta(days=1).total_seconds()
    return start, end


@get("/admin/audit", include_in_schema=False, cache=False, guards=[requires("audit.read")])
async def audit_page(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    actor: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
    action: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
    target_type: Annotated[str | None, QueryParameter(max_length=32, required=False)] = None,
    target_id: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
    since: Annotated[str | None, QueryParameter(max_length=10, required=False)] = None,
    until: Annotated[str | None, QueryParameter(max_length=10, required=False)] = None,
    before: Annotated[int | None, QueryParameter(ge=1, required=False)] = None,
) -> Template:
    tz = hotspot.settings.business.timezone
    start, end = _day_range(since, until, tz)
    terms = AuditFilter(
        (actor or "").strip() or None,
        (action or "").strip() or None,
        (target_type or "").strip() or None,
        (target_id or "").strip() or None,
        start,
        end,
    )
    result = await hotspot.accounts.audit.search(terms, limit=PAGE, before_id=before)
    filters = {
        k: v
        for k, v in {
            "actor": actor,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "since": since,
            "until": until,
        }.items()
        if v
    }
    api = {**filters}
    if start is not None:
        api["since"] = _iso(start)
    if end is not None:
        api["until"] = _iso(end)
    return page(
        request,
        "admin/audit.html",
        principal=principal,
        active="audit",
        title="Audit log",
        entries=[{**e, "changes": changes(e["before"], e["after"])} for e in result.entries],
        filters=filters,
        first_page=before is None,
        older_url=f"/admin/audit?{urlencode({**filters, 'before': result.next_cursor})}"
        if result.next_cursor
        else None,
        newest_url=f"/admin/audit?{urlencode(filters)}" if filters else "/admin/audit",
        export_url="/api/v1/audit/export.csv" + (f"?{urlencode(api)}" if api else ""),
        bad_dates=(since and start is None) or (until and end is None),
    )


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@get("/admin/security", include_in_schema=False, cache=False, guards=[requires("audit.read")])
async def security_page(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    kind: Annotated[str | None, QueryParameter(max_length=64, required=False)] = None,
    severity: Annotated[
        Literal["", "info", "warning", "critical"] | None, QueryParameter(required=False)
    ] = None,
    ip: Annotated[str | None, QueryParameter(max_length=45, required=False)] = None,
    subject: Annotated[str | None, QueryParameter(max_length=128, required=False)] = None,
    before: Annotated[int | None, QueryParameter(ge=1, required=False)] = None,
) -> Template:
    terms = SecurityFilter(
        (kind or "").strip() or None,
        severity or None,
        (ip or "").strip() or None,
        (subject or "").strip() or None,
    )
    events, cursor = await hotspot.accounts.security_log.search(terms, limit=PAGE, before_id=before)
    filters = {
        k: v for k, v in {"kind": kind, "severity": severity, "ip": ip, "subject": subject}.items() if v
    }
    return page(
        request,
        "admin/security.html",
        principal=principal,
        active="security",
        title="Security log",
        events=events,
        filters=filters,
        severities=SEVERITIES,
        first_page=before is None,
        older_url=f"/admin/security?{urlencode({**filters, 'before': cursor})}" if cursor else None,
        newest_url=f"/admin/security?{urlencode(filters)}" if filters else "/admin/security",
    )


LOG_HANDLERS = [audit_page, security_page]
