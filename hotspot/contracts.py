"""What plugins provide and what the core hands them: Protocols that behave, dataclasses that carry.

Hooks (hotspot.plugins.hookspecs) return objects that satisfy these Protocols; the core calls
them and decides what a result means (a gateway reports, the core grants). Every amount of
money is a `Money`: integer minor units plus an ISO 4217 code, never a float.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

__all__ = [
    "AccountingSink",
    "ActiveSession",
    "CallbackReport",
    "ChargeLimits",
    "FailureReason",
    "FraudContext",
    "FraudDetector",
    "FraudVerdict",
    "GatewayResult",
    "GrantSpec",
    "Health",
    "HealthStatus",
    "LedgerEntry",
    "Money",
    "Notification",
    "Notifier",
    "PaymentConfirmed",
    "PaymentGateway",
    "PaymentInbox",
    "PaymentRequest",
    "PaymentStatus",
    "PluginInfo",
    "PluginKind",
    "RouterDriver",
    "RouterStatusChanged",
    "RouterTarget",
    "SecurityEvent",
    "SessionChanged",
    "SetupStep",
    "UserUsage",
    "charge_limits",
]

PluginKind = Literal[
    "payment_gateway", "router_driver", "notifier", "accounting_sink", "fraud_detector", "other"
]
HealthStatus = Literal["ok", "degraded", "down"]


@dataclass(frozen=True)
class PluginInfo:
    """A plugin module's `PLUGIN` attribute: who it is and the model of its YAML block.

    `config` must subclass hotspot.config.PluginSettings (which supplies `enabled`).
    `piccolo_app` is the dotted module of the plugin's own Piccolo app, if it keeps rows.
    `routes_path` is where its register_routes handlers are mounted (default /hooks/<name>);
    a gateway whose provider forbids words in callback URLs (Daraja: "mpesa") picks its own.
    """

    name: str
    kind: PluginKind
    description: str
    config: type[BaseModel]
    version: str | None = None
    piccolo_app: str | None = None
    routes_path: str | None = None


@dataclass(frozen=True)
class Health:
    """A part's state as /healthz and the admin show it."""

    status: HealthStatus
    detail: str = ""
    latency_ms: float | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)  # e.g. active_sessions, checked_at


