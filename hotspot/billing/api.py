"""Prices as JSON for the portal (sessionless, under /api/v1/portal): currencies on offer and the
quote shown before paying, with the reason when a promo code is refused.

Errors use the one shape of hotspot.http.errors, naming the field to blame (``promo`` for a
refused promo code, ``currency``, ``package_id``, ``phone``)::

    {"error": {"status": 400, "code": "bad_request", "message": "This promo code has been used up.",
               "fields": [{"field": "promo", "message": "..."}], "request_id": "..."}}
"""

from __future__ import annotations

from typing import Any

from iso4217 import Currency
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from pydantic import BaseModel, ConfigDict, Field

from hotspot.accounts.guards import PUBLIC
from hotspot.billing.currencies import exponent, format_money
from hotspot.billing.pricing import Quote
from hotspot.contracts import Money
from hotspot.errors import Refused
from hotspot.http.client import client_ip
from hotspot.http.errors import refused_response
from hotspot.portal.api import ErrorOut
from hotspot.runtime import Hotspot

__all__ = ["BillingApi", "CurrencyList", "QuoteIn", "QuoteOut"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmountOut(_Model):
    amount: int = Field(description="Integer minor units: 5000 is KES 50.00, 1500 is UGX 1,500")
    currency: str = Field(description="ISO 4217 code, e.g. KES")
    text: str = Field(description="Formatted for display, e.g. 'KES 50', 'USD 0.40'")

    @classmethod
    def of(cls, money: Money) -> AmountOut:
        return cls(amount=money.amount, currency=money.currency, text=format_money(money))


class DiscountOut(_Model):
    rule: str = Field(description="The owner's rule id (recorded on the order)")
    label: str = Field(
        description="What the customer reads, e.g. '20% off every 5th purchase within 30 days'"
    )
    amount: AmountOut = Field(description="Taken off the list price")


class PromoOut(_Model):
    code: str = Field(description="The promo code as stored (upper case)")
    label: str = Field(description="What it does, e.g. '10% off'")
    amount: AmountOut = Field(description="Taken off the price after automatic discounts")


class QuoteIn(_Model):
    package_id: int = Field(ge=1, description="The package (from GET /api/v1/portal/packages)")
    currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="ISO 4217 currency to pay in (default: the business's)"
    )
    phone: str | None = Field(
        None,
        max_length=32,
        description="The paying number, when known: repeat-customer discounts and per-phone promo limits",
    )
    promo: str | None = Field(None, max_length=40, description="A promo code, if the customer has one")


class QuoteOut(_Model):
    package_id: int
    package: str = Field(description="The package's name")
    currency: str
    list_price: AmountOut = Field(description="Before discounts: the owner's price, or converted")
    converted_from: AmountOut | None = Field(description="The owner's price it was converted from, if it was")
    discounts: list[DiscountOut] = Field(description="Automatic discounts that apply, in the owner's order")
    promo: PromoOut | None = Field(description="The promo code that applies, if one was given")
    rounding: AmountOut = Field(description="Taken off to land on an amount the payment method can charge")
    total: AmountOut = Field(description="What the order will cost: list - discounts - promo - rounding")
    notes: list[str] = Field(description="Why a discount was reduced or left out, in plain words")

    @classmethod
    def of(cls, quote: Quote) -> QuoteOut:
        return cls(
            package_id=quote.package_id,
            package=quote.package,
            currency=quote.currency,
            list_price=AmountOut.of(quote.base),
            converted_from=AmountOut.of(quote.converted_from) if quote.converted_from else None,
            discounts=[
                DiscountOut(rule=d.rule_id, label=d.label, amount=AmountOut.of(d.amount))
                for d in quote.discounts
            ],
            promo=(
                PromoOut(
                    code=quote.promo.code, label=quote.promo.label, amount=AmountOut.of(quote.promo.amount)
                )
                if quote.promo
                else None
            ),
            rounding=AmountOut.of(quote.rounding),
            total=AmountOut.of(quote.total),
            notes=list(quote.notes),
        )


class CurrencyOut(_Model):
    code: str = Field(description="ISO 4217 code")
    name: str = Field(description="Its name, e.g. 'Kenyan Shilling'")
    exponent: int = Field(description="Decimal places of its minor unit: KES 2, UGX 0")


class CurrencyList(_Model):
    default: str = Field(description="The business currency (prices are in it unless another is asked)")
    currencies: list[CurrencyOut] = Field(
        description="Currencies the enabled payment methods take and packages are priced in"
    )


class BillingApi(Controller):
    """Prices for the portal: which currencies, and what a package will cost this customer."""

    path = "/api/v1/portal"
    opt = {PUBLIC: True}  # customers have no account (the portal's own limits apply)
    tags = ["portal"]
    exception_handlers = {Refused: refused_response}

    @get("/currencies", summary="Currencies on offer", cache=False)
    async def currencies(self, hotspot: NamedDependency[Hotspot]) -> CurrencyList:
        """Currencies the enabled payment methods take, in which some package is priced."""
        codes = await hotspot.checkout.currencies()
        return CurrencyList(
            default=hotspot.checkout.currency,
            currencies=[
                CurrencyOut(code=c, name=Currency(c).currency_name, exponent=exponent(c)) for c in codes
            ],
        )

    @post(
        "/quote",
        summary="Price a package before paying",
        status_code=200,
        responses={
            400: ResponseSpec(
                ErrorOut, description="Bad input, or the promo code does not apply (field: promo)"
            ),
            429: ResponseSpec(ErrorOut, description="Too many wrong promo codes from this client"),
        },
    )
    async def quote(
        self, request: Request[Any, Any, Any], hotspot: NamedDependency[Hotspot], data: JSONBody[QuoteIn]
    ) -> Response[QuoteOut]:
        """List price, automatic discounts, promo and total; the order will charge exactly `total`."""
        quote = await hotspot.checkout.quote(
            data.package_id,
            data.currency,
            phone=(data.phone or "").strip() or None,
            promo=(data.promo or "").strip() or None,
            client_ip=client_ip(request),
        )
        return Response(QuoteOut.of(quote), headers={"Cache-Control": "no-store"})
