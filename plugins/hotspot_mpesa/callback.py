"""The STK callback route: ``POST /hooks/lnm/<callback token>`` (mounted by the core at routes_path).

Daraja signs nothing (research 6): the defences here are the unguessable path (compared in
constant time), an optional source-IP allowlist, and a strict shape check. Whatever passes is
handed to the core's PaymentInbox as a *claim*: the core stores the raw body first and grants
nothing until the gateway's `verify` (STK query) agrees.

Every answer except a wrong path is 200 ``{"ResultCode": 0, "ResultDesc": "Accepted"}``: Daraja
gets the acknowledgement it expects, and a forger with the right path learns nothing from the
answer. An unreadable body is also answered 200 (and reported with a problem): nothing the
sender could do differently would help. A wrong path is a plain 404, the same as no route.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from hotspot.contracts import CallbackReport, GatewayResult, Money, PaymentInbox

from .config import MpesaSettings
from .gateway import GATEWAY_ID, normalise_result_code, result_outcome

__all__ = [
    "ACCEPTED",
    "PROBLEM_NOT_ALLOWED",
    "PROBLEM_UNREADABLE",
    "PROBLEM_WRONG_PATH",
    "UnreadableCallback",
    "callback_routes",
    "parse_callback",
]

log = logging.getLogger("hotspot_mpesa")

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}
NOT_FOUND = {"status_code": 404, "detail": "Not Found"}  # what Litestar answers for no route
PROBLEM_WRONG_PATH = "wrong callback path"
PROBLEM_NOT_ALLOWED = "source IP not allowed"
PROBLEM_UNREADABLE = "unreadable callback"


class UnreadableCallback(ValueError):
    """The body is not Daraja's stkCallback; `reference` is its CheckoutRequestID when one was found."""

    def __init__(self, detail: str, reference: str | None = None) -> None:
        super().__init__(detail)
        self.reference = reference


@dataclass(frozen=True)
class _Items:
    amount: Money | None
    receipt: str | None
    payer: str | None


def _exact_kes(value: Any) -> Money | None:
    """Amount 50, 50.0 or "50.00" -> Money(5000, "KES"), read from the JSON text, not a float."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        shillings = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not shillings.is_finite() or shillings <= 0:
        return None
    cents = shillings * 100
    if cents != cents.to_integral_value():
        return None
    return Money(int(cents), "KES")


def _digits_text(value: Any) -> str | None:
    """PhoneNumber / MpesaReceiptNumber as text: 254712345678 (a JSON number) -> "254712345678"."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else None
    text = str(value).strip()
    return text or None


def _metadata(callback: dict[str, Any], reference: str) -> _Items:
    """CallbackMetadata.Item by Name, in any order; Balance and any other item may be missing."""
    metadata = callback.get("CallbackMetadata")
    items = metadata.get("Item") if isinstance(metadata, dict) else None
    if not isinstance(items, list):
        raise UnreadableCallback("a successful callback without CallbackMetadata.Item", reference)
    values: dict[str, Any] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("Name"), str) and "Value" in item:
            values.setdefault(item["Name"], item["Value"])
    amount = _exact_kes(values.get("Amount"))
    if amount is None:
        raise UnreadableCallback("a successful callback without a valid Amount", reference)
    return _Items(
        amount, _digits_text(values.get("MpesaReceiptNumber")), _digits_text(values.get("PhoneNumber"))
    )


def parse_callback(body: bytes) -> tuple[str, GatewayResult]:
    """(CheckoutRequestID, the claimed result) of a Daraja STK callback, or UnreadableCallback."""
    try:
        exact = json.loads(body, parse_float=Decimal)  # amounts without float rounding
        raw = json.loads(body)  # what the core stores: plain JSON types
    except (ValueError, UnicodeDecodeError):
        raise UnreadableCallback("the body is not JSON") from None
    envelope = exact.get("Body") if isinstance(exact, dict) else None
    callback = envelope.get("stkCallback") if isinstance(envelope, dict) else None
    if not isinstance(callback, dict):
        raise UnreadableCallback("no Body.stkCallback object")
    reference = callback.get("CheckoutRequestID")
    if not isinstance(reference, str) or not reference.strip():
        raise UnreadableCallback("no CheckoutRequestID")
    reference = reference.strip()
    code = normalise_result_code(callback.get("ResultCode"))
    if code is None:
        raise UnreadableCallback("no ResultCode", reference)
    desc = callback.get("ResultDesc")
    message = desc if isinstance(desc, str) else ""
    status, reason = result_outcome(code)
    items = _metadata(callback, reference) if code == "0" else _Items(None, None, None)
    claimed = GatewayResult(
        status,
        reference=reference,
        amount=items.amount,
        receipt=items.receipt,
        message=message,
        raw=raw,
        reason=reason,
        payer=items.payer,
    )
    return reference, claimed


def _allowed(client_ip: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def callback_routes(config: MpesaSettings) -> list[HTTPRouteHandler]:
    """The handlers register_routes returns, bound to this config's token and allowlist."""
    expected = config.effective_callback_token().encode()
    allowlist = config.allowed_networks() if config.allowlist_enabled else None

    @post(
        "/{path_token:str}",
        name="mpesa:stk-callback",
        include_in_schema=False,
        opt={"exclude_from_csrf": True},
        status_code=200,
    )
    async def stk_callback(
        request: Request[Any, Any, Any],
        path_token: FromPath[str],
        payment_inbox: NamedDependency[PaymentInbox],
        client_ip: NamedDependency[str],
    ) -> Response[Any]:
        body = await request.body()

        async def report(problem: str, reference: str | None = None) -> None:
            await payment_inbox.callback(
                CallbackReport(GATEWAY_ID, body, client_ip, reference=reference, problem=problem)
            )

        if not hmac.compare_digest(path_token.encode(), expected):
            log.warning("M-Pesa callback on a wrong path from %s: reported, answered 404", client_ip)
            await report(PROBLEM_WRONG_PATH)
            return Response(NOT_FOUND, status_code=404)
        if allowlist is not None and not _allowed(client_ip, allowlist):
            log.warning("M-Pesa callback from %s, which is not in allowed_sources: dropped", client_ip)
            await report(PROBLEM_NOT_ALLOWED)
            return Response(ACCEPTED, status_code=200)
        try:
            reference, claimed = parse_callback(body)
        except UnreadableCallback as exc:
            log.warning("unreadable M-Pesa callback from %s: %s", client_ip, exc)
            await report(PROBLEM_UNREADABLE, exc.reference)
            return Response(ACCEPTED, status_code=200)
        verdict = await payment_inbox.callback(
            CallbackReport(GATEWAY_ID, body, client_ip, reference=reference, claimed=claimed)
        )
        log.info("M-Pesa callback for %s (%s): %s", reference, claimed.status, verdict)
        return Response(ACCEPTED, status_code=200)

    return [stk_callback]
