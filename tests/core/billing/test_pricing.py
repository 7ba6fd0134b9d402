"""Quotes and promo codes on both backends: arithmetic in KES, USD and UGX, every refusal, the
limits under concurrent orders, and a purchase charging exactly the quoted total."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from billing_support import Shop
from conftest import ShopFactory

from hotspot.billing.promos import PromoRefused, PromoSpec
from hotspot.billing.tables import Promo, PromoUse
from hotspot.contracts import Money
from hotspot.payments import CheckoutError
from hotspot.payments.tables import Order, Payment

PHONE = "254712345678"


async def promo(shop: Shop, code: str, **kw: Any) -> Any:
    amounts = kw.pop("amounts", None)
    minimums = kw.pop("min_prices", None)
    packages = [shop.ids[name] for name in kw.pop("packages", [])]
    return await shop.pricing.promos.create(
        PromoSpec(
            code=code,
            amounts={m.currency: m for m in amounts} if amounts else None,
            min_prices={m.currency: m for m in minimums} if minimums else None,
            package_ids=packages,
            **kw,
        )
    )


def amounts(quote: Any) -> tuple[int, list[tuple[str, int]], int | None, int, int]:
    return (
        quote.base.amount,
        [(d.rule_id, d.amount.amount) for d in quote.discounts],
        quote.promo.amount.amount if quote.promo else None,
        quote.rounding.amount,
        quote.total.amount,
    )


async def refusal(
    shop: Shop, package: str, code: str, currency: str | None = None, **kw: Any
) -> CheckoutError:
    with pytest.raises(CheckoutError) as err:
        await shop.quote(package, currency, promo=code, **kw)
    assert err.value.field == "promo"
    return err.value


# --- arithmetic ----------------------------------------------------------------------------


async def test_kes_prices_discounts_and_promos_land_on_whole_shillings(shop: Shop) -> None:
    await promo(shop, "SAVE15", percent_bp=1500)
    await promo(shop, "EIGHTH", percent_bp=1250)
    # 1 hour KES 20: no rule; 15% = KES 3
    assert amounts(await shop.quote("1 hour", promo="save15")) == (2000, [], 300, 0, 1700)
    # 12.5% of KES 20 = KES 2.50 -> KES 3 (half-up to whole shillings)
    assert amounts(await shop.quote("1 hour", promo="EIGHTH")) == (2000, [], 300, 0, 1700)
    # 1 week KES 250: weekly 10% = 25, then 15% of the KES 225 left = 33.75 -> 34
    assert amounts(await shop.quote("1 week", promo="SAVE15")) == (25000, [("weekly", 2500)], 3400, 0, 19100)
    # 30 days KES 999: weekly 99.90 -> 100, month-extra KES 50 stacks
    assert amounts(await shop.quote("30 days")) == (
        99900,
        [("weekly", 10000), ("month-extra", 5000)],
        None,
        0,
        84900,
    )


async def test_usd_prices_own_and_converted(shop: Shop) -> None:
    await promo(shop, "SAVE15", percent_bp=1500)
    # USD 0.40 of its own; 15% = 6 cents
    assert amounts(await shop.quote("1 day", "USD", promo="SAVE15")) == (40, [], 6, 0, 34)
    # 1 week has no USD price: KES 250 / 129.50 = USD 1.9305 -> 1.93; weekly 10% = 0.193 -> 0.19
    quote = await shop.quote("1 week", "USD")
    assert amounts(quote) == (193, [("weekly", 19)], None, 0, 174)
    assert quote.converted_from == Money(25000, "KES")
    # 30 days USD 7.99: weekly 0.799 -> 0.80; KES 50 stacking converts to USD 0.3861 -> 0.39
    assert amounts(await shop.quote("30 days", "USD")) == (
        799,
        [("weekly", 80), ("month-extra", 39)],
        None,
        0,
        680,
    )


async def test_ugx_has_no_minor_unit(shop: Shop) -> None:
    await promo(shop, "EIGHTH", percent_bp=1250)
    await promo(shop, "TWENTYOFF", amounts=[Money(2000, "KES")])
    # UGX 1,500: 12.5% = 187.5 -> 188
    assert amounts(await shop.quote("1 day", "UGX", promo="EIGHTH")) == (1500, [], 188, 0, 1312)
    # KES 20 off in UGX at 0.0345: 579.71 -> 580
    assert amounts(await shop.quote("1 day", "UGX", promo="TWENTYOFF")) == (1500, [], 580, 0, 920)
    # 1 hour KES 20 converts to UGX 580
    assert amounts(await shop.quote("1 hour", "UGX")) == (580, [], None, 0, 580)


async def test_a_cash_step_rounds_every_amount_to_it(shop_factory: ShopFactory) -> None:
    shop = await shop_factory(currencies={"rates": {"USD": "129.50 KES"}, "steps": {"KES": "5 KES"}})
    await promo(shop, "SAVE15", percent_bp=1500)
    # 15% of KES 20 = 3 -> KES 5 (half-up to the KES 5 step)
    assert amounts(await shop.quote("1 hour", promo="SAVE15")) == (2000, [], 500, 0, 1500)
    # weekly 10% of 250 = 25; 15% of 225 = 33.75 -> 35
    assert amounts(await shop.quote("1 week", promo="SAVE15")) == (25000, [("weekly", 2500)], 3500, 0, 19000)


async def test_an_odd_list_price_is_rounded_down_to_what_the_gateway_can_charge(
    shop_factory: ShopFactory,
) -> None:
    odd = [{"name": "odd", "price": "50.50 KES", "duration": "1h"}]
    shop = await shop_factory(packages=odd, discounts=[])
    assert amounts(await shop.quote("odd")) == (5050, [], None, 50, 5000)


async def test_discounts_never_take_the_price_below_the_minimum(shop_factory: ShopFactory) -> None:
    generous = [{"id": "big", "kind": "bundle", "amount": "300 KES", "min_duration": "7d"}]
    shop = await shop_factory(discounts=generous)
    quote = await shop.quote("1 week")
    assert amounts(quote) == (25000, [("big", 24900)], None, 0, 100)  # KES 1: M-Pesa's smallest
    assert quote.notes and "reduced" in quote.notes[0]


# --- refusals ------------------------------------------------------------------------------


async def test_each_refusal_has_its_own_reason(shop: Shop) -> None:
    now = shop.clock()
    await promo(shop, "WEEKONLY", percent_bp=1000, packages=["1 week"])
    await promo(shop, "LATER", percent_bp=1000, valid_from=now + 3600)
    await promo(shop, "GONE", percent_bp=1000, valid_until=now - 3600)
    await promo(shop, "BIGSPEND", percent_bp=1000, min_prices=[Money(10000, "KES")])
    await promo(shop, "ONCE", percent_bp=1000, max_uses=1)
    await promo(shop, "KESONLY", amounts=[Money(500, "KES")])
    await promo(shop, "HUGE", amounts=[Money(2000, "KES")])
    off = await promo(shop, "OFF", percent_bp=1000)
    await shop.pricing.promos.set_active(off.code, False)

    assert "not valid" in (await refusal(shop, "1 hour", "NOPE")).message
    assert "withdrawn" in (await refusal(shop, "1 hour", "OFF")).message
    assert "starts on" in (await refusal(shop, "1 hour", "LATER")).message
    assert "expired on" in (await refusal(shop, "1 hour", "GONE")).message
    assert "not valid for 1 hour" in (await refusal(shop, "1 hour", "WEEKONLY")).message
    assert "at least KES 100" in (await refusal(shop, "1 day", "BIGSPEND")).message
    # a minimum in KES converts for a USD order: KES 100 = USD 0.77 > USD 0.40
    assert "at least USD 0.77" in (await refusal(shop, "1 day", "BIGSPEND", "USD")).message
    # no rate connects TZS with KES
    assert "paying in TZS" in (await refusal(shop, "Tanzania day", "KESONLY", "TZS")).message
    # KES 20 off KES 20 would be free: M-Pesa cannot charge KES 0
    too_large = await refusal(shop, "1 hour", "HUGE")
    assert "KES 0" in too_large.message and "voucher" in too_large.message
    status = await shop.buy("1 day", promo="ONCE")
    assert status.amount == Money(4500, "KES")
    assert "used up" in (await refusal(shop, "1 day", "ONCE")).message
    reasons = set()
    for code in ("NOPE", "OFF", "LATER", "GONE", "WEEKONLY", "BIGSPEND", "HUGE", "ONCE"):
        with pytest.raises(CheckoutError) as err:
            await shop.quote("1 hour", promo=code)
        reasons.add(err.value.message)
    assert len(reasons) == 8  # every reason reads differently


async def test_per_phone_limit(shop: Shop) -> None:
    await promo(shop, "ONEEACH", percent_bp=1000, per_phone=1)
    first = await shop.buy("1 day", phone="0712345678", promo="oneeach")
    assert first.amount == Money(4500, "KES")
    err = await refusal(shop, "1 day", "ONEEACH", phone="0712 345 678")
    assert "already been used with this phone number" in err.message
    assert (await shop.quote("1 day", promo="ONEEACH", phone="0712345679")).total == Money(4500, "KES")
    assert (await shop.quote("1 day", promo="ONEEACH")).total == Money(
        4500, "KES"
    )  # no phone yet: cannot say


async def test_wrong_codes_are_rate_limited_per_client(shop_factory: ShopFactory) -> None:
    shop = await shop_factory(promos={"failures_per_client": 3, "window_minutes": 10})
    await promo(shop, "REAL", percent_bp=1000)
    for guess in ("AAAA", "BBBB", "CCCC"):
        await refusal(shop, "1 hour", guess, client_ip="10.5.50.9")
    limited = await refusal(shop, "1 hour", "REAL", client_ip="10.5.50.9")
    assert limited.status_code == 429 and "Wait 10 minutes" in limited.message
    assert (await shop.quote("1 hour", promo="REAL", client_ip="10.5.50.10")).promo is not None


# --- limits under concurrency ------------------------------------------------------------


async def test_max_uses_holds_under_concurrent_reservations(shop: Shop) -> None:
    terms = await promo(shop, "FIRST5", percent_bp=1000, max_uses=5)
    promos = shop.pricing.promos
    db = shop.hotspot.db

    async def order(n: int) -> str:
        try:
            async with db.transaction():
                await promos.reserve(terms, f"o-{n}", f"2547000000{n:02d}", Money(500, "KES"))
        except PromoRefused as exc:
            return exc.reason
        return "won"

    outcomes = await asyncio.gather(*(order(n) for n in range(25)))
    assert sorted(set(outcomes)) == ["exhausted", "won"] and outcomes.count("won") == 5
    assert (await promos.find("FIRST5")).used == 5  # type: ignore[union-attr]
    assert await PromoUse.count().where(PromoUse.promo_id == terms.id).run() == 5


async def test_per_phone_limit_holds_under_concurrent_reservations(shop: Shop) -> None:
    terms = await promo(shop, "TWICE", percent_bp=1000, per_phone=2)
    promos = shop.pricing.promos

    async def order(n: int) -> str:
        try:
            async with shop.hotspot.db.transaction():
                await promos.reserve(terms, f"o-{n}", PHONE, Money(500, "KES"))
        except PromoRefused as exc:
            return exc.reason
        return "won"

    outcomes = await asyncio.gather(*(order(n) for n in range(12)))
    assert sorted(set(outcomes)) == ["phone_limit", "won"] and outcomes.count("won") == 2
    assert (await promos.find("TWICE")).used == 2  # type: ignore[union-attr]


async def test_concurrent_purchases_never_exceed_max_uses(shop: Shop) -> None:
    await promo(shop, "LUCKY3", percent_bp=2000, max_uses=3)

    async def buy(n: int) -> str:
        try:
            status = await shop.buy(
                "1 day", phone=f"07123400{n:02d}", mac=f"02:00:00:00:00:{n:02x}", promo="LUCKY3"
            )
        except CheckoutError as exc:
            return f"{exc.field}: {exc.message}"
        return f"bought for {status.amount.amount}"

    results = await asyncio.gather(*(buy(n) for n in range(10)))
    assert sorted(set(results)) == ["bought for 4000", "promo: This promo code has been used up."]
    assert results.count("bought for 4000") == 3
    assert await Order.count().where(Order.promo_code == "LUCKY3").run() == 3
    assert await Payment.count().run() == 3  # a refused order sends no prompt


# --- the order follows the quote ---------------------------------------------------------


async def test_checkout_charges_the_quoted_total_and_records_how(shop: Shop) -> None:
    await promo(shop, "SAVE15", percent_bp=1500)
    quote = await shop.quote("30 days", promo="SAVE15", phone="0712345678")
    status = await shop.buy("30 days", promo=" save15 ")
    assert status.amount == quote.total == Money(72200, "KES")  # 849 - 15% (127.35 -> 127)
    request = shop.gateway.requests[-1]
    assert request.amount == quote.total
    order = await Order.select().where(Order.id == status.order_id).first().run()
    assert order is not None
    assert (order["amount"], order["list_amount"], order["promo_code"]) == (72200, 99900, "SAVE15")
    detail = order["discount_detail"]
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert [d["rule"] for d in detail["discounts"]] == ["weekly", "month-extra"]
    assert detail["promo"] == {"code": "SAVE15", "label": "15% off", "amount": 12700}
    assert detail["list"] == 99900 and detail["rounding"] == 0
    payment = await Payment.select().where(Payment.order_id == status.order_id).first().run()
    assert payment is not None and (payment["amount"], payment["currency"]) == (72200, "KES")
    use = await PromoUse.select().where(PromoUse.order_id == status.order_id).first().run()
    assert use is not None and (use["state"], use["discount"], use["phone"]) == ("held", 12700, PHONE)
    await shop.pay(status)
    assert (await shop.hotspot.checkout.status(status.order_id)).state in ("activating", "online")
    use = await PromoUse.select().where(PromoUse.order_id == status.order_id).first().run()
    assert use is not None and use["state"] == "used"
    assert (await shop.pricing.promos.find("SAVE15")).used == 1  # type: ignore[union-attr]


async def test_a_converted_price_is_charged_in_the_asked_currency(shop: Shop) -> None:
    status = await shop.buy("1 week", currency="USD")
    assert status.amount == Money(174, "USD") and shop.gateway.requests[-1].amount == Money(174, "USD")


async def test_a_failed_payment_gives_the_promo_use_back_and_a_retry_takes_it_again(shop: Shop) -> None:
    await promo(shop, "ONLYONE", percent_bp=1000, max_uses=1)
    shop.gateway.refuse.add(PHONE)
    status = await shop.buy("1 day", promo="ONLYONE")
    assert status.state == "failed"
    use = await PromoUse.select().where(PromoUse.order_id == status.order_id).first().run()
    assert use is not None and use["state"] == "released"
    assert (await shop.pricing.promos.find("ONLYONE")).used == 0  # type: ignore[union-attr]
    shop.gateway.refuse.clear()
    shop.clock.now += 60
    retried = await shop.hotspot.checkout.retry(status.order_id)
    assert retried.state == "waiting" and retried.amount == Money(4500, "KES")
    assert (await shop.pricing.promos.find("ONLYONE")).used == 1  # type: ignore[union-attr]
    # meanwhile nobody else can have it
    assert "used up" in (await refusal(shop, "1 day", "ONLYONE")).message


async def test_a_retry_is_refused_when_the_promo_ran_out_meanwhile(shop: Shop) -> None:
    await promo(shop, "ONLYONE", percent_bp=1000, max_uses=1)
    shop.gateway.refuse.add(PHONE)
    failed = await shop.buy("1 day", promo="ONLYONE")
    shop.gateway.refuse.clear()
    await shop.buy("1 day", phone="0712000111", promo="ONLYONE")  # someone else takes the last use
    shop.clock.now += 60
    with pytest.raises(CheckoutError) as err:
        await shop.hotspot.checkout.retry(failed.order_id)
    assert err.value.field == "promo" and "new order" in err.value.message


async def test_a_late_payment_of_a_released_use_is_still_counted(shop: Shop) -> None:
    terms = await promo(shop, "LATE", percent_bp=1000, max_uses=1)
    promos = shop.pricing.promos
    async with shop.hotspot.db.transaction():
        await promos.reserve(terms, "o-late", PHONE, Money(500, "KES"))
    await promos.follow("o-late", paid=False, failed=True)
    assert (await promos.find("LATE")).used == 0  # type: ignore[union-attr]
    async with shop.hotspot.db.transaction():
        await promos.reserve(terms, "o-other", "254700000001", Money(500, "KES"))
    await promos.follow("o-late", paid=True, failed=False)  # the M-Pesa payment came in after all
    assert (await promos.find("LATE")).used == 2  # type: ignore[union-attr]
    states = {r["order_id"]: r["state"] for r in await PromoUse.select().run()}
    assert states == {"o-late": "used", "o-other": "held"}
    await promos.follow("o-late", paid=True, failed=False)  # told twice: counted once
    assert (await promos.find("LATE")).used == 2  # type: ignore[union-attr]


async def test_repeat_customers_get_their_discount_at_checkout(shop: Shop) -> None:
    for _ in range(2):
        status = await shop.buy("1 day")
        assert status.amount == Money(5000, "KES")
        await shop.pay(status)
        shop.clock.now += 3600
    third = await shop.quote("1 day", phone="0712345678")
    assert amounts(third) == (5000, [("loyalty", 1000)], None, 0, 4000)
    assert amounts(await shop.quote("1 day", phone="0712345699")) == (5000, [], None, 0, 5000)
    status = await shop.buy("1 day")
    assert status.amount == Money(4000, "KES")
    shop.clock.now += 31 * 86400  # the two paid purchases fall out of the 30-day window
    assert (await shop.quote("1 day", phone="0712345678")).discounts == ()


async def test_currencies_on_offer_are_those_gateways_take_and_packages_are_priced_in(shop: Shop) -> None:
    assert await shop.hotspot.checkout.currencies() == ["KES", "TZS", "UGX", "USD"]
    usd = {p.name: p.price for p in await shop.hotspot.checkout.packages("USD")}
    assert usd == {
        "1 hour": Money(15, "USD"),
        "1 day": Money(40, "USD"),
        "1 week": Money(193, "USD"),
        "30 days": Money(799, "USD"),
    }


async def test_promo_creation_refuses_nonsense(shop: Shop) -> None:
    from hotspot.billing.promos import PromoError

    await promo(shop, "DUPE", percent_bp=1000)
    for kw, why in [
        ({"code": "dupe", "percent_bp": 500}, "already exists"),
        ({"code": "x", "percent_bp": 500}, "3 to 32 letters"),
        ({"code": "NONE"}, "either a percentage or an amount"),
        ({"code": "FREE", "percent_bp": 10_000}, "less than 100%"),
        ({"code": "NEG", "amounts": {"KES": Money(-100, "KES")}}, "more than zero"),
        ({"code": "BACK", "percent_bp": 500, "valid_from": 200.0, "valid_until": 100.0}, "end after"),
        ({"code": "ZERO", "percent_bp": 500, "max_uses": 0}, "at least 1"),
    ]:
        with pytest.raises(PromoError, match=why):
            await shop.pricing.promos.create(PromoSpec(**kw))  # type: ignore[arg-type]
    assert await Promo.count().run() == 1
