"""A Safaricom Daraja (M-Pesa Express / STK push) simulator, as an ASGI app and on a real port.

Clients talk to it exactly as to sandbox.safaricom.co.ke (research notes payments.md, sections 1-4):

* ``GET /oauth/v1/generate?grant_type=client_credentials`` with HTTP Basic key:secret ->
  ``{"access_token", "expires_in": "3599"}``. Issuing a token invalidates the previous one.
* ``POST /mpesa/stkpush/v1/processrequest`` (Bearer) -> the acknowledgement or a 400/404/500 error body.
* ``POST /mpesa/stkpushquery/v1/query`` (Bearer) -> ``500.001.1001 The transaction is being
  processed`` while the customer has not answered, then ``ResultCode``/``ResultDesc`` as strings.

The customer's phone is scripted per MSISDN (``set_outcome``); the answer comes after a delay on
simulated time (the injected clock plus whatever ``advance`` added). When it comes, the callback
JSON is POSTed once to the push's CallBackURL, unless ``drop_callbacks`` is set (a box behind NAT).

    sim = DarajaSimulator("key", "secret", "174379", PASSKEY, clock=clock)
    sim.set_outcome("254712345678", "cancelled", after_seconds=20)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://daraja") as c:
        ...                                     # token, push
        await sim.advance(20)                   # the customer presses Cancel; the callback is sent
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import heapq
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal

import httpx
from litestar import HttpMethod, Litestar, Request, Response, route
from litestar.exceptions import HTTPException

from hotspot.sim._daraja_http import ASGIApp, MiniServer
from hotspot.sim._daraja_wire import (
    RESULTS,
    DarajaError,
    Outcome,
    Rng,
    callback_body,
    eat_stamp,
    normalise_phone,
    password_for,
    validate_push,
    validate_query,
)

__all__ = [
    "SANDBOX_PASSKEY",
    "SANDBOX_SHORTCODE",
    "CallbackDelivery",
    "DarajaError",
    "DarajaSimulator",
    "Outcome",
    "StkPush",
    "StkRequest",
    "password_for",
]

log = logging.getLogger(__name__)

SANDBOX_SHORTCODE = "174379"  # Safaricom's public sandbox test data (2.1)
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
TOKEN_TTL = 3599
DEFAULT_DELAY = 10.0
_ALL_METHODS = [HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE]
_ACCEPTED = "Success. Request accepted for processing"
_QUERY_ACCEPTED = "The service request has been accepted successfully"
Amount = int | float | Decimal
DeliveryKind = Literal["result", "duplicate", "forged"]


@dataclass
class StkRequest:
    """One POST to processrequest, accepted or not (the body as received, passwords included)."""

    at: float
    body: Any
    checkout_request_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.checkout_request_id is not None


@dataclass
class StkPush:
    """An accepted push and what became of it."""

    merchant_request_id: str
    checkout_request_id: str
    shortcode: str
    transaction_type: str
    amount: int
    party_a: str
    party_b: str
    phone: str
    callback_url: str
    account_reference: str
    transaction_desc: str | None
    created_at: float
    outcome: Outcome
    due_at: float | None  # None: the customer never answers
    paid_amount: Amount | None = None
    result_code: int | None = None
    result_desc: str | None = None
    resolved_at: float | None = None
    receipt: str | None = None

    @property
    def pending(self) -> bool:
        return self.result_code is None

    def callback(self) -> dict[str, Any]:
        """The callback JSON for the outcome (ValueError while still pending)."""
        if self.result_code is None or self.result_desc is None or self.resolved_at is None:
            raise ValueError(f"{self.checkout_request_id} is still pending")
        return callback_body(
            self.merchant_request_id,
            self.checkout_request_id,
            self.result_code,
            self.result_desc,
            amount=self.paid_amount if self.paid_amount is not None else self.amount,
            receipt=self.receipt,
            transaction_date=eat_stamp(self.resolved_at),
            phone=self.phone,
        )


@dataclass
class CallbackDelivery:
    """One callback POST (or one that `drop_callbacks` swallowed: status_code None, error "dropped")."""

    kind: DeliveryKind
    url: str
    payload: dict[str, Any]
    at: float
    status_code: int | None = None
    response_text: str = ""
    error: str | None = None

    @property
    def checkout_request_id(self) -> str:
        return str(self.payload["Body"]["stkCallback"]["CheckoutRequestID"])

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class _Script:
    outcome: Outcome
    after_seconds: float
    paid_amount: Amount | None


_DEFAULT_DELAYS = {Outcome.TIMEOUT: 60.0, Outcome.EXPIRED: 60.0, Outcome.UNREACHABLE: 5.0}


@dataclass(order=True)
class _Event:
    due: float
    seq: int
    kind: Literal["resolve", "callback"] = field(compare=False)
    checkout_request_id: str = field(compare=False)


class DarajaSimulator:
    """One Daraja API tenant: a consumer key/secret pair and one shortcode (PayBill, optionally a till)."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        shortcode: str = SANDBOX_SHORTCODE,
        passkey: str = SANDBOX_PASSKEY,
        *,
        clock: Callable[[], float] = time.time,
        till: str | None = None,
        default_outcome: Outcome | str = Outcome.SUCCESS,
        default_delay: float = DEFAULT_DELAY,
        token_ttl: float = TOKEN_TTL,
        callback_transport: httpx.AsyncBaseTransport | None = None,
        callback_source_ip: str | None = None,
        callback_timeout: float = 10.0,
        require_https: bool = False,
        seed: int | None = None,
        max_log: int = 10_000,
    ) -> None:
        """`clock` gives epoch seconds (wall time: dates in ids and callbacks derive from it).

        `till`: the Till number a CustomerBuyGoodsOnline push must name as PartyB (default: none, any
        PartyB other than the shortcode). `callback_transport` replaces the outbound HTTP transport
        (e.g. an ASGITransport to the box under test); `callback_source_ip` binds outbound callbacks
        to that local address (e.g. 127.0.0.2) for allowlist tests.
        """
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.shortcode = str(shortcode)
        self.passkey = passkey
        self.till = till
        self.token_ttl = token_ttl
        self.require_https = require_https
        self.max_log = max_log
        # Switches a test flips at runtime.
        self.drop_callbacks = False  # no callback ever arrives: settle by STK query alone
        self.duplicate_callbacks = 0  # extra copies of every callback
        self.callback_delay = 0.0  # seconds between the outcome (visible to query) and its callback
        self.lock_subscriber = True  # a second push to a phone with a pending one -> 500.001.1001
        self.spike_arrest = False  # every API call -> 500.003.02 Spike Arrest Violation
        self.numeric_expires_in = False  # the doc shows a number, real responses a string (1)
        # Logs.
        self.requests: list[StkRequest] = []
        self.pushes: dict[str, StkPush] = {}
        self.queries: list[dict[str, Any]] = []
        self.callbacks_sent: list[CallbackDelivery] = []
        self.callbacks_dropped: list[CallbackDelivery] = []

        self._clock = clock
        self._offset = 0.0
        self._rng = Rng(seed)
        self._tokens: dict[str, float] = {}
        self._default = _Script(Outcome.parse(default_outcome), default_delay, None)
        self._scripts: dict[str, _Script] = {}
        self._events: list[_Event] = []
        self._seq = 0
        self._lock = asyncio.Lock()
        self._callback_timeout = callback_timeout
        self._callback_transport = callback_transport
        self._callback_source_ip = callback_source_ip
        self._client: httpx.AsyncClient | None = None
        self._server: MiniServer | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.litestar = self._build_app()
        self.app: ASGIApp = self.litestar  # for httpx.ASGITransport(app=sim.app)

    # --- time -----------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated time: the clock plus everything `advance` added."""
        return self._clock() + self._offset

    async def advance(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass; due answers happen and their callbacks are sent."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds
        await self.tick()

    async def tick(self) -> None:
        """Fire whatever is due at the current time (for a clock moved by the test itself)."""
        async with self._lock:
            while self._events and self._events[0].due <= self.now():
                event = heapq.heappop(self._events)
                push = self.pushes[event.checkout_request_id]
                if event.kind == "resolve":
                    self._resolve(push, event.due)
                    if self.callback_delay > 0:
                        self._schedule(event.due + self.callback_delay, "callback", push.checkout_request_id)
                        continue
                await self._send_result(push)

    def _schedule(self, due: float, kind: Literal["resolve", "callback"], checkout_request_id: str) -> None:
        self._seq += 1
        heapq.heappush(self._events, _Event(due, self._seq, kind, checkout_request_id))

    # --- the customer's phone -------------------------------------------------------------------

    def set_outcome(
        self,
        phone: str | int | None,
        outcome: Outcome | str,
        after_seconds: float | None = None,
        paid_amount: Amount | None = None,
    ) -> None:
        """How the phone answers future pushes (phone None: every phone without its own script).

        outcome: success (0), cancelled (1032), timeout / "no answer" (1037), unreachable (1037),
        expired (1019), insufficient_funds (1), wrong_pin (2001), limit_rule (2), rule_limited (17),
        push_error (1025), not_permitted (2028), pin_locked (8006), or never (stays pending).
        after_seconds: delay after the push (default 10 s; timeout/expired 60 s, unreachable 5 s).
        paid_amount: the Amount the success callback reports instead of the requested one.
        """
        parsed = Outcome.parse(outcome)
        delay = after_seconds if after_seconds is not None else _DEFAULT_DELAYS.get(parsed, DEFAULT_DELAY)
        script = _Script(parsed, delay, paid_amount)
        if phone is None:
            self._default = script
        else:
            self._scripts[normalise_phone(phone)] = script

    def clear_outcomes(self) -> None:
        self._scripts.clear()

    async def answer(self, checkout_request_id: str, outcome: Outcome | str | None = None) -> StkPush:
        """Make a pending push's customer answer now (with its scripted outcome, or `outcome`)."""
        push = self.pushes[checkout_request_id]
        if not push.pending:
            raise ValueError(f"{checkout_request_id} was already answered")
        if outcome is not None:
            push.outcome = Outcome.parse(outcome)
        async with self._lock:
            self._events = [e for e in self._events if e.checkout_request_id != checkout_request_id]
            heapq.heapify(self._events)
        push.due_at = self.now()
        self._schedule(push.due_at, "resolve", checkout_request_id)
        await self.tick()
        return push

    def _resolve(self, push: StkPush, at: float) -> None:
        outcome = push.outcome
        if outcome is Outcome.SUCCESS and not self._product_matches(push):
            outcome = Outcome.NOT_PERMITTED  # till vs paybill mix-up (3.3, 2028)
        push.result_code, push.result_desc = RESULTS[outcome]
        push.resolved_at = at
        if push.result_code == 0:
            push.receipt = self._rng.receipt()

    def _product_matches(self, push: StkPush) -> bool:
        if push.transaction_type == "CustomerPayBillOnline":
            return push.party_b == self.shortcode
        if self.till is not None:
            return push.party_b == self.till
        return push.party_b != self.shortcode

    # --- callbacks ------------------------------------------------------------------------------

    async def _send_result(self, push: StkPush) -> None:
        payload = push.callback()
        if self.drop_callbacks:
            dropped = CallbackDelivery("result", push.callback_url, payload, self.now(), error="dropped")
            self._log(self.callbacks_dropped, dropped)
            return
        await self._post("result", push.callback_url, payload)
        for _ in range(self.duplicate_callbacks):
            await self._post("duplicate", push.callback_url, payload)

    async def resend_callback(self, checkout_request_id: str) -> CallbackDelivery:
        """Deliver an answered push's callback again (Daraja does not retry; duplicates happen anyway)."""
        return await self._post(
            "duplicate",
            self.pushes[checkout_request_id].callback_url,
            self.pushes[checkout_request_id].callback(),
        )

    async def forge_callback(
        self,
        checkout_request_id: str | None = None,
        *,
        url: str | None = None,
        result_code: int = 0,
        result_desc: str | None = None,
        amount: Amount | None = None,
        phone: str | None = None,
        receipt: str | None = None,
        merchant_request_id: str | None = None,
    ) -> CallbackDelivery:
        """POST a callback Daraja never sent: e.g. ResultCode 0 with a wrong amount for a real push,
        or for an unknown CheckoutRequestID (checkout_request_id None makes one up). `url` defaults to
        the push's CallBackURL, else the last push's."""
        push = self.pushes.get(checkout_request_id) if checkout_request_id else None
        if url is None:
            source = push or (next(reversed(self.pushes.values())) if self.pushes else None)
            if source is None:
                raise ValueError("no CallBackURL known yet: pass url=")
            url = source.callback_url
        number = normalise_phone(phone) if phone else (push.phone if push else "254700000000")
        if checkout_request_id is None:
            checkout_request_id = self._rng.checkout_request_id(self.now(), number, self.pushes)
        desc = result_desc or next(
            (text for code, text in RESULTS.values() if code == result_code), "Forged result."
        )
        payload = callback_body(
            merchant_request_id or (push.merchant_request_id if push else self._rng.merchant_request_id()),
            checkout_request_id,
            result_code,
            desc,
            amount=amount if amount is not None else (push.amount if push else 1),
            receipt=receipt or self._rng.receipt(),
            transaction_date=eat_stamp(self.now()),
            phone=number,
        )
        return await self._post("forged", url, payload)

    async def _post(self, kind: DeliveryKind, url: str, payload: dict[str, Any]) -> CallbackDelivery:
        delivery = CallbackDelivery(kind, url, payload, self.now())
        try:
            response = await self._http().post(
                url, content=json.dumps(payload), headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        else:
            delivery.status_code = response.status_code
            delivery.response_text = response.text
        self._log(self.callbacks_sent, delivery)
        return delivery

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            transport = self._callback_transport
            if transport is None and self._callback_source_ip is not None:
                transport = httpx.AsyncHTTPTransport(local_address=self._callback_source_ip)
            self._client = httpx.AsyncClient(
                transport=transport, timeout=self._callback_timeout, follow_redirects=False
            )
        return self._client

    def _log(self, log_list: list[Any], item: Any) -> None:
        log_list.append(item)
        if len(log_list) > self.max_log:
            del log_list[: len(log_list) - self.max_log]

    # --- tokens ---------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every issued token becomes invalid now (the next API call gets the invalid-token error)."""
        self._tokens.clear()

    @property
    def tokens(self) -> dict[str, float]:
        """Valid access tokens and when they expire (simulated time)."""
        now = self.now()
        return {token: end for token, end in self._tokens.items() if end > now}

    def issue_token(self) -> str:
        """What a correct OAuth call does (and so invalidates the previous token)."""
        token = self._rng.token()
        self._tokens = {token: self.now() + self.token_ttl}
        return token

    def _check_bearer(self, request: Request[Any, Any, Any], *, query: bool) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise DarajaError.auth_header()
        end = self._tokens.get(token.strip())
        if end is None or end <= self.now():
            raise DarajaError.invalid_token(query=query)

    # --- HTTP -----------------------------------------------------------------------------------

    def _error(self, error: DarajaError) -> Response[Any]:
        return Response(error.body(self._rng.request_id()), status_code=error.status)

    async def _json_body(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        if request.method != "POST":
            raise DarajaError.method()
        if self.spike_arrest:
            raise DarajaError.spike_arrest()
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            raise DarajaError.invalid("Content-Type")  # documented as a 400.002.02 cause (2.3)
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise DarajaError.bad_payload() from None
        if not isinstance(body, dict):
            raise DarajaError.bad_payload()
        return body

    def _check_password(self, shortcode: str, password: str, timestamp: str) -> None:
        if shortcode != self.shortcode:
            raise DarajaError.no_merchant()
        expected = password_for(self.shortcode, self.passkey, timestamp)
        if not hmac.compare_digest(expected.encode(), password.encode()):
            raise DarajaError.wrong_credentials()

    def _oauth(self, request: Request[Any, Any, Any]) -> Response[Any]:
        if request.method != "GET":
            raise DarajaError.method()
        if self.spike_arrest:
            raise DarajaError.spike_arrest()
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            raise DarajaError.oauth_type()
        if request.query_params.get("grant_type") != "client_credentials":
            raise DarajaError.grant_type()
        try:
            key, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, ValueError):
            key, sep, secret = "", "", ""
        good = hmac.compare_digest(key.encode(), self.consumer_key.encode()) & hmac.compare_digest(
            secret.encode(), self.consumer_secret.encode()
        )
        if not sep or not good:
            return Response(b"", status_code=400)  # bad key/secret: HTTP 400, empty body (1)
        expires: int | str = int(self.token_ttl) if self.numeric_expires_in else str(int(self.token_ttl))
        return Response({"access_token": self.issue_token(), "expires_in": expires}, status_code=200)

    async def _push(self, request: Request[Any, Any, Any]) -> Response[Any]:
        entry = StkRequest(self.now(), None)
        self._log(self.requests, entry)
        try:
            if request.method != "POST":
                raise DarajaError.method()
            self._check_bearer(request, query=False)
            entry.body = body = await self._json_body(request)
            fields = validate_push(body, require_https=self.require_https)
            self._check_password(fields.shortcode, fields.password, fields.timestamp)
            if self.lock_subscriber and any(
                p.pending and p.phone == fields.phone for p in self.pushes.values()
            ):
                raise DarajaError.subscriber_locked()
        except DarajaError as error:
            entry.error_code, entry.error_message = error.code, error.message
            raise
        now = self.now()
        script = self._scripts.get(fields.phone, self._default)
        checkout = self._rng.checkout_request_id(now, fields.phone, self.pushes)
        due = None if script.outcome is Outcome.NEVER else now + script.after_seconds
        push = StkPush(
            merchant_request_id=self._rng.merchant_request_id(),
            checkout_request_id=checkout,
            shortcode=fields.shortcode,
            transaction_type=fields.transaction_type,
            amount=fields.amount,
            party_a=fields.party_a,
            party_b=fields.party_b,
            phone=fields.phone,
            callback_url=fields.callback_url,
            account_reference=fields.account_reference,
            transaction_desc=fields.transaction_desc,
            created_at=now,
            outcome=script.outcome,
            due_at=due,
            paid_amount=script.paid_amount,
        )
        self.pushes[checkout] = push
        entry.checkout_request_id = checkout
        if due is not None:
            self._schedule(due, "resolve", checkout)
        return Response(
            {
                "MerchantRequestID": push.merchant_request_id,
                "CheckoutRequestID": checkout,
                "ResponseCode": "0",
                "ResponseDescription": _ACCEPTED,
                "CustomerMessage": _ACCEPTED,
            },
            status_code=200,
        )

    async def _query(self, request: Request[Any, Any, Any]) -> Response[Any]:
        if request.method != "POST":
            raise DarajaError.method()
        self._check_bearer(request, query=True)
        body = await self._json_body(request)
        self._log(self.queries, body)
        fields = validate_query(body)
        self._check_password(fields.shortcode, fields.password, fields.timestamp)
        push = self.pushes.get(fields.checkout_request_id)
        if push is None:
            raise DarajaError.invalid("CheckoutRequestID")
        if push.result_code is None:
            raise DarajaError.processing()
        return Response(
            {
                "ResponseCode": "0",
                "ResponseDescription": _QUERY_ACCEPTED,
                "MerchantRequestID": push.merchant_request_id,
                "CheckoutRequestID": push.checkout_request_id,
                "ResultCode": str(push.result_code),
                "ResultDesc": push.result_desc,
            },
            status_code=200,
        )

    def _build_app(self) -> Litestar:
        sim = self

        @route("/oauth/v1/generate", http_method=_ALL_METHODS, sync_to_thread=False)
        def oauth(request: Request[Any, Any, Any]) -> Response[Any]:
            return sim._oauth(request)

        @route("/mpesa/stkpush/v1/processrequest", http_method=_ALL_METHODS)
        async def push(request: Request[Any, Any, Any]) -> Response[Any]:
            return await sim._push(request)

        @route("/mpesa/stkpushquery/v1/query", http_method=_ALL_METHODS)
        async def query(request: Request[Any, Any, Any]) -> Response[Any]:
            return await sim._query(request)

        def on_daraja_error(_: Request[Any, Any, Any], exc: DarajaError) -> Response[Any]:
            return sim._error(exc)

        def on_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
            if exc.status_code == 404:
                return sim._error(DarajaError.not_found())
            if exc.status_code == 405:
                return sim._error(DarajaError.method())
            return sim._error(DarajaError.bad_payload())

        def on_crash(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
            log.exception("daraja simulator failed", exc_info=exc)
            return sim._error(DarajaError("500.003.1001", "Internal Server Error"))

        return Litestar(
            route_handlers=[oauth, push, query],
            exception_handlers={
                DarajaError: on_daraja_error,
                HTTPException: on_http_error,
                Exception: on_crash,
            },
            openapi_config=None,
            logging_config=None,
        )

    # --- serving --------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, realtime: bool = False) -> None:
        """Serve the API on host:port (0 = a free port). `realtime`: answers happen as the clock
        moves by itself (checked every 0.2 s), for `hotspot sim daraja`; tests call `advance`."""
        self._server = MiniServer(self.app)
        await self._server.start(host, port)
        if realtime:
            self._ticker = asyncio.create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            try:
                await self.tick()
            except Exception:
                log.exception("daraja simulator tick failed")

    async def stop(self) -> None:
        """Stop serving and close the outbound client (the simulator can still be used via `app`)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> DarajaSimulator:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._server.port if self._server else 0

    @property
    def base_url(self) -> str:
        """e.g. http://127.0.0.1:40123 (while serving)."""
        if self._server is None:
            raise RuntimeError("not serving: call start() first")
        return f"http://{self._server.host}:{self._server.port}"

    def password(self, timestamp: str) -> str:
        """The Password a correct client sends with `timestamp`."""
        return password_for(self.shortcode, self.passkey, timestamp)

    def timestamp(self) -> str:
        """The current simulated time as a Daraja Timestamp (EAT)."""
        return eat_stamp(self.now())
