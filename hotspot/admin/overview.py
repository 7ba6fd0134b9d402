"""The admin's front page (/admin): the live overview (online now per router and site, revenue,
payments in flight, router health, security events), the setup left to do, who is signed in.

Live by server-sent events (/admin/overview/events): the cards are re-rendered on the server and
pushed whole (htmx's sse extension swaps them), every few seconds and at once when the app says
something happened on its admin channel (hotspot.runtime.ADMIN_CHANNEL: order changes, plugin
events). The numbers come from hotspot.admin.snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import ServerSentEvent, ServerSentEventMessage, Template

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.admins import ROLE_HELP
from hotspot.admin.payments import PaymentList, PaymentRow
from hotspot.admin.snapshot import Overview, OverviewService
from hotspot.admin.web import page, visible_nav
from hotspot.admin.wizard import STEPS, steps_done
from hotspot.analytics.reports import Reports
from hotspot.billing.currencies import format_money
from hotspot.contracts import Money
from hotspot.portal.views import SKIP_COMPRESSION
from hotspot.runtime import ADMIN_CHANNEL, Hotspot

__all__ = ["OVERVIEW_HANDLERS", "live_context"]

REFRESH_SECONDS = 5.0  # a refresh even when nothing was announced (router health, usage sync)
SETTLE_SECONDS = 0.3  # announcements come in bursts (payment, order, grant): one render for all
STREAM_MAX_SECONDS = 15 * 60  # then the browser reconnects (a fresh sign-in check)


def _money(amount: int, currency: str) -> str:
    return format_money(Money(amount, currency))


def _row_money(row: PaymentRow) -> str:
    return format_money(Money(row.amount, row.currency))


def overview_service(hotspot: Hotspot) -> OverviewService:
    return OverviewService(
        hotspot.routers,
        Reports(hotspot.db, hotspot.settings.business.timezone),
        PaymentList(hotspot.db, hotspot.payments),
        hotspot.accounts.security_log,
    )


def live_context(hotspot: Hotspot, principal: Principal, snapshot: Overview) -> dict[str, Any]:
    """What _overview_live.html needs (the page and the event stream render the same thing)."""
    return {
        "live": snapshot,
        "money": _money,
        "row_money": _row_money,
        "tz": hotspot.settings.business.timezone,
        "show_money": principal.can("payments.read") or principal.can("reports.read"),
        "show_payments": principal.can("payments.read"),
        "show_security": principal.can("audit.read"),
        "link_sessions": principal.can("sessions.read"),
    }


@get("/admin", include_in_schema=False, cache=False, guards=[requires("account.read")])
async def admin_home(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    done = await steps_done(hotspot)
    todo = [s for s in STEPS if s.id not in done and principal.can(s.permission)]
    gateways = [str(getattr(g, "display_name", gid)) for gid, g in hotspot.payments.gateways.items()]
    live = principal.can("dashboard.read")
    extra = live_context(hotspot, principal, await overview_service(hotspot).snapshot()) if live else {}
    return page(
        request,
        "admin/index.html",
        principal=principal,
        active="overview",
        title="Overview",
        me=await hotspot.accounts.get_admin(principal.admin_id),
        role_help=ROLE_HELP.get(principal.role, ""),
        todo=todo,
        links=[e for e in visible_nav(principal) if e.key != "overview"],
        permissions=sorted(principal.permissions),
        packages=len(await hotspot.catalog.all()),
        gateways=gateways,
        routers=len(hotspot.routers.routers),
        can_live=live,
        **extra,
    )


@get(
    "/admin/overview/events",
    include_in_schema=False,
    cache=False,
    guards=[requires("dashboard.read")],
    opt={SKIP_COMPRESSION: True},
)
async def overview_events(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> ServerSentEvent:
    """The overview's cards, re-rendered: now, when the app announces a change, and every few
    seconds; an unchanged render is not sent again. A caller that did not ask for a stream
    (no `Accept: text/event-stream`, which EventSource always sends) gets the first render only."""
    streaming = "text/event-stream" in request.headers.get("accept", "")
    engine = request.app.template_engine
    assert engine is not None  # create_app configures Jinja
    template = engine.get_template("admin/_overview_live.html")
    service = overview_service(hotspot)

    async def render() -> str:
        html: str = template.render(**live_context(hotspot, principal, await service.snapshot()))
        return html

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        async with hotspot.channels.start_subscription([ADMIN_CHANNEL]) as subscriber:
            async with subscriber.run_in_background(queue.put):
                last = await render()
                yield ServerSentEventMessage(data=last, event="overview", retry=3000)
                deadline = time.monotonic() + (STREAM_MAX_SECONDS if streaming else 0)
                while time.monotonic() < deadline:
                    try:
                        await asyncio.wait_for(queue.get(), timeout=REFRESH_SECONDS)
                        await asyncio.sleep(SETTLE_SECONDS)
                        while not queue.empty():
                            queue.get_nowait()
                    except TimeoutError:
                        pass
                    html = await render()
                    if html == last:
                        yield ServerSentEventMessage(comment="keep-alive")
                        continue
                    last = html
                    yield ServerSentEventMessage(data=html, event="overview")

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


OVERVIEW_HANDLERS = [admin_home, overview_events]
