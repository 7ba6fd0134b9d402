"""What the portal (HTML and JSON) asks of billing and payments: offer, buy, follow, come back.

The portal never touches tables: it calls `Checkout`, renders `OrderStatus`, and listens on
`order_channel(order_id)` for the same `OrderStatus.as_dict()` whenever anything changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from hotspot.access.grants import GrantService
from hotspot.access.tables import GrantState
from hotspot.billing import Catalog, Currencies, Discounts, Pricing, PricingError, Promos, Quote
from hotspot.billing.promos import PromoRefused
from hotspot.config import PaymentSettings
from hotspot.contracts import Money
from hotspot.errors import Refused
from hotspot.payments.phone import InvalidPhone, mask_phone, normalize_phone
from hotspot.payments.service import Payments, new_id
from hotspot.payments.states import PaymentState
from hotspot.payments.tables import Order, Payment

__all__ = [
    "BuyRequest",
    "Checkout",
    "CheckoutError",
    "DeviceLogin",
    "OrderState",
    "OrderStatus",
    "PackageOffer",
    "order_channel",
]

OrderState = Literal["waiting", "activating", "online", "failed", "ended"]


def order_channel(order_id: str) -> str:
    """The channel every change of an order's status is published on."""
    return f"order:{order_id}"


class CheckoutError(Refused):
    """A purchase the customer can fix (or wait out): `field` names the input, when one is to blame."""


@dataclass(frozen=True)
class PackageOffer:
    """A package as the portal shows it, priced in one currency."""

    id: int
    name: str
    description: str
    price: Money
    seconds: int
    bytes_total: int | None
    down_bps: int | None
    up_bps: int | None
    devices: int

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["price"] = {"amount": self.price.amount, "currency": self.price.currency}
        return data


@dataclass(frozen=True)
class BuyRequest:
    """The portal's form (or API body): which package, who pays, which device, behind which router."""

    package_id: int
    phone: str
    mac: str | None = None
    ip: str | None = None
    router: str | None = None
    promo: str | None = None
    currency: str | None = None
    gateway: str | None = None
    link_login_only: str | None = None
    link_orig: str | None = None
    client_ip: str | None = None


@dataclass(frozen=True)
class DeviceLogin:
    """Credentials for the router's own login page, when the box could not log the device in."""

    username: str
    password: str
    link_login_only: str
    dst: str | None


@dataclass(frozen=True)
class OrderStatus:
    """Where an order stands, in the customer's terms.

    waiting: the PIN prompt is on the phone; activating: paid, access is being set up;
    online: access is live (remaining_* count down); failed: the last attempt did not go through
    (`reason` says why, `retry` whether the same order may be paid again); ended: used up.
    """

    order_id: str
    payment_id: str | None
    state: OrderState
    reason: str
    package: str
    amount: Money
    phone: str | None  # masked
    seconds_total: int | None
    bytes_total: int | None
    remaining_seconds: int | None
    remaining_bytes: int | None
    expires_at: float | None
    login: DeviceLogin | None
    updated_at: float

    @property
    def retry(self) -> bool:
        return self.state == "failed"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["amount"] = {"amount": self.amount.amount, "currency": self.amount.currency}
        data["retry"] = self.retry
        return data


