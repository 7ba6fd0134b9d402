"""POST /api/v1/portal/quote and GET /api/v1/portal/currencies: the price before paying, and
refusals as 4xx JSON naming the field (never a 500)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from billing_support import ShopPlugin, TillGateway, add_promos, shop_overrides
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hotspot.app import create_app
from hotspot.billing.promos import PromoSpec
from hotspot.config import PluginSettings


@pytest.fixture
async def api(make_settings: Any) -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = make_settings(shop_overrides(promos={"failures_per_client": 4}))
    plugins = [("shop", ShopPlugin(TillGateway()), PluginSettings(enabled=True))]
    await add_promos(settings, PromoSpec(code="SAVE15", percent_bp=1500, per_phone=1))
    app = create_app(settings, installed={}, extra_plugins=plugins)
    async with AsyncTestClient(app) as client:
        yield client


async def ids(api: AsyncTestClient[Litestar]) -> dict[str, int]:
    found: dict[str, int] = {}
    for currency in ("KES", "TZS"):
        response = await api.get("/api/v1/portal/packages", params={"currency": currency})
        found.update({p["name"]: p["id"] for p in response.json()["packages"]})
    return found


async def test_quote_shows_every_step_of_the_price(api: AsyncTestClient[Litestar]) -> None:
    known = await ids(api)
    response = await api.post(
        "/api/v1/portal/quote", json={"package_id": known["30 days"], "promo": "save15"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["list_price"] == {"amount": 99900, "currency": "KES", "text": "KES 999"}
    assert [(d["rule"], d["amount"]["text"]) for d in body["discounts"]] == [
        ("weekly", "KES 100"),
        ("month-extra", "KES 50"),
    ]
    assert body["discounts"][0]["label"] == "10% off 7 days or longer"
    assert body["promo"] == {
        "code": "SAVE15",
        "label": "15% off",
        "amount": {"amount": 12700, "currency": "KES", "text": "KES 127"},
    }
    assert body["total"]["text"] == "KES 722" and body["rounding"]["amount"] == 0
    assert body["converted_from"] is None and body["notes"] == []
    ugx = (
        await api.post("/api/v1/portal/quote", json={"package_id": known["1 hour"], "currency": "UGX"})
    ).json()
    assert ugx["total"] == {"amount": 580, "currency": "UGX", "text": "UGX 580"}
    assert ugx["converted_from"]["text"] == "KES 20"


async def test_quote_refusals_name_the_field(api: AsyncTestClient[Litestar]) -> None:
    known = await ids(api)

    async def error(body: object, status: int = 400) -> dict[str, Any]:
        response = await api.post("/api/v1/portal/quote", json=body)
        assert response.status_code == status, response.text
        assert "Traceback" not in response.text
        err: dict[str, Any] = response.json()["error"]
        assert err["status"] == status and err["request_id"] == response.headers["x-request-id"]
        return err

    unknown = await error({"package_id": known["1 day"], "promo": "NOPE"})
    assert unknown["fields"] == [{"field": "promo", "message": unknown["message"]}]
    assert "not valid" in unknown["message"]
    not_sold = await error({"package_id": known["Tanzania day"], "currency": "USD"})
    assert [f["field"] for f in not_sold["fields"]] == ["currency"]
    assert [f["field"] for f in (await error({"package_id": 999}))["fields"]] == ["package_id"]
    assert [f["field"] for f in (await error({"package_id": known["1 day"], "phone": "123"}))["fields"]] == [
        "phone"
    ]
    assert (await error({"package_id": known["1 day"], "currency": "usd"}))["code"] == "validation_error"
    assert (await error({"package_id": "one"}))["code"] == "validation_error"
    assert (await error({"package_id": known["1 day"], "coupon": "X"}))["code"] == "validation_error"
    assert (await error({"promo": "SAVE15"}))["code"] == "validation_error"
    garbage = await api.post(
        "/api/v1/portal/quote", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "bad_request"


async def test_guessing_codes_is_stopped(api: AsyncTestClient[Litestar]) -> None:
    known = await ids(api)
    for guess in ("AAAA", "BBBB", "CCCC", "DDDD"):
        response = await api.post("/api/v1/portal/quote", json={"package_id": known["1 day"], "promo": guess})
        assert response.status_code == 400
    limited = await api.post("/api/v1/portal/quote", json={"package_id": known["1 day"], "promo": "SAVE15"})
    assert limited.status_code == 429
    assert limited.json()["error"]["fields"][0]["field"] == "promo"
    plain = await api.post("/api/v1/portal/quote", json={"package_id": known["1 day"]})
    assert plain.status_code == 200 and plain.json()["total"]["text"] == "KES 50"


async def test_the_order_charges_what_the_quote_said(api: AsyncTestClient[Litestar]) -> None:
    known = await ids(api)
    body = {"package_id": known["1 week"], "promo": "SAVE15", "phone": "0712345678"}
    quote = (await api.post("/api/v1/portal/quote", json=body)).json()
    order = await api.post("/api/v1/portal/orders", json=body)
    assert order.status_code == 201, order.text
    total = quote["total"]
    assert (
        order.json()["amount"]
        == {"amount": total["amount"], "currency": total["currency"]}
        == {
            "amount": 19100,
            "currency": "KES",
        }
    )
    again = await api.post("/api/v1/portal/quote", json=body)
    assert again.status_code == 400 and "this phone number" in again.json()["error"]["message"]


async def test_currencies_on_offer(api: AsyncTestClient[Litestar]) -> None:
    response = await api.get("/api/v1/portal/currencies")
    assert response.status_code == 200
    body = response.json()
    assert body["default"] == "KES"
    assert [(c["code"], c["exponent"]) for c in body["currencies"]] == [
        ("KES", 2),
        ("TZS", 2),
        ("UGX", 0),
        ("USD", 2),
    ]
    assert body["currencies"][0]["name"] == "Kenyan Shilling"
