"""The ``plugins.mpesa`` block of the YAML: which Daraja, which shortcode, which credentials.

Credentials are optional while the plugin is disabled (an owner who switches M-Pesa off and
deletes its keys must still be able to start the box) and required once it is enabled.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from typing import Literal, Self

from pydantic import ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from hotspot.config import PluginSettings

__all__ = [
    "BASE_URLS",
    "FORBIDDEN_URL_WORDS",
    "MAX_ACCOUNT_REFERENCE",
    "SAFARICOM_CALLBACK_SOURCES",
    "MpesaSettings",
]

BASE_URLS = {
    "sandbox": "https://sandbox.safaricom.co.ke",
    "production": "https://api.safaricom.co.ke",
}

# Daraja's "Callback and IP Whitelisting" list (Getting Started), plus the two addresses mpesakit
# adds (196.201.212.128 and .132). Safaricom changes it now and then: the key is configurable.
SAFARICOM_CALLBACK_SOURCES = (
    "196.201.214.200",
    "196.201.214.206",
    "196.201.213.114",
    "196.201.214.207",
    "196.201.214.208",
    "196.201.213.44",
    "196.201.212.127",
    "196.201.212.138",
    "196.201.212.129",
    "196.201.212.136",
    "196.201.212.74",
    "196.201.212.69",
    "196.201.212.128",
    "196.201.212.132",
)

# Daraja refuses callback URLs containing any of these words, in any case.
FORBIDDEN_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query")
MAX_ACCOUNT_REFERENCE = 12  # AccountReference is at most 12 characters (shown in the prompt)

_DIGITS = re.compile(r"[0-9]{5,7}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
_REQUIRED_WHEN_ENABLED = ("shortcode", "passkey", "consumer_key", "consumer_secret")


def _forbidden_word(url: str) -> str | None:
    lowered = url.lower()
    return next((word for word in FORBIDDEN_URL_WORDS if word in lowered), None)


class MpesaSettings(PluginSettings):
    """M-Pesa Express (STK push) through Safaricom's Daraja API.

    Secrets (passkey, consumer key and secret, callback token) belong in ``{$env: NAME}`` or
    ``{$file: PATH}``; they are never printed back, not even in validation errors.
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    environment: Literal["sandbox", "production", "custom"] = Field(
        "sandbox",
        description=(
            "Which Daraja to use: sandbox (sandbox.safaricom.co.ke), production "
            "(api.safaricom.co.ke) or custom (base_url, e.g. the Daraja simulator `hotspot sim daraja`)"
        ),
    )
    base_url: str | None = Field(
        None, description="Daraja's base URL when environment is custom, e.g. http://127.0.0.1:8089"
    )
    shortcode: str | None = Field(
        None,
        description=(
            "BusinessShortCode, 5-7 digits: the PayBill number, or for a till the head-office/store "
            "number used at Go-Live (174379 in the sandbox). Required when enabled"
        ),
    )
    till: str | None = Field(
        None,
        description=(
            "Till number for Buy Goods (CustomerBuyGoodsOnline, paid to this till); leave empty for "
            "PayBill (CustomerPayBillOnline, paid to shortcode)"
        ),
    )
    passkey: SecretStr | None = Field(
        None, description="The Lipa Na M-Pesa Online passkey (emailed after Go-Live). Required when enabled"
    )
    consumer_key: SecretStr | None = Field(
        None, description="The Daraja app's consumer key. Required when enabled"
    )
    consumer_secret: SecretStr | None = Field(
        None, description="The Daraja app's consumer secret. Required when enabled"
    )
    callback_url: str | None = Field(
        None,
        description=(
            "CallBackURL sent to Daraja as is, for a relay with a public HTTPS address that forwards "
            "to this box's /hooks/lnm/<callback token>. Empty: <server.public_url>/hooks/lnm/<token>, "
            "or, without a public URL, payments settle by status queries alone"
        ),
    )
    callback_token: SecretStr | None = Field(
        None,
        description=(
            "The secret last part of the callback path (16-128 of A-Z a-z 0-9 _ -). Empty: derived "
            "from the passkey, consumer key and shortcode, so it survives restarts and is unguessable"
        ),
    )
    allowlist_enabled: bool = Field(
        False,
        description=(
            "Only accept callbacks from allowed_sources. Behind a relay or a proxy that is not in "
            "server.trusted_proxies, callbacks arrive from another address: leave it off then"
        ),
    )
    allowed_sources: list[str] = Field(
        default_factory=lambda: list(SAFARICOM_CALLBACK_SOURCES),
        description="Addresses or networks (CIDR) Daraja sends callbacks from; default: Safaricom's list",
    )
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="Longest one Daraja request may take")
    account_reference: str = Field(
        "HS",
        pattern=r"^[A-Za-z0-9]{1,8}$",
        description=(
            "Start of the AccountReference shown in the customer's prompt (1-8 letters or digits); "
            "the end of the payment id fills it up to Daraja's 12 characters"
        ),
    )

    @field_validator("shortcode", "till")
    @classmethod
    def _short_number(cls, value: str | None) -> str | None:
        if value is not None and not _DIGITS.fullmatch(value):
            raise ValueError("must be 5 to 7 digits")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8089")
        return value.rstrip("/")

    @field_validator("callback_url")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[^\s/?#]+\S*", value):
            raise ValueError("must be an http:// or https:// URL without spaces")
        word = _forbidden_word(value)
        if word is not None:
            raise ValueError(f"Daraja refuses callback URLs containing {word!r}")
        return value

    @field_validator("callback_token")
    @classmethod
    def _callback_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value()
        if not _TOKEN.fullmatch(token):
            raise ValueError("must be 16 to 128 characters of A-Z, a-z, 0-9, _ and -")
        if _forbidden_word(token) is not None:
            raise ValueError("must not contain a word Daraja refuses in callback URLs (mpesa, sql, ...)")
        return value

    @field_validator("allowed_sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return [item.strip() for item in value]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Required-when-enabled keys and the environment/base_url pairing, each at its own key."""
        errors: list[InitErrorDetails] = []

        def fail(key: str, message: str, *, missing: bool = False) -> None:
            # Like pydantic's own "missing" errors, a missing key's input is its block (a mapping,
            # which the loader does not print), so the message is not followed by ", got None".
            value = (
                {"enabled": self.enabled, "environment": self.environment} if missing else getattr(self, key)
            )
            errors.append(
                InitErrorDetails(type=PydanticCustomError("value_error", message), loc=(key,), input=value)
            )

        if self.environment == "custom" and self.base_url is None:
            fail("base_url", "is required when environment is custom (Daraja's base URL)", missing=True)
        if self.environment != "custom" and self.base_url is not None:
            fail("base_url", f"is only used with environment: custom (the {self.environment} URL is fixed)")
        if self.allowlist_enabled and not self.allowed_sources:
            fail("allowed_sources", "is empty while allowlist_enabled is on: every callback would be dropped")
        if self.enabled:
            for key in _REQUIRED_WHEN_ENABLED:
                if getattr(self, key) is None:
                    fail(key, "is required when the plugin is enabled", missing=True)
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    # --- derived values ----------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        """Daraja's base URL for the chosen environment."""
        if self.environment == "custom":
            assert self.base_url is not None  # checked by _consistent
            return self.base_url
        return BASE_URLS[self.environment]

    def effective_callback_token(self) -> str:
        """The configured token, else hex(HMAC-SHA256(passkey, "hotspot-callback:<key>:<shortcode>"))[:32].

        Derived rather than random so that every worker process and every restart agree on it
        without storing anything, and unguessable because the passkey is secret.
        """
        if self.callback_token is not None:
            return self.callback_token.get_secret_value()
        if self.passkey is None or self.consumer_key is None or self.shortcode is None:
            raise ValueError("the mpesa plugin needs passkey, consumer_key and shortcode to derive its token")
        message = f"hotspot-callback:{self.consumer_key.get_secret_value()}:{self.shortcode}"
        digest = hmac.new(self.passkey.get_secret_value().encode(), message.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def allowed_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(item, strict=False) for item in self.allowed_sources)
