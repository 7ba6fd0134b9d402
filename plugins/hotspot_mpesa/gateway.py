"""The M-Pesa PaymentGateway: STK push to start, STK query to verify.

The gateway reports, the core decides: `initiate` answers PENDING with the CheckoutRequestID (the
reference the callback and the query share), `verify` turns the query's ResultCode into a status
and a `reason` the portal can act on. A network failure is raised, never reported as a failed
payment: the customer may well be paying while the box cannot reach Daraja.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from hotspot.contracts import (
    ChargeLimits,
    FailureReason,
    GatewayResult,
    Health,
    PaymentRequest,
    PaymentStatus,
)

from .config import MAX_ACCOUNT_REFERENCE, MpesaSettings
from .daraja import DarajaClient, DarajaError, DarajaUnavailable, TokenCache

__all__ = [
    "GATEWAY_ID",
    "NO_CALLBACK_BASE",
    "MpesaGateway",
    "account_reference",
    "normalise_result_code",
    "result_outcome",
    "transaction_desc",
]

log = logging.getLogger("hotspot_mpesa")

GATEWAY_ID = "mpesa"
NO_CALLBACK_BASE = "https://callback.invalid/"  # a box without a public URL settles by query alone
MIN_SHILLINGS, MAX_SHILLINGS = 1, 250_000  # per STK push (2.1)
_MSISDN = re.compile(r"254[71][0-9]{8}")
_BUSY_CODES = frozenset({"500.003.02", "500.003.03"})  # spike arrest, quota
_PROCESSING = "the transaction is being processed"

# ResultCode (as a string) -> what became of the payment, and why (research 3.3).
_OUTCOMES: dict[str, tuple[PaymentStatus, FailureReason]] = {
    "0": (PaymentStatus.SUCCEEDED, ""),
    "1032": (PaymentStatus.CANCELLED, "cancelled"),
    "1019": (PaymentStatus.EXPIRED, "timeout"),
    "1": (PaymentStatus.FAILED, "insufficient_funds"),
    "2001": (PaymentStatus.FAILED, "wrong_pin"),
    "1037": (PaymentStatus.FAILED, "unreachable"),
    "1001": (PaymentStatus.FAILED, "busy"),
    "17": (PaymentStatus.FAILED, "busy"),
}


def normalise_result_code(value: Any) -> str | None:
    """ResultCode is a number in callbacks and a string in queries: 0, "0", 1032.0 -> "0", "1032"."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    text = str(value).strip()
    if not text:
        return None
    if text.isdigit():
        return str(int(text))
    return text  # e.g. SFC_IC0003


def result_outcome(code: str) -> tuple[PaymentStatus, FailureReason]:
    """Anything not listed (2, 3, 4, 8, 1025, 2028, 8006, SFC_IC0003...) is a decline."""
    return _OUTCOMES.get(code, (PaymentStatus.FAILED, "declined"))


def account_reference(prefix: str, payment_id: str) -> str:
    """prefix + the end of the payment id (its letters and digits), at most 12 characters."""
    tail = re.sub(r"[^A-Za-z0-9]", "", payment_id).upper()
    room = MAX_ACCOUNT_REFERENCE - len(prefix)
    return prefix + (tail[-room:] if room > 0 and tail else "")


def transaction_desc(description: str) -> str:
    """Letters, digits and spaces of the description, at most 13 characters (never empty)."""
    text = re.sub(r"\s+", " ", re.sub(r"[^A-Za-z0-9 ]", " ", description)).strip()
    return text[:13].strip() or "WiFi"


def _failed(message: str, reason: FailureReason, raw: Mapping[str, Any] | None = None) -> GatewayResult:
    return GatewayResult(PaymentStatus.FAILED, message=message, reason=reason, raw=dict(raw or {}))


def _error_raw(error: DarajaError) -> dict[str, Any]:
    return {"requestId": error.request_id, "errorCode": error.code, "errorMessage": error.message}


def _push_failure(error: DarajaError) -> GatewayResult:
    """A refused push: busy (try again in a minute), declined (a field was refused) or error."""
    reason: FailureReason = "error"
    if error.code in _BUSY_CODES or (
        error.code == "500.001.1001" and "unable to lock subscriber" in error.message.lower()
    ):
        reason = "busy"
    elif error.code == "400.002.02":
        reason = "declined"
    return _failed(error.message or f"M-Pesa refused the request ({error.code})", reason, _error_raw(error))