class Checkout:
    """The portal's operations over the catalogue, payments and grants."""

    def __init__(
        self,
        catalog: Catalog,
        payments: Payments,
        grants: GrantService,
        *,
        currency: str,
        settings: PaymentSettings | None = None,
        publish: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        pricing: Pricing | None = None,
    ) -> None:
        self.catalog = catalog
        self.payments = payments
        self.grants = grants
        self.currency = currency
        self.settings = settings or PaymentSettings()
        self.publish = publish
        self.clock = clock
        if pricing is None:
            currencies = Currencies(currency, payments.gateways)
            pricing = Pricing(catalog, currencies, Discounts([], currencies), Promos(payments.db))
        self.pricing = pricing
        # Who may not buy at all (a blocked phone or device, a device its phone is not bound
        # to): hotspot.customers sets it; it raises CheckoutError.
        self.gate: Callable[[str | None, str | None], Awaitable[None]] | None = None
        # One clock for a whole purchase: quotes, promo windows and repeat-customer counting.
        pricing.clock = pricing.promos.clock = self._now
        pricing.history = self.paid_purchases
        payments.on_order_change = self.order_changed

    def _now(self) -> float:
        return self.clock()

    # --- offering ------------------------------------------------------------------------------

    async def packages(self, currency: str | None = None) -> list[PackageOffer]:
        """List prices in one currency: the owner's own, or converted at the configured rate."""
        code = (currency or self.currency).upper()
        offers: list[PackageOffer] = []
        for p in await self.catalog.visible():
            price = self.pricing.currencies.price(p.prices, code)
            if price is None:
                continue
            offers.append(
                PackageOffer(
                    id=p.id,
                    name=p.name,
                    description=p.description,
                    price=price.money,
                    seconds=p.seconds,
                    bytes_total=p.bytes_total,
                    down_bps=p.down_bps,
                    up_bps=p.up_bps,
                    devices=p.devices,
                )
            )
        return offers

    async def currencies(self) -> list[str]:
        """What the portal can offer: currencies an enabled gateway takes and some package is
        priced in (its own price or a converted one); the business currency first."""
        packages = await self.catalog.visible()
        prices = self.pricing.currencies
        return [
            code
            for code in prices.accepted()
            if any(prices.price(p.prices, code) is not None for p in packages)
        ]

    async def quote(
        self,
        package_id: int,
        currency: str | None = None,
        *,
        phone: str | None = None,
        promo: str | None = None,
        client_ip: str | None = None,
    ) -> Quote:
        """The price the portal shows before paying (and the order will charge)."""
        number = self._phone(phone) if phone else None
        try:
            return await self.pricing.quote(
                package_id, (currency or self.currency).upper(), phone=number, promo=promo, client=client_ip
            )
        except PricingError as exc:
            raise CheckoutError(exc.message, field=exc.field, status_code=exc.status_code) from None

    async def paid_purchases(self, phone: str, since: float) -> int:
        """Orders this phone paid since then (repeat-customer discounts count them)."""
        query = Order.count().where(
            (Order.phone == phone) & (Order.state == "paid") & (Order.paid_at >= since)
        )
        return int(await query.run())

    def _gateway_for(self, requested: str | None, currency: str) -> str:
        gateways = self.payments.gateways
        if requested:
            if requested not in gateways:
                raise CheckoutError(f"No payment method called {requested!r}", field="gateway")
            if currency not in gateways[requested].currencies:
                raise CheckoutError(
                    f"{gateways[requested].display_name} does not take {currency}", field="currency"
                )
            return requested
        for gateway_id, gateway in gateways.items():
            if currency in gateway.currencies:
                return gateway_id
        raise CheckoutError(
            "Payments are not available right now. Please ask at the counter.", status_code=503
        )

    # --- buying --------------------------------------------------------------------------------

    async def buy(self, request: BuyRequest) -> OrderStatus:
        """Price the order (billing.pricing), hold its promo use, and send the payment prompt."""
        currency = (request.currency or self.currency).upper()
        phone = self._phone(request.phone)
        quote = await self.quote(
            request.package_id, currency, phone=phone, promo=request.promo, client_ip=request.client_ip
        )
        package = await self.catalog.get(quote.package_id)
        gateway_id = self._gateway_for(request.gateway, currency)
        await self._check_limits(phone, request.mac)
        order_id = new_id("o")
        terms = {
            "seconds": package.seconds,
            "bytes_total": package.bytes_total,
            "down_bps": package.down_bps,
            "up_bps": package.up_bps,
            "devices": package.devices,
        }
        order = Order(
            id=order_id,
            package_id=package.id,
            package_name=package.name,
            terms=json.dumps(terms),
            amount=quote.total.amount,
            currency=quote.currency,
            promo_code=quote.promo.code if quote.promo else None,
            list_amount=quote.base.amount,
            discount_detail=json.dumps(quote.detail()),
            phone=phone,
            mac=request.mac,
            ip=request.ip,
            router=request.router,
            link_login_only=request.link_login_only,
            link_orig=request.link_orig,
            state="open",
            created_at=self.clock(),
        )
        try:
            async with self.payments.db.transaction():
                if quote.promo is not None and quote.promo_terms is not None:
                    await self.pricing.promos.reserve(quote.promo_terms, order_id, phone, quote.promo.amount)
                await Order.insert(order).run()
        except PromoRefused as exc:  # used up (or by this phone) by another order meanwhile
            raise CheckoutError(exc.message, field="promo", status_code=exc.status_code) from None
        row = await self._order(order_id)
        await self.payments.start(row, gateway_id, phone)
        return await self.status(order_id)

    async def retry(self, order_id: str, phone: str | None = None) -> OrderStatus:
        status = await self.status(order_id)
        if status.state != "failed":
            raise CheckoutError("This order is not waiting for a new payment", status_code=409)
        order = await self._order(order_id)
        number = self._phone(phone) if phone else order["phone"]
        await self._check_limits(number, order["mac"])
        gateway_id = self._gateway_for(None, order["currency"])
        if order["promo_code"]:  # a failed payment gave its promo use back: take it again
            try:
                await self.pricing.promos.renew(order_id, number)
            except PromoRefused as exc:
                raise CheckoutError(
                    f"{exc.message} Start a new order to pay without it.", field="promo", status_code=409
                ) from None
        if number != order["phone"]:
            async with self.payments.db.write_lock():
                await Order.update({Order.phone: number}).where(Order.id == order_id).run()
            order["phone"] = number
        await self.payments.start(order, gateway_id, number)
        return await self.status(order_id)

    @staticmethod
    def _phone(raw: str) -> str:
        try:
            return normalize_phone(raw)
        except InvalidPhone as exc:
            raise CheckoutError(str(exc), field="phone") from None

    async def admit(self, phone: str | None, mac: str | None) -> None:
        """Refuse a phone or device the owner blocked, or a device its phone is not bound to:
        the one check every purchase (and every voucher redeem) passes before anything starts."""
        if self.gate is not None:
            await self.gate(phone, mac)

    async def _check_limits(self, phone: str | None, mac: str | None) -> None:
        """No prompt-bombing a stranger's phone, no hammering from one device; nobody blocked."""
        await self.admit(phone, mac)
        since = self.clock() - 3600
        if phone:
            waiting = (
                await Payment.count()
                .where(
                    (Payment.phone == phone)
                    & Payment.state.is_in([PaymentState.CREATED, PaymentState.PENDING])
                )
                .run()
            )
            if waiting:
                raise CheckoutError(
                    "A payment prompt is already waiting on this phone. Answer it, or wait a minute "
                    "and try again.",
                    field="phone",
                    status_code=429,
                )
            recent = (
                await Payment.count().where((Payment.phone == phone) & (Payment.created_at > since)).run()
            )
            if recent >= self.settings.per_phone_per_hour:
                raise CheckoutError(
                    "This number has had too many payment prompts in the last hour. "
                    "Try again later or use another number.",
                    field="phone",
                    status_code=429,
                )
        if mac:
            recent = await Payment.count().where((Payment.mac == mac) & (Payment.created_at > since)).run()
            if recent >= self.settings.per_device_per_hour:
                raise CheckoutError(
                    "Too many payments were started from this device in the last hour. Please try later.",
                    status_code=429,
                )

    # --- following -----------------------------------------------------------------------------

    async def _order(self, order_id: str) -> dict[str, Any]:
        row = await Order.select().where(Order.id == order_id).first().run()
        if row is None:
            raise CheckoutError("No such order", status_code=404)
        return dict(row)

    async def status(self, order_id: str) -> OrderStatus:
        order = await self._order(order_id)
        payment = await (
            Payment.select()
            .where(Payment.order_id == order_id)
            .order_by(Payment.created_at, ascending=False)
            .first()
            .run()
        )
        grant = None
        if order["grant_id"] is not None:
            grant = await self.grants.get(int(order["grant_id"]), with_password=True)
        return self._compose(order, payment, grant)

    def _compose(
        self, order: dict[str, Any], payment: dict[str, Any] | None, grant: dict[str, Any] | None
    ) -> OrderStatus:
        now = self.clock()
        terms = order["terms"] if isinstance(order["terms"], dict) else json.loads(order["terms"] or "{}")
        state: OrderState
        reason = ""
        remaining_seconds = remaining_bytes = None
        expires_at = None
        login = None
        if grant is not None:
            if grant["state"] == GrantState.ACTIVE and grant["applied_version"] > 0:
                state = "online"
                expires_at = grant["expires_at"]
                if expires_at is not None:
                    remaining_seconds = max(int(expires_at - now), 0)
                if grant["bytes_total"] is not None:
                    used = int(grant["bytes_in"]) + int(grant["bytes_out"])
                    remaining_bytes = max(int(grant["bytes_total"]) - used, 0)
                if remaining_seconds == 0 or remaining_bytes == 0:
                    state = "ended"
                login = self._device_login(order, grant)
            elif grant["state"] == GrantState.PENDING:
                state = "activating"
            else:
                state = "ended"
                reason = grant["end_reason"] or ""
        elif payment is None or payment["state"] in (PaymentState.CREATED, PaymentState.PENDING):
            state = "waiting"
        elif payment["state"] == PaymentState.SUCCEEDED:
            state = "activating"
        else:
            state = "failed"
            reason = payment["reason"] or (
                "timeout" if payment["state"] == PaymentState.EXPIRED else str(payment["state"])
            )
        return OrderStatus(
            order_id=order["id"],
            payment_id=payment["id"] if payment else None,
            state=state,
            reason=reason,
            package=order["package_name"],
            amount=Money(int(order["amount"]), order["currency"]),
            phone=mask_phone(order["phone"]),
            seconds_total=terms.get("seconds"),
            bytes_total=terms.get("bytes_total"),
            remaining_seconds=remaining_seconds,
            remaining_bytes=remaining_bytes,
            expires_at=expires_at,
            login=login,
            updated_at=now,
        )

    @staticmethod
    def _device_login(order: dict[str, Any], grant: dict[str, Any]) -> DeviceLogin | None:
        """The router's login page is needed when the box could not log the device in itself."""
        if not order["link_login_only"]:
            return None
        refused = (grant["last_error"] or "").startswith("device login refused")
        if not refused and order["mac"] and order["ip"]:
            return None
        return DeviceLogin(grant["username"], grant["password"], order["link_login_only"], order["link_orig"])

    async def for_device(self, mac: str) -> OrderStatus | None:
        rows = await (
            Order.select().where(Order.mac == mac).order_by(Order.created_at, ascending=False).limit(5).run()
        )
        for row in rows:
            status = await self.status(row["id"])
            if status.state in ("waiting", "activating", "online"):
                return status
        return None

    async def order_changed(self, order_id: str) -> None:
        """Keep the order's promo use in step with it, and tell whoever follows the order (the
        portal's SSE) where it stands now."""
        status = await self.status(order_id)
        await self.pricing.promos.follow(
            order_id, paid=status.state in ("activating", "online", "ended"), failed=status.state == "failed"
        )
        if self.publish is not None:
            await self.publish(order_channel(order_id), status.as_dict())

    async def grant_changed(self, grant_id: int) -> None:
        rows = await Order.select(Order.id).where(Order.grant_id == grant_id).run()
        for row in rows:
            await self.order_changed(row["id"])
