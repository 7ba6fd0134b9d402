"""Daraja's wire format: error codes and texts, STK result codes, request validation, ids, callbacks.

Everything here follows /work/shared/research/payments.md sections 1-4 (the numbers in comments
are its sections). Pure functions, no I/O, so the simulator and its tests can share them.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "EAT",
    "MAX_AMOUNT",
    "RESULTS",
    "TRANSACTION_TYPES",
    "DarajaError",
    "Outcome",
    "PushFields",
    "QueryFields",
    "Rng",
    "callback_body",
    "eat_stamp",
    "normalise_phone",
    "password_for",
    "validate_push",
    "validate_query",
]

EAT = timezone(timedelta(hours=3), "EAT")  # Daraja timestamps are Africa/Nairobi local time
MAX_AMOUNT = 250_000  # KES per transaction (2.1)
TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
_PHONE = re.compile(r"254[71][0-9]{8}")
_DIGITS = re.compile(r"[0-9]+")
_WHOLE = re.compile(r"[0-9]+(\.0+)?")


class DarajaError(Exception):
    """A synchronous Daraja error body (2.3): `{"requestId", "errorCode", "errorMessage"}`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status is the errorCode's first part (400.002.02 -> 400)."""
        return int(self.code.split(".", 1)[0])

    def body(self, request_id: str) -> dict[str, str]:
        return {"requestId": request_id, "errorCode": self.code, "errorMessage": self.message}

    # The errors of 1, 2.3 and 4, by name.
    @classmethod
    def invalid(cls, field: str) -> DarajaError:
        return cls("400.002.02", f"Bad Request - Invalid {field}")

    @classmethod
    def bad_payload(cls) -> DarajaError:
        return cls("400.002.05", "Invalid request payload")

    @classmethod
    def invalid_token(cls, *, query: bool = False) -> DarajaError:
        # STK push answers 404.001.03; the query endpoint is documented with the 400.003.01 variant (4).
        return cls("400.003.01" if query else "404.001.03", "Invalid Access Token")

    @classmethod
    def auth_header(cls) -> DarajaError:
        return cls("404.001.04", "Invalid Authentication Header")

    @classmethod
    def not_found(cls) -> DarajaError:
        return cls("404.001.01", "Resource not found")

    @classmethod
    def method(cls) -> DarajaError:
        return cls("405.001", "Method Not Allowed")

    @classmethod
    def oauth_type(cls) -> DarajaError:
        return cls("400.008.01", "Invalid Authentication passed")

    @classmethod
    def grant_type(cls) -> DarajaError:
        return cls("400.008.02", "Invalid grant type passed")

    @classmethod
    def no_merchant(cls) -> DarajaError:
        return cls("500.001.1001", "Merchant does not exist")

    @classmethod
    def wrong_credentials(cls) -> DarajaError:
        return cls("500.001.1001", "[MerchantValidate] - Wrong credentials")

    @classmethod
    def subscriber_locked(cls) -> DarajaError:
        return cls(
            "500.001.1001",
            "Unable to lock subscriber, a transaction is already in process for the current subscriber",
        )

    @classmethod
    def processing(cls) -> DarajaError:
        return cls("500.001.1001", "The transaction is being processed")

    @classmethod
    def spike_arrest(cls) -> DarajaError:
        return cls("500.003.02", "Spike Arrest Violation")