class MpesaGateway:
    """PaymentGateway for M-Pesa Express; one Daraja client (and connection pool) per instance."""

    id = GATEWAY_ID
    display_name = "M-Pesa"
    currencies = frozenset({"KES"})
    # Whole shillings only, KES 1 to KES 250,000: the portal prices to fit (billing.currencies).
    charge_limits = {"KES": ChargeLimits(step=100, minimum=MIN_SHILLINGS * 100, maximum=MAX_SHILLINGS * 100)}

    def __init__(
        self,
        config: MpesaSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        tokens: TokenCache | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if (
            config.shortcode is None
            or config.passkey is None
            or config.consumer_key is None
            or config.consumer_secret is None
        ):
            raise ValueError("the mpesa plugin needs shortcode, passkey, consumer_key and consumer_secret")
        self.config = config
        self.client = DarajaClient(
            config.api_base,
            config.consumer_key.get_secret_value(),
            config.consumer_secret.get_secret_value(),
            config.shortcode,
            config.passkey.get_secret_value(),
            timeout=config.timeout_seconds,
            transport=transport,
            tokens=tokens,
            wall_clock=wall_clock,
        )
        self._token = config.effective_callback_token()
        self._told_polling = False

    def __repr__(self) -> str:
        return f"<MpesaGateway {self.config.environment} shortcode={self.config.shortcode}>"

    async def aclose(self) -> None:
        await self.client.aclose()

    def callback_url_for(self, request: PaymentRequest) -> str:
        """config.callback_url, else <core's base>/<token>, else an address that never resolves."""
        if self.config.callback_url:
            return self.config.callback_url
        if request.callback_url:
            return f"{request.callback_url.rstrip('/')}/{self._token}"
        if not self._told_polling:
            self._told_polling = True
            log.info(
                "M-Pesa: the box has no public URL (server.public_url) and no callback_url relay is set; "
                "payments settle by STK Query polling alone"
            )
        return NO_CALLBACK_BASE + self._token

    async def initiate(self, request: PaymentRequest) -> GatewayResult:
        amount = request.amount
        if amount.currency != "KES":
            return _failed(f"M-Pesa takes Kenya shillings (KES) only, not {amount.currency}", "error")
        shillings, cents = divmod(amount.amount, 100)
        if cents:
            return _failed(
                f"M-Pesa takes whole shillings only; KES {shillings}.{cents:02d} cannot be charged", "error"
            )
        if not MIN_SHILLINGS <= shillings <= MAX_SHILLINGS:
            return _failed(
                f"M-Pesa takes KES {MIN_SHILLINGS} to KES {MAX_SHILLINGS:,} per payment, not KES {shillings}",
                "error",
            )
        phone = request.phone or ""
        if not _MSISDN.fullmatch(phone):
            return _failed("M-Pesa needs a Safaricom number as 2547XXXXXXXX or 2541XXXXXXXX", "declined")
        try:
            data = await self.client.stk_push(
                amount=shillings,
                phone=phone,
                callback_url=self.callback_url_for(request),
                account_reference=account_reference(self.config.account_reference, request.payment_id),
                transaction_desc=transaction_desc(request.description),
                till=self.config.till,
            )
        except DarajaError as error:
            log.warning("M-Pesa refused the STK push for payment %s: %s", request.payment_id, error)
            return _push_failure(error)
        checkout = data.get("CheckoutRequestID")
        if str(data.get("ResponseCode", "")).strip() != "0" or not isinstance(checkout, str) or not checkout:
            message = str(data.get("ResponseDescription") or data.get("errorMessage") or "not accepted")
            return _failed(f"M-Pesa did not accept the request: {message}", "error", data)
        return GatewayResult(
            PaymentStatus.PENDING,
            reference=checkout,
            message=str(data.get("CustomerMessage") or data.get("ResponseDescription") or ""),
            raw=data,
        )

    async def verify(self, reference: str) -> GatewayResult:
        try:
            data = await self.client.stk_query(reference)
        except DarajaError as error:
            if error.code == "500.001.1001" and _PROCESSING in error.message.lower():
                return GatewayResult(
                    PaymentStatus.PENDING, reference=reference, message=error.message, raw=_error_raw(error)
                )
            raise  # spike arrest, quota, 5xx, a refused query: nothing is known yet; the core retries
        code = normalise_result_code(data.get("ResultCode"))
        if code is None:
            raise DarajaUnavailable("M-Pesa's status answer carries no ResultCode")
        status, reason = result_outcome(code)
        return GatewayResult(
            status,
            reference=str(data.get("CheckoutRequestID") or reference),
            message=str(data.get("ResultDesc") or ""),
            raw={**data, "ResultCode": code},
            reason=reason,
        )

    async def health(self) -> Health:
        facts = {
            "environment": self.config.environment,
            "shortcode": self.config.shortcode,
            "product": "Buy Goods" if self.config.till else "PayBill",
        }
        started = time.perf_counter()
        reused = self.client.has_cached_token()
        try:
            await self.client.token()
        except (DarajaError, DarajaUnavailable) as exc:
            latency = (time.perf_counter() - started) * 1000
            return Health("down", f"M-Pesa token request failed: {exc}", latency_ms=latency, facts=facts)
        latency = (time.perf_counter() - started) * 1000
        detail = f"M-Pesa {self.config.environment}: access token {'cached' if reused else 'issued'}"
        return Health("ok", detail, latency_ms=latency, facts=facts)
