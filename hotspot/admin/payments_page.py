"""The payments pages (/admin/payments): every attempt, newest first, failed and suspicious ones
highlighted; one payment's whole trail (order, raw callbacks, other attempts); "Re-verify now".

The list answers a whole page or, with htmx, only the list or the next keyset rows (as the
sessions page does). Re-verify asks the gateway through the same path the checks use
(hotspot.admin.payments.PaymentList.reverify) and is audited whatever the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from hotspot.accounts.guards import requires
from hotspot.accounts.principal import Principal
from hotspot.admin.payments import PaymentFilter, PaymentList, PaymentQueryError, PaymentRow
from hotspot.admin.web import flash, hx_redirect, keyset_list, page
from hotspot.billing.currencies import format_money
from hotspot.contracts import Money
from hotspot.http.client import client_ip
from hotspot.payments.states import PaymentState
from hotspot.runtime import Hotspot

__all__ = ["PAYMENTS_HANDLERS", "money"]

log = logging.getLogger(__name__)
PAGE_SIZE = 50
STATES = tuple(s.value for s in PaymentState)


def money(row: PaymentRow) -> str:
    return format_money(Money(row.amount, row.currency))


@dataclass(frozen=True)
class Query:
    filters: PaymentFilter
    after: str | None

    def link(self, **change: str | None) -> str:
        params: dict[str, str | None] = {
            "state": self.filters.state,
            "gateway": self.filters.gateway,
            "phone": self.filters.phone,
            "flagged": "1" if self.filters.flagged else None,
        }
        params.update(change)
        return "/admin/payments?" + urlencode({k: v for k, v in params.items() if v})


def _query(request: Request[Any, Any, Any]) -> Query:
    p = request.query_params

    def one(name: str, size: int = 64) -> str | None:
        value = (p.get(name) or "").strip()[:size]
        return value or None

    return Query(
        PaymentFilter(
            state=one("state"),
            gateway=one("gateway"),
            phone=one("phone"),
            flagged=p.get("flagged") in ("1", "on", "true"),
        ),
        one("after"),
    )


def _listing(hotspot: Hotspot) -> PaymentList:
    return PaymentList(hotspot.db, hotspot.payments)


@get("/admin/payments", include_in_schema=False, cache=False, guards=[requires("payments.read")])
async def payments_page(
    request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], principal: NamedDependency[Principal]
) -> Template:
    query = _query(request)
    return await keyset_list(
        request,
        query=query,
        fetch=lambda: _listing(hotspot).page(query.filters, query.after, PAGE_SIZE),
        refused=PaymentQueryError,
        templates=("admin/payments.html", "admin/_payments_list.html", "admin/_payment_rows.html"),
        principal=principal,
        active="payments",
        title="Payments",
        money=money,
        tz=hotspot.settings.business.timezone,
        states=STATES,
        gateways=sorted(hotspot.payments.gateways),
    )


@get(
    "/admin/payments/{payment_id:str}",
    include_in_schema=False,
    cache=False,
    guards=[requires("payments.read")],
)
async def payment_detail(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    payment_id: FromPath[str],
) -> Template:
    detail = await _listing(hotspot).detail(payment_id[:32])
    if detail is None:
        raise NotFoundException(f"No payment {payment_id[:32]!r}.")
    return page(
        request,
        "admin/payment_detail.html",
        principal=principal,
        active="payments",
        title=f"Payment {detail.payment.id}",
        detail=detail,
        money=money,
        can_write=principal.can("payments.write"),
        open_states=(PaymentState.PENDING.value, PaymentState.EXPIRED.value),
    )


@post(
    "/admin/payments/{payment_id:str}/reverify", include_in_schema=False, guards=[requires("payments.write")]
)
async def reverify(
    request: Request[Any, Any, Any],
    hotspot: NamedDependency[Hotspot],
    principal: NamedDependency[Principal],
    payment_id: FromPath[str],
) -> Redirect | Response[Any]:
    listing = _listing(hotspot)
    detail = await listing.detail(payment_id[:32])
    if detail is None:
        raise NotFoundException(f"No payment {payment_id[:32]!r}.")
    before = {"state": detail.payment.state, "checks": detail.payment.checks}
    try:
        state = await listing.reverify(detail.payment.id)
    except Exception as exc:  # a gateway's failure is shown to the admin, never a 500
        log.warning("re-verify of %s failed: %s", detail.payment.id, exc)
        after: dict[str, Any] = {"error": str(exc)[:300]}
        flash(request, f"The gateway could not be asked: {exc}", "warning")
    else:
        after = {"state": state}
        if state == before["state"]:
            flash(request, f"Asked again: the payment is still {state}.", "info")
        else:
            flash(request, f"Asked again: the payment is now {state}.")
    await hotspot.accounts.audit.record(
        principal.actor, "payment.reverify", ("payment", detail.payment.id), before, after, client_ip(request)
    )
    return hx_redirect(request, f"/admin/payments/{detail.payment.id}")


PAYMENTS_HANDLERS = [payments_page, payment_detail, reverify]