@dataclass(frozen=True, order=True)
class Money:
    """An exact amount: integer minor units (cents) of an ISO 4217 currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 code: {self.currency!r}")


# --- payment gateways ------------------------------------------------------------------------


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class PaymentRequest:
    """One attempt to pay an order, as the core asks a gateway to start it."""

    payment_id: str
    order_id: str
    amount: Money
    description: str
    phone: str | None = None
    callback_url: str | None = None  # public base of the plugin's routes (<public_url>/hooks/<plugin>)
    metadata: Mapping[str, str] = field(default_factory=dict)


FailureReason = Literal[
    "", "cancelled", "timeout", "insufficient_funds", "wrong_pin", "unreachable", "declined", "busy", "error"
]


@dataclass(frozen=True)
class GatewayResult:
    """What a gateway reports; the core checks amount, currency and reference before granting.

    `amount` None on a SUCCEEDED verify means the provider confirmed the reference exactly as it
    was requested at initiation (Daraja's STK Query carries no amount: it confirms *our* push).
    `reason` says why a payment did not succeed, in words the portal turns into a next step;
    `payer` is who paid (an MSISDN for M-Pesa), compared with the stored phone when given.
    """

    status: PaymentStatus
    reference: str | None = None
    amount: Money | None = None
    receipt: str | None = None
    message: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)
    reason: FailureReason = ""
    payer: str | None = None


@dataclass(frozen=True)
class ChargeLimits:
    """What a gateway can charge in one currency, in minor units: a multiple of `step` from
    `minimum` to `maximum` (M-Pesa: whole shillings, KES 1 to KES 250,000 = 100, 100, 25_000_000).

    Prices are rounded to the step before the customer sees them, so a discount never produces
    an amount the gateway would refuse."""

    step: int = 1
    minimum: int = 1
    maximum: int | None = None

    def __post_init__(self) -> None:
        if self.step < 1 or self.minimum < 1 or (self.maximum is not None and self.maximum < self.minimum):
            raise ValueError(f"impossible charge limits: {self}")


@runtime_checkable
class PaymentGateway(Protocol):
    """Starts and verifies payments. Webhooks arrive through the plugin's register_routes.

    `currencies` are the ISO 4217 codes it takes. A gateway may also carry an optional
    `charge_limits: Mapping[str, ChargeLimits]` (read through `charge_limits()`): without it,
    any positive number of minor units is chargeable.
    """

    id: str
    display_name: str
    currencies: frozenset[str]

    async def initiate(self, request: PaymentRequest) -> GatewayResult:
        """Ask the provider to collect; return PENDING with the provider's reference."""
        ...

    async def verify(self, reference: str) -> GatewayResult:
        """Ask the provider what became of a payment (never trust a callback alone)."""
        ...

    async def health(self) -> Health: ...


def charge_limits(gateway: PaymentGateway, currency: str) -> ChargeLimits:
    """The gateway's limits in `currency` (its optional `charge_limits` attribute), else none."""
    declared = getattr(gateway, "charge_limits", None)
    limits = declared.get(currency) if isinstance(declared, Mapping) else None
    return limits if isinstance(limits, ChargeLimits) else ChargeLimits()


@dataclass(frozen=True)
class CallbackReport:
    """A gateway's webhook as its plugin received it, handed to the core's PaymentInbox.

    `raw` is the body exactly as received; the core stores it before anything else. `problem`
    set (wrong path, source IP not allowed, unreadable body) means the plugin rejected it:
    it is kept as a suspicious event and grants nothing. Otherwise `reference` and `claimed`
    say what the callback asserts; the core believes none of it until `verify` agrees.
    """

    gateway: str
    raw: bytes
    source_ip: str | None
    reference: str | None = None
    claimed: GatewayResult | None = None
    problem: str | None = None


@runtime_checkable
class PaymentInbox(Protocol):
    """Where a gateway plugin's webhook route hands callbacks to the core.

    A plugin route asks for it by parameter name: `payment_inbox: PaymentInbox`.
    """

    async def callback(self, report: CallbackReport) -> str:
        """Store, match and (after verification) act on a callback; returns the verdict, e.g.
        "accepted", "duplicate", "unknown_reference", "mismatch", "rejected"."""
        ...


# --- routers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouterTarget:
    """One configured router as a driver needs it; the password is already resolved."""

    name: str
    host: str
    port: int
    username: str
    password: str
    use_tls: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GrantSpec:
    """Access to put on a router: who, for how long, how fast, how much."""

    username: str
    password: str
    profile: str
    seconds: int | None
    bytes_total: int | None
    down_bps: int | None
    up_bps: int | None
    devices: int = 1
    mac: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class ActiveSession:
    """A device online right now, as the router reports it."""

    session_id: str
    username: str
    mac: str
    ip: str
    uptime_seconds: int
    bytes_in: int
    bytes_out: int


@dataclass(frozen=True)
class UserUsage:
    """A router user's counters over its *ended* sessions (RouterOS adds them at logout)."""

    username: str
    uptime_seconds: int
    bytes_in: int
    bytes_out: int


@runtime_checkable
class RouterDriver(Protocol):
    """Talks to one make of router; one instance serves every router of that make."""

    kind: str

    async def health(self, target: RouterTarget) -> Health: ...

    async def grant(self, target: RouterTarget, spec: GrantSpec) -> None:
        """Create or update the user for spec and log the device in when mac and ip are known."""
        ...

    async def login(self, target: RouterTarget, username: str, password: str, mac: str, ip: str) -> None:
        """Log a device in under an existing user (another device on a multi-device grant)."""
        ...

    async def revoke(self, target: RouterTarget, username: str) -> None: ...

    async def disconnect(self, target: RouterTarget, session_id: str) -> None: ...

    async def set_speed(
        self, target: RouterTarget, username: str, down_bps: int | None, up_bps: int | None
    ) -> None: ...

    async def active_sessions(self, target: RouterTarget) -> list[ActiveSession]: ...

    async def user_usage(self, target: RouterTarget) -> list[UserUsage]:
        """Counters of the users this box created, so usage of sessions that ended between
        two syncs is not lost."""
        ...


# --- notifiers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """A message for the owner or a customer; `to` empty means the owner's configured targets."""

    subject: str
    body: str
    kind: str = "info"
    severity: Literal["info", "warning", "critical"] = "info"
    to: tuple[str, ...] = ()


@runtime_checkable
class Notifier(Protocol):
    id: str

    async def send(self, notification: Notification) -> None:
        """Deliver or raise; the core logs a failure and tries the other notifiers."""
        ...


# --- accounting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    """A settled sale or refund to copy into the owner's books."""

    entry_id: str
    occurred_at: datetime
    amount: Money
    description: str
    gateway: str
    reference: str | None = None
    refund: bool = False


@runtime_checkable
class AccountingSink(Protocol):
    id: str

    async def export(self, entry: LedgerEntry) -> str | None:
        """Record entry in the books; return the external id. Must be idempotent on entry_id."""
        ...


# --- fraud -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FraudContext:
    """What is known about an attempt (payment, voucher redeem, login) when it is scored."""

    event: str
    at: datetime
    phone: str | None = None
    mac: str | None = None
    ip: str | None = None
    amount: Money | None = None
    features: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FraudVerdict:
    """A detector's opinion in [0, 1]; the core combines verdicts and decides."""

    score: float
    reasons: tuple[str, ...] = ()


@runtime_checkable
class FraudDetector(Protocol):
    id: str

    async def score(self, context: FraudContext) -> FraudVerdict: ...

    async def learn(self, context: FraudContext, fraudulent: bool) -> None: ...


# --- setup wizard ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupStep:
    """A page of the setup wizard a plugin contributes (HA's config flow: connect before save).

    `validate` receives the submitted form and returns errors keyed by field ("" = whole form);
    an empty dict means the step may be saved.
    """

    id: str
    title: str
    template: str
    form: type[BaseModel]
    validate: Callable[[BaseModel], Awaitable[dict[str, str]]]
    order: int = 100


# --- events (arguments of the async event hooks) ---------------------------------------------


@dataclass(frozen=True)
class PaymentConfirmed:
    """A payment the gateway confirmed and the core matched to its order."""

    payment_id: str
    order_id: str
    amount: Money
    gateway: str
    reference: str
    at: datetime


@dataclass(frozen=True)
class SessionChanged:
    """A device went online or offline under a grant."""

    grant_id: str
    router: str
    mac: str | None
    started: bool
    at: datetime
    reason: str = ""


@dataclass(frozen=True)
class RouterStatusChanged:
    router: str
    previous: HealthStatus | None
    current: HealthStatus
    detail: str
    at: datetime


@dataclass(frozen=True)
class SecurityEvent:
    """Something the owner should know about: failed logins, voucher guessing, a new admin IP."""

    kind: str
    detail: str
    severity: Literal["info", "warning", "critical"]
    at: datetime
    ip: str | None = None
    subject: str | None = None
