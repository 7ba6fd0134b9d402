"""In-app notifications: the toasts every admin page shows (web/static/js/admin.js).

The app announces what happened on its admin channel (hotspot.runtime.ADMIN_CHANNEL): each
plugin event with the event itself, and sessions about to run out (hotspot.access.expiry).
`/admin/notices/events` streams them to every open admin page as server-sent events, each
turned into a short notice here, and only the ones this admin may see: new payments need
payments.read, router outages routers.read, suspicious activity audit.read, expiring sessions
sessions.read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import ServerSentEvent, ServerSentEventMessage

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.accounts.sessions import admin_session
from hotspot.admin.web import duration
from hotspot.billing.currencies import format_money
from hotspot.contracts import Money
from hotspot.portal.views import SKIP_COMPRESSION
from hotspot.runtime import ADMIN_CHANNEL, Hotspot

__all__ = ["NOTICES_HANDLERS", "Notice", "notice_for"]

log = logging.getLogger("hotspot.admin")

STREAM_MAX_SECONDS = 15 * 60  # then the browser reconnects (a fresh sign-in check)
KEEPALIVE_SECONDS = 25.0  # proxies drop a silent connection
RECHECK_SECONDS = 60.0  # how long a signed-out or disabled admin may still hear of things

Level = Literal["success", "info", "warning", "danger"]


@dataclass(frozen=True)
class Notice:
    permission: str  # who may see it
    level: Level
    title: str
    text: str
    href: str = ""


def _payment(event: Mapping[str, Any]) -> Notice:
    amount = event.get("amount") or {}
    money = format_money(Money(int(amount.get("amount", 0)), str(amount.get("currency", ""))))
    return Notice(
        "payments.read",
        "success",
        "New payment",
        f"{money} by {event.get('gateway', 'a gateway')}",
        f"/admin/payments/{event.get('payment_id', '')}",
    )


def _router(event: Mapping[str, Any]) -> Notice | None:
    name, current, previous = event.get("router", "a router"), event.get("current"), event.get("previous")
    detail = str(event.get("detail") or "")[:160]
    if current == "down":
        return Notice("routers.read", "danger", f"Router {name} is down", detail or "It does not answer.")
    if current == "degraded":
        return Notice("routers.read", "warning", f"Router {name} is slow", detail or "It answers slowly.")
    if current == "ok" and previous in ("down", "degraded"):
        return Notice("routers.read", "success", f"Router {name} is back", "It answers again.")
    return None


def _security(event: Mapping[str, Any]) -> Notice | None:
    severity = event.get("severity")
    if severity not in ("warning", "critical"):
        return None
    level: Level = "danger" if severity == "critical" else "warning"
    title = "Suspicious activity" if severity == "critical" else "Security warning"
    return Notice("audit.read", level, title, str(event.get("detail") or "")[:200], "/admin/security")


def _expiring(event: Mapping[str, Any]) -> Notice:
    who = event.get("who") or event.get("mac") or "A customer"
    left = duration(int(event.get("seconds_left") or 0) // 60 * 60) if event.get("seconds_left") else "soon"
    return Notice("sessions.read", "info", "Session ending", f"{who}: {left} left", "/admin/sessions")


def notice_for(message: Mapping[str, Any]) -> Notice | None:
    """The toast for one admin-channel message, or None when it is not worth interrupting for
    (or does not make sense: a message that cannot be read is dropped, never the stream)."""
    event = message.get("event")
    if not isinstance(event, Mapping):
        return None
    try:
        match message.get("on"):
            case "payment_confirmed":
                return _payment(event)
            case "router_status_changed":
                return _router(event)
            case "security_event":
                return _security(event)
            case "session_expiring":
                return _expiring(event)
    except (TypeError, ValueError, KeyError, AttributeError):
        log.warning("an admin-channel message could not be turned into a notice: %.200r", message)
    return None


async def _still_signed_in(request: Request[Any, Any, Any], hotspot: Hotspot, principal: Principal) -> bool:
    """Is the stream's admin still who they were (not signed out everywhere, not disabled, the
    token not revoked)? Asked every RECHECK_SECONDS while the stream is open."""
    accounts = hotspot.accounts
    if principal.via == "token":
        header = request.headers.get("authorization", "")
        return await accounts.tokens.resolve(header[7:].strip()) is not None
    data = admin_session(request)
    return data is not None and await accounts.resolve_session(data) is not None


def _decode(raw: bytes) -> Mapping[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, Mapping) else {}


@get(
    "/admin/notices/events",
    include_in_schema=False,
    cache=False,
    guards=[requires("account.read")],
    opt={SKIP_COMPRESSION: True},
)
async def notice_events(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> ServerSentEvent:
    """Notices as they happen, filtered by what this admin may see. Nothing is replayed: a
    notice is about now; the pages (payments, security log) keep the history. A caller that did
    not ask for a stream (no `Accept: text/event-stream`, which EventSource always sends) gets
    the opening comment only."""
    streaming = "text/event-stream" in request.headers.get("accept", "")

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        async with hotspot.channels.start_subscription([ADMIN_CHANNEL]) as subscriber:
            async with subscriber.run_in_background(queue.put):
                yield ServerSentEventMessage(comment="ready", retry=5000)
                deadline = time.monotonic() + (STREAM_MAX_SECONDS if streaming else 0)
                checked = time.monotonic()
                while (left := deadline - time.monotonic()) > 0:
                    if time.monotonic() - checked > RECHECK_SECONDS:
                        if not await _still_signed_in(request, hotspot, principal):
                            return
                        checked = time.monotonic()
                    try:
                        raw = await asyncio.wait_for(
                            queue.get(), timeout=min(KEEPALIVE_SECONDS, RECHECK_SECONDS, left)
                        )
                    except TimeoutError:
                        yield ServerSentEventMessage(comment="keep-alive")
                        continue
                    notice = notice_for(_decode(raw))
                    if notice is None or not principal.can(notice.permission):
                        continue
                    body = {k: v for k, v in asdict(notice).items() if k != "permission"}
                    yield ServerSentEventMessage(data=json.dumps(body), event="notice")

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


NOTICES_HANDLERS = [notice_events]
