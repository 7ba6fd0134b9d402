"""A small Daraja client: OAuth tokens, STK push and STK query (research payments.md, 1, 2 and 4).

Tokens are cached process-wide per (base URL, consumer key), not per client: Daraja invalidates
the previous token whenever a new one is issued, so two clients with the same key that each kept
their own token would knock each other out. A token is refreshed five minutes before it expires,
under a lock so concurrent callers fetch one token between them; a request answered with
"Invalid Access Token" drops the token and is retried once. (Several worker processes still each
hold a token; the retry covers the one another process invalidated.)
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import urlsplit

import httpx

from hotspot.errors import HotspotError

__all__ = [
    "INVALID_TOKEN_CODES",
    "NAIROBI",
    "DarajaAuthError",
    "DarajaClient",
    "DarajaError",
    "DarajaUnavailable",
    "TokenCache",
    "daraja_timestamp",
    "stk_password",
    "token_cache",
]

log = logging.getLogger("hotspot_mpesa")

INVALID_TOKEN_CODES = frozenset({"404.001.03", "400.003.01"})
REFRESH_MARGIN = 300.0  # seconds before expiry a token is replaced
DEFAULT_TTL = 3600.0  # when Daraja leaves expires_in out or sends something unreadable
OAUTH_PATH = "/oauth/v1/generate"
PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
QUERY_PATH = "/mpesa/stkpushquery/v1/query"


def _nairobi() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Africa/Nairobi")
    except Exception:  # no tz database on the box: Kenya has kept UTC+3 without DST since 1942
        return timezone(timedelta(hours=3), "EAT")


NAIROBI = _nairobi()


class DarajaError(HotspotError):
    """Daraja answered with an error body ``{"requestId", "errorCode", "errorMessage"}``."""

    def __init__(self, status_code: int, code: str, message: str, request_id: str = "") -> None:
        label = f"HTTP {status_code} {code}" if code else f"HTTP {status_code}"
        super().__init__(f"M-Pesa answered {label}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id

    @property
    def invalid_token(self) -> bool:
        return self.code in INVALID_TOKEN_CODES


class DarajaAuthError(DarajaError):
    """The OAuth call was refused (wrong consumer key or secret, or the app lacks the product)."""


class DarajaUnavailable(HotspotError):
    """Daraja could not be reached, timed out, or answered something that is not Daraja's JSON."""


def daraja_timestamp(at: float) -> str:
    """YYYYMMDDHHmmss in Nairobi local time (Timestamp, 2.1)."""
    return datetime.fromtimestamp(at, UTC).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """Password = base64(BusinessShortCode + Passkey + Timestamp) (2.1)."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def _expires_in(value: Any) -> float:
    """expires_in arrives as a number (the docs) or a string (real responses): "3599" or 3599."""
    if isinstance(value, bool):
        return DEFAULT_TTL
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEFAULT_TTL
    return seconds if seconds > 0 else DEFAULT_TTL


def _lifetime(expires_in: float) -> float:
    """How long to use a token: 5 minutes short of its expiry (half its life if it is that short)."""
    return max(expires_in - REFRESH_MARGIN, expires_in / 2)


@dataclass
class _Slot:
    token: str | None = None
    valid_until: float = 0.0
    locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def lock(self) -> asyncio.Lock:
        """One lock per event loop: an asyncio.Lock must not be shared between loops."""
        loop = asyncio.get_running_loop()
        lock = self.locks.get(loop)
        if lock is None:
            lock = self.locks[loop] = asyncio.Lock()
        return lock


class TokenCache:
    """Access tokens by (base URL, consumer key); see the module docstring."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._slots: dict[tuple[str, str], _Slot] = {}
        self.fetches = 0  # OAuth calls made through this cache (health facts, tests)

    def __repr__(self) -> str:  # never show keys
        return f"<TokenCache slots={len(self._slots)} fetches={self.fetches}>"

    def clear(self) -> None:
        self._slots.clear()

    def _slot(self, base_url: str, consumer_key: str) -> _Slot:
        return self._slots.setdefault((base_url, consumer_key), _Slot())

    def cached(self, base_url: str, consumer_key: str) -> str | None:
        slot = self._slots.get((base_url, consumer_key))
        if slot is None or slot.token is None or self._clock() >= slot.valid_until:
            return None
        return slot.token

    def drop(self, base_url: str, consumer_key: str, token: str) -> None:
        """Forget `token` (Daraja called it invalid), unless another caller already replaced it."""
        slot = self._slots.get((base_url, consumer_key))
        if slot is not None and slot.token == token:
            slot.token, slot.valid_until = None, 0.0

    async def get(
        self, base_url: str, consumer_key: str, fetch: Callable[[], Awaitable[tuple[str, float]]]
    ) -> str:
        """The cached token, or one fetched by `fetch()` -> (token, expires_in) under the lock."""
        token = self.cached(base_url, consumer_key)
        if token is not None:
            return token
        slot = self._slot(base_url, consumer_key)
        async with slot.lock():
            token = self.cached(base_url, consumer_key)
            if token is not None:
                return token  # another caller refreshed it while we waited
            self.fetches += 1
            new_token, expires_in = await fetch()
            slot.token, slot.valid_until = new_token, self._clock() + _lifetime(expires_in)
            return new_token