class Outcome(StrEnum):
    """What the customer's phone does with the prompt (3.3). `never` leaves the push pending."""

    SUCCESS = "success"
    CANCELLED = "cancelled"  # 1032
    TIMEOUT = "timeout"  # 1037: no answer / handset cannot be reached in time
    UNREACHABLE = "unreachable"  # 1037: phone off, busy or old SIM (answers fast)
    EXPIRED = "expired"  # 1019: prompt shown, not answered before it expired
    INSUFFICIENT_FUNDS = "insufficient_funds"  # 1
    WRONG_PIN = "wrong_pin"  # 2001
    LIMIT_RULE = "limit_rule"  # 2
    RULE_LIMITED = "rule_limited"  # 17
    PUSH_ERROR = "push_error"  # 1025
    NOT_PERMITTED = "not_permitted"  # 2028
    PIN_LOCKED = "pin_locked"  # 8006
    NEVER = "never"

    @classmethod
    def parse(cls, value: Outcome | str) -> Outcome:
        """Accepts the enum, its value, or e.g. "insufficient funds", "wrong PIN", "no answer"."""
        if isinstance(value, Outcome):
            return value
        key = re.sub(r"[\s-]+", "_", value.strip().lower())
        key = {"no_answer": "timeout", "canceled": "cancelled", "paid": "success"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(o.value for o in cls)
            raise ValueError(f"unknown outcome {value!r} (one of: {names})") from None


# ResultCode and ResultDesc, copied from the research's table (3.3).
RESULTS: dict[Outcome, tuple[int, str]] = {
    Outcome.SUCCESS: (0, "The service request is processed successfully."),
    Outcome.INSUFFICIENT_FUNDS: (1, "The balance is insufficient for the transaction."),
    Outcome.LIMIT_RULE: (2, "Declined due to limit rule."),
    Outcome.RULE_LIMITED: (17, "Rule limited."),
    Outcome.EXPIRED: (1019, "Transaction has expired."),
    Outcome.PUSH_ERROR: (1025, "An error occurred while sending a push request."),
    Outcome.CANCELLED: (1032, "Request cancelled by user."),
    Outcome.TIMEOUT: (1037, "DS timeout user cannot be reached."),
    Outcome.UNREACHABLE: (1037, "DS timeout user cannot be reached."),
    Outcome.WRONG_PIN: (2001, "The initiator information is invalid."),
    Outcome.NOT_PERMITTED: (2028, "The request is not permitted according to product assignment."),
    Outcome.PIN_LOCKED: (8006, "The security credential is locked."),
}


class Rng:
    """The ids Daraja hands out, shaped like the documented examples (seedable for tests)."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)  # ids for a simulator, not secrets

    def _hex(self, n: int) -> str:
        return "".join(self._random.choice("0123456789abcdef") for _ in range(n))

    def _digits(self, n: int) -> str:
        return "".join(self._random.choice(string.digits) for _ in range(n))

    def request_id(self) -> str:  # "4417-4a0c-8d1e-0f2b77c9a3e51234"
        return f"{self._hex(4)}-{self._hex(4)}-{self._hex(4)}-{self._hex(12)}{self._digits(4)}"

    def merchant_request_id(self) -> str:  # "8c1f-4e2a-9b7d-53e0a1c2d4f61234567"
        return f"{self._hex(4)}-{self._hex(4)}-{self._hex(4)}-{self._hex(12)}{self._digits(7)}"

    def token(self) -> str:  # "<opaque ~28 chars>"
        return "".join(self._random.choice(string.ascii_letters + string.digits) for _ in range(28))

    def receipt(self) -> str:  # "TC17H2Q9XZ": 10 upper-case characters
        alphabet = string.ascii_uppercase + string.digits
        return (
            "T"
            + self._random.choice(string.ascii_uppercase)
            + "".join(self._random.choice(alphabet) for _ in range(8))
        )

    def checkout_request_id(self, at: float, phone: str, taken: set[str] | dict[str, Any]) -> str:
        """ "ws_CO_" + DDMMYYYYHHMMSS + milliseconds + the phone's last 9 digits, unique."""
        stamp = datetime.fromtimestamp(at, EAT)
        millis = int((at % 1) * 1000)
        for bump in range(1000):
            candidate = f"ws_CO_{stamp:%d%m%Y%H%M%S}{(millis + bump) % 1000:03d}{phone[-9:]}"
            if candidate not in taken:
                return candidate
        return f"ws_CO_{stamp:%d%m%Y%H%M%S}{self._digits(3)}{phone[-9:]}{self._digits(4)}"


def eat_stamp(at: float) -> str:
    """YYYYMMDDHHmmss in Nairobi time, as in Timestamp and TransactionDate."""
    return f"{datetime.fromtimestamp(at, UTC).astimezone(EAT):%Y%m%d%H%M%S}"


def password_for(shortcode: str, passkey: str, timestamp: str) -> str:
    """Password = base64(BusinessShortCode + Passkey + Timestamp) (2.1)."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def normalise_phone(value: str | int) -> str:
    """`0712…`, `712…`, `+254 712…` -> `254712…`; ValueError if it is not 254 + 7/1 + 8 digits (6)."""
    text = re.sub(r"[\s+-]", "", str(value))
    if re.fullmatch(r"0[71][0-9]{8}", text):
        text = "254" + text[1:]
    elif re.fullmatch(r"[71][0-9]{8}", text):
        text = "254" + text
    if not _PHONE.fullmatch(text):
        raise ValueError(f"{value!r} is not a Safaricom MSISDN (2547XXXXXXXX or 2541XXXXXXXX)")
    return text


def _digits(value: Any) -> str | None:
    """A numeric field sent as a JSON number or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return value
    return None


def _amount(value: Any) -> int | None:
    """Whole shillings: 50, 50.0, "50" or "50.00"; never 50.5, 0, negative or true."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(Decimal(value))
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return None


def _timestamp(value: Any) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{14}", value):
        return None
    try:
        datetime.strptime(value, "%Y%m%d%H%M%S")  # a local EAT wall-clock value
    except ValueError:
        return None
    return value


def _password(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return value


@dataclass(frozen=True)
class PushFields:
    """A well-formed STK push request (2.1), normalised."""

    shortcode: str
    password: str
    timestamp: str
    transaction_type: str
    amount: int
    party_a: str
    party_b: str
    phone: str
    callback_url: str
    account_reference: str
    transaction_desc: str | None


@dataclass(frozen=True)
class QueryFields:
    shortcode: str
    password: str
    timestamp: str
    checkout_request_id: str


def _phone_field(value: Any) -> str | None:
    text = _text(value)
    return text if text is not None and _PHONE.fullmatch(text) else None


def _url(value: Any, *, require_https: bool) -> str | None:
    if not isinstance(value, str) or not value or value != value.strip() or re.search(r"\s", value):
        return None
    parts = urlsplit(value)
    schemes = ("https",) if require_https else ("http", "https")
    if parts.scheme not in schemes or not parts.hostname:
        return None
    return value


def _require(body: dict[str, Any], field: str, value: Any) -> Any:
    if value is None:
        raise DarajaError.invalid(field)
    return value


def validate_push(body: dict[str, Any], *, require_https: bool = False) -> PushFields:
    """Field by field in the documented order; the first bad one is named in the 400.002.02 error."""
    shortcode = _digits(body.get("BusinessShortCode"))
    if shortcode is None or not 5 <= len(shortcode) <= 6:
        raise DarajaError.invalid("BusinessShortCode")
    password = _require(body, "Password", _password(body.get("Password")))
    timestamp = _require(body, "Timestamp", _timestamp(body.get("Timestamp")))
    transaction_type = body.get("TransactionType")
    if transaction_type not in TRANSACTION_TYPES:
        raise DarajaError.invalid("TransactionType")
    amount = _amount(body.get("Amount"))
    if amount is None or not 1 <= amount <= MAX_AMOUNT:
        raise DarajaError.invalid("Amount")
    party_a = _require(body, "PartyA", _phone_field(body.get("PartyA")))
    party_b = _digits(body.get("PartyB"))
    if party_b is None or not 5 <= len(party_b) <= 7:
        raise DarajaError.invalid("PartyB")
    phone = _require(body, "PhoneNumber", _phone_field(body.get("PhoneNumber")))
    callback_url = _require(body, "CallBackURL", _url(body.get("CallBackURL"), require_https=require_https))
    reference = _text(body.get("AccountReference"))
    if reference is None or not 1 <= len(reference) <= 12:
        raise DarajaError.invalid("AccountReference")
    desc: str | None = None
    if body.get("TransactionDesc") is not None:  # the only optional field (2.1)
        desc = _text(body["TransactionDesc"])
        if desc is None or len(desc) > 13:
            raise DarajaError.invalid("TransactionDesc")
    return PushFields(
        shortcode=shortcode,
        password=str(password),
        timestamp=str(timestamp),
        transaction_type=str(transaction_type),
        amount=amount,
        party_a=str(party_a),
        party_b=party_b,
        phone=str(phone),
        callback_url=str(callback_url),
        account_reference=reference,
        transaction_desc=desc,
    )


def validate_query(body: dict[str, Any]) -> QueryFields:
    shortcode = _digits(body.get("BusinessShortCode"))
    if shortcode is None or not 5 <= len(shortcode) <= 7:  # the query doc allows 5-7 digits (2.1)
        raise DarajaError.invalid("BusinessShortCode")
    password = _require(body, "Password", _password(body.get("Password")))
    timestamp = _require(body, "Timestamp", _timestamp(body.get("Timestamp")))
    checkout = body.get("CheckoutRequestID")
    if not isinstance(checkout, str) or not checkout:
        raise DarajaError.invalid("CheckoutRequestID")
    return QueryFields(shortcode, str(password), str(timestamp), checkout)


def callback_body(
    merchant_request_id: str,
    checkout_request_id: str,
    result_code: int,
    result_desc: str,
    *,
    amount: int | float | Decimal | None = None,
    receipt: str | None = None,
    transaction_date: str | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """The JSON POSTed to CallBackURL (3.1, 3.2); CallbackMetadata only when result_code is 0."""
    callback: dict[str, Any] = {
        "MerchantRequestID": merchant_request_id,
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": result_code,
        "ResultDesc": result_desc,
    }
    if result_code == 0:
        items: list[dict[str, Any]] = [
            {"Name": "Amount", "Value": float(amount if amount is not None else 0)},
            {"Name": "MpesaReceiptNumber", "Value": receipt or ""},
            {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": int(transaction_date or 0)},
            {"Name": "PhoneNumber", "Value": int(phone or 0)},
        ]
        callback["CallbackMetadata"] = {"Item": items}
    return {"Body": {"stkCallback": callback}}
