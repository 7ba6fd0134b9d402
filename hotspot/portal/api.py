"""The portal as JSON, for the installable app and integrators: packages, buy, follow an order.

Errors use the one shape of hotspot.http.errors, naming the field to blame::

    {"error": {"status": 400, "code": "bad_request", "message": "...",
               "fields": [{"field": "phone", "message": "..."}], "request_id": "..."}}

An order's status never carries the device login (that goes only to the browser that bought it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from hotspot.accounts.guards import PUBLIC
from hotspot.addresses import normalize_mac, parse_ip
from hotspot.errors import Refused
from hotspot.http.client import client_ip
from hotspot.http.errors import refused_response
from hotspot.payments.checkout import BuyRequest, CheckoutError, OrderStatus, PackageOffer
from hotspot.payments.phone import InvalidPhone, normalize_phone
from hotspot.portal.format import format_duration, format_money
from hotspot.portal.views import checkout_of
from hotspot.runtime import Hotspot

__all__ = [
    "ErrorOut",
    "OrderIn",
    "OrderOut",
    "PackageList",
    "PackageOut",
    "PortalApi",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MoneyOut(_Model):
    amount: int = Field(description="Integer minor units (cents): 5000 is KES 50.00")
    currency: str = Field(description="ISO 4217 code, e.g. KES")


class PackageOut(_Model):
    id: int = Field(description="Pass as package_id to buy it")
    name: str = Field(description="What the customer sees, e.g. '1 hour'")
    description: str = Field(description="The owner's short description (may be empty)")
    price: MoneyOut = Field(description="Price in the requested (or the business) currency")
    price_text: str = Field(description="The price formatted for display, e.g. 'KES 50'")
    seconds: int = Field(description="Access time in seconds, counted from the first login")
    duration_text: str = Field(description="Access time in words, e.g. '1 hour', '7 days'")
    bytes_total: int | None = Field(description="Data cap in bytes (download + upload); null: unlimited")
    down_bps: int | None = Field(description="Download speed limit in bits per second; null: unlimited")
    up_bps: int | None = Field(description="Upload speed limit in bits per second; null: unlimited")
    devices: int = Field(description="Devices that may be online at once")

    @classmethod
    def of(cls, offer: PackageOffer) -> PackageOut:
        return cls(
            id=offer.id,
            name=offer.name,
            description=offer.description,
            price=MoneyOut(amount=offer.price.amount, currency=offer.price.currency),
            price_text=format_money(offer.price),
            seconds=offer.seconds,
            duration_text=format_duration(offer.seconds),
            bytes_total=offer.bytes_total,
            down_bps=offer.down_bps,
            up_bps=offer.up_bps,
            devices=offer.devices,
        )


class PackageList(_Model):
    packages: list[PackageOut] = Field(description="Packages on sale, in the owner's order")


class OrderIn(_Model):
    package_id: int = Field(ge=1, description="The package to buy (from GET /api/v1/portal/packages)")
    phone: str = Field(
        min_length=1,
        max_length=32,
        description="The M-Pesa number that pays: 07XXXXXXXX, 01XXXXXXXX, 2547XXXXXXXX or +254...",
    )
    mac: str | None = Field(
        None, max_length=32, description="The device's MAC address, as the router reported it"
    )
    ip: str | None = Field(None, max_length=45, description="The device's IP address behind the router")
    router: str | None = Field(
        None, max_length=64, description="The router the device is behind (its name or identity)"
    )
    promo: str | None = Field(None, max_length=40, description="A promo code, if the customer has one")
    currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="ISO 4217 currency to pay in (default: the business's)"
    )


OrderStateOut = Literal["waiting", "activating", "online", "failed", "ended"]


class OrderOut(_Model):
    order_id: str = Field(description="The order's id: keep it to follow the order")
    payment_id: str | None = Field(description="The current payment attempt, if one was started")
    state: OrderStateOut = Field(
        description="waiting: the PIN prompt is on the phone; activating: paid, access being set up; "
        "online: access is live; failed: the last attempt did not go through (see reason); "
        "ended: the access is used up"
    )
    reason: str = Field(
        description="Why it failed: cancelled, timeout, insufficient_funds, wrong_pin, unreachable, "
        "busy, declined or error; empty otherwise"
    )
    retry: bool = Field(description="True when the order may be paid again (POST retry from the portal)")
    package: str = Field(description="The package's name")
    amount: MoneyOut = Field(description="What the order costs, promo applied")
    phone: str | None = Field(description="The paying number, masked (2547•••••678)")
    seconds_total: int | None = Field(description="Access time bought, in seconds")
    bytes_total: int | None = Field(description="Data bought, in bytes; null: unlimited")
    remaining_seconds: int | None = Field(description="Access time left when online, in seconds")
    remaining_bytes: int | None = Field(description="Data left when online and capped, in bytes")
    expires_at: float | None = Field(description="When the access ends (Unix time), when known")
    updated_at: float = Field(description="When the status last changed (Unix time)")

    @classmethod
    def of(cls, status: OrderStatus) -> OrderOut:
        data = status.as_dict()
        data.pop("login", None)  # never credentials over the API
        return cls(**data)


class FieldErrorOut(_Model):
    field: str = Field(description="The input to blame, e.g. phone")
    message: str = Field(description="What is wrong with it, fit to show the customer")


class ErrorBodyOut(_Model):
    status: int
    code: str = Field(description="Machine-readable, e.g. bad_request, not_found, validation_error")
    message: str = Field(description="Fit to show the customer")
    fields: list[FieldErrorOut] | None = Field(
        None, description="Per-field problems, when inputs are to blame"
    )
    request_id: str = Field(description="Quote it when asking for help; it is in the logs")


class ErrorOut(_Model):
    error: ErrorBodyOut


_ERRORS = {
    400: ResponseSpec(ErrorOut, description="Bad input; `fields` names what to fix"),
    404: ResponseSpec(ErrorOut, description="No such order"),
    409: ResponseSpec(ErrorOut, description="The order cannot be bought or paid right now"),
    429: ResponseSpec(ErrorOut, description="Too many payment prompts for this phone or device"),
}


class PortalApi(Controller):
    """JSON for the installable portal app and integrators."""

    path = "/api/v1/portal"
    opt = {PUBLIC: True}  # customers have no account (the portal's own limits apply)
    tags = ["portal"]
    exception_handlers = {Refused: refused_response}

    @get("/packages", summary="Packages on sale", cache=False, responses={400: _ERRORS[400]})
    async def packages(
        self,
        hotspot: NamedDependency[Hotspot],
        currency: Annotated[
            str | None,
            QueryParameter(
                pattern=r"^[A-Z]{3}$",
                description="ISO 4217 currency to price in (default: the business currency)",
                required=False,
            ),
        ] = None,
    ) -> PackageList:
        """The visible packages, priced in one currency, in the owner's order."""
        offers = await checkout_of(hotspot).packages(currency)
        return PackageList(packages=[PackageOut.of(o) for o in offers])

    @post(
        "/orders",
        summary="Buy a package",
        status_code=201,
        responses={k: v for k, v in _ERRORS.items()},
    )
    async def buy(
        self, request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], data: JSONBody[OrderIn]
    ) -> OrderOut:
        """Create an order and send the M-Pesa prompt to `phone`; follow it with GET /orders/{id}."""
        try:
            phone = normalize_phone(data.phone)
        except InvalidPhone as exc:
            raise CheckoutError(str(exc), field="phone", status_code=400) from exc
        mac = normalize_mac(data.mac, dotted=True) if data.mac else None
        if data.mac and mac is None:
            raise CheckoutError("Not a MAC address (e.g. 01:23:45:67:89:AB).", field="mac", status_code=400)
        ip = parse_ip(data.ip) if data.ip else None
        if data.ip and ip is None:
            raise CheckoutError("Not an IP address (e.g. 10.5.50.23).", field="ip", status_code=400)
        status = await checkout_of(hotspot).buy(
            BuyRequest(
                package_id=data.package_id,
                phone=phone,
                mac=mac,
                ip=ip,
                router=(data.router or "").strip() or None,
                promo=(data.promo or "").strip() or None,
                currency=data.currency,
                client_ip=client_ip(request),
            )
        )
        return OrderOut.of(status)

    @get(
        "/orders/{order_id:str}",
        summary="Follow an order",
        cache=False,
        responses={404: _ERRORS[404]},
    )
    async def order(
        self,
        hotspot: NamedDependency[Hotspot],
        order_id: Annotated[
            str, PathParameter(description="The order_id returned when buying", max_length=64)
        ],
    ) -> Response[OrderOut]:
        """Where the order stands; when online, the time and data left. Never credentials."""
        status = await checkout_of(hotspot).status(order_id)
        return Response(OrderOut.of(status), headers={"Cache-Control": "no-store"})