token_cache = TokenCache()  # the process-wide cache every gateway uses unless given another


class DarajaClient:
    """One httpx.AsyncClient to one Daraja tenant (base URL, consumer key/secret, shortcode)."""

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        shortcode: str,
        passkey: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        tokens: TokenCache | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.shortcode = shortcode
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self._passkey = passkey
        self._tokens = tokens if tokens is not None else token_cache
        self._wall_clock = wall_clock
        self._host = urlsplit(self.base_url).netloc or self.base_url
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:  # never show credentials
        return f"<DarajaClient {self.base_url} shortcode={self.shortcode}>"

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- OAuth -------------------------------------------------------------------------------

    async def token(self) -> str:
        """A valid access token, from the process-wide cache when it has one."""
        return await self._tokens.get(self.base_url, self._consumer_key, self._fetch_token)

    def has_cached_token(self) -> bool:
        return self._tokens.cached(self.base_url, self._consumer_key) is not None

    async def _fetch_token(self) -> tuple[str, float]:
        response = await self._send(
            "GET",
            OAUTH_PATH,
            params={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth(self._consumer_key, self._consumer_secret),
        )
        data = _json(response)
        if response.status_code != 200:
            error = _error_of(response, data)
            if error is None and response.status_code in (400, 401, 403):
                raise DarajaAuthError(
                    response.status_code, "", "the consumer key or consumer secret was refused"
                )
            if error is None:
                raise DarajaUnavailable(
                    f"M-Pesa ({self._host}) answered HTTP {response.status_code} to the token request"
                )
            raise DarajaAuthError(error.status_code, error.code, error.message, error.request_id)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise DarajaUnavailable(f"M-Pesa ({self._host}) sent no access token")
        return token.strip(), _expires_in(data.get("expires_in") if isinstance(data, dict) else None)

    # --- STK ---------------------------------------------------------------------------------

    def credentials(self) -> tuple[str, str]:
        """(Password, Timestamp) from one timestamp, as Daraja requires."""
        timestamp = daraja_timestamp(self._wall_clock())
        return stk_password(self.shortcode, self._passkey, timestamp), timestamp

    async def stk_push(
        self,
        *,
        amount: int,
        phone: str,
        callback_url: str,
        account_reference: str,
        transaction_desc: str,
        till: str | None = None,
    ) -> dict[str, Any]:
        """POST processrequest; the acknowledgement JSON, or DarajaError/DarajaUnavailable."""
        password, timestamp = self.credentials()
        body = {
            "BusinessShortCode": self.shortcode,
            "Password": password,
            "Timestamp": timestamp,
            "TransactionType": "CustomerBuyGoodsOnline" if till else "CustomerPayBillOnline",
            "Amount": amount,
            "PartyA": phone,
            "PartyB": till or self.shortcode,
            "PhoneNumber": phone,
            "CallBackURL": callback_url,
            "AccountReference": account_reference,
            "TransactionDesc": transaction_desc,
        }
        return await self._api(PUSH_PATH, body)

    async def stk_query(self, checkout_request_id: str) -> dict[str, Any]:
        """POST stkpushquery with a fresh Password/Timestamp; the answer JSON or an exception."""
        password, timestamp = self.credentials()
        body = {
            "BusinessShortCode": self.shortcode,
            "Password": password,
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        return await self._api(QUERY_PATH, body)

    # --- plumbing ----------------------------------------------------------------------------

    async def _api(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the bearer token; an invalid token is dropped and the call made once more."""
        for attempt in (1, 2):
            token = await self.token()
            response = await self._send("POST", path, json=body, headers={"Authorization": f"Bearer {token}"})
            data = _json(response)
            error = _error_of(response, data)
            if error is not None:
                if error.invalid_token and attempt == 1:
                    log.info("M-Pesa said the access token is invalid; fetching a new one")
                    self._tokens.drop(self.base_url, self._consumer_key, token)
                    continue
                raise error
            if response.status_code != 200 or not isinstance(data, dict):
                raise DarajaUnavailable(
                    f"M-Pesa ({self._host}) answered HTTP {response.status_code} with no Daraja JSON"
                )
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise DarajaUnavailable(f"M-Pesa ({self._host}) did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise DarajaUnavailable(f"could not reach M-Pesa ({self._host}): {type(exc).__name__}") from exc


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _error_of(response: httpx.Response, data: Any) -> DarajaError | None:
    """The error body's fields, when the answer is one."""
    if not isinstance(data, dict) or "errorCode" not in data:
        return None
    return DarajaError(
        response.status_code,
        str(data.get("errorCode") or ""),
        str(data.get("errorMessage") or ""),
        str(data.get("requestId") or ""),
    )
