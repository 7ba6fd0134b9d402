"""The JSON API for the installable app and integrators: shape, errors naming fields, schema."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from portal_support import AppFactory, wait_for_state


async def test_packages_priced_in_minor_units(portal: AsyncTestClient[Litestar]) -> None:
    response = await portal.get("/api/v1/portal/packages")
    assert response.status_code == 200
    packages = response.json()["packages"]
    assert [(p["name"], p["price"], p["price_text"]) for p in packages] == [
        ("1 hour", {"amount": 2000, "currency": "KES"}, "KES 20"),
        ("1 day", {"amount": 5000, "currency": "KES"}, "KES 50"),
        ("1 week", {"amount": 100000, "currency": "KES"}, "KES 1,000"),
    ]
    day = packages[1]
    assert day["seconds"] == 86400 and day["duration_text"] == "1 day"
    assert day["bytes_total"] == 2_000_000_000 and day["down_bps"] == 5_000_000 and day["devices"] == 1
    usd = (await portal.get("/api/v1/portal/packages", params={"currency": "USD"})).json()["packages"]
    assert [(p["name"], p["price_text"]) for p in usd] == [("1 day", "USD 0.40")]
    bad = await portal.get("/api/v1/portal/packages", params={"currency": "shillings"})
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"][0]["field"] == "currency"


async def test_buy_and_follow_an_order(portal_factory: AppFactory) -> None:
    client = await portal_factory(fast=True)
    ids = {p["name"]: p["id"] for p in (await client.get("/api/v1/portal/packages")).json()["packages"]}
    response = await client.post(
        "/api/v1/portal/orders",
        json={
            "package_id": ids["1 day"],
            "phone": "+254 712 345 680",
            "mac": "02-00-00-00-00-aa",
            "ip": "10.5.50.40",
            "router": "cafe-main",
        },
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["order_id"].startswith("o") and order["payment_id"].startswith("p")
    assert order["state"] == "waiting" and order["reason"] == "" and order["retry"] is False
    assert order["amount"] == {"amount": 5000, "currency": "KES"} and order["package"] == "1 day"
    assert order["phone"] == "2547•••••680" and "login" not in order
    online = await wait_for_state(client, order["order_id"], {"online"})
    assert online["state"] == "online"
    assert 86000 < online["remaining_seconds"] <= 86400 and online["remaining_bytes"] == 2_000_000_000
    assert online["expires_at"] > online["updated_at"] - 1
    assert "login" not in online and "password" not in str(online)
    followed = await client.get(f"/api/v1/portal/orders/{order['order_id']}")
    assert followed.headers["cache-control"] == "no-store"


async def test_bad_input_names_the_field(portal: AsyncTestClient[Litestar]) -> None:
    ids = {p["name"]: p["id"] for p in (await portal.get("/api/v1/portal/packages")).json()["packages"]}

    async def error(body: object, status: int = 400) -> dict[str, object]:
        response = await portal.post("/api/v1/portal/orders", json=body)
        assert response.status_code == status, response.text
        assert "Traceback" not in response.text
        err: dict[str, object] = response.json()["error"]
        assert err["status"] == status and err["request_id"] == response.headers["x-request-id"]
        return err

    phone = await error({"package_id": ids["1 hour"], "phone": "12345"})
    assert phone["fields"] == [{"field": "phone", "message": phone["message"]}]
    assert "07 or 01" in str(phone["message"])
    mac = await error({"package_id": ids["1 hour"], "phone": "0712345681", "mac": "nope"})
    assert mac["fields"] == [{"field": "mac", "message": "Not a MAC address (e.g. 01:23:45:67:89:AB)."}]
    ip = await error({"package_id": ids["1 hour"], "phone": "0712345681", "ip": "10.5.50"})
    assert [f["field"] for f in ip["fields"]] == ["ip"]  # type: ignore[attr-defined]
    missing = await error({"phone": "0712345681"})
    assert missing["code"] == "validation_error"
    assert [f["field"] for f in missing["fields"]] == ["package_id"]  # type: ignore[attr-defined]
    typed = await error({"package_id": "one", "phone": "0712345681"})
    assert [f["field"] for f in typed["fields"]] == ["package_id"]  # type: ignore[attr-defined]
    unknown = await error({"package_id": 999, "phone": "0712345681"})
    assert unknown["fields"] == [{"field": "package_id", "message": "Choose one of the packages on offer"}]
    promo = await error({"package_id": ids["1 hour"], "phone": "0712345681", "promo": "FREE"})
    assert [f["field"] for f in promo["fields"]] == ["promo"]  # type: ignore[attr-defined]
    currency = await error({"package_id": ids["1 hour"], "phone": "0712345681", "currency": "USD"})
    assert [f["field"] for f in currency["fields"]] == ["currency"]  # type: ignore[attr-defined]
    extra = await error({"package_id": ids["1 hour"], "phone": "0712345681", "password": "x"})
    assert extra["code"] == "validation_error"
    garbage = await portal.post(
        "/api/v1/portal/orders", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "bad_request"

    first = await portal.post(
        "/api/v1/portal/orders", json={"package_id": ids["1 hour"], "phone": "0712345682"}
    )
    assert first.status_code == 201
    busy = await error({"package_id": ids["1 hour"], "phone": "0712345682"}, status=429)
    assert [f["field"] for f in busy["fields"]] == ["phone"]  # type: ignore[attr-defined]


async def test_unknown_order_is_404_in_the_error_shape(portal: AsyncTestClient[Litestar]) -> None:
    for order_id in ("oNoSuchOrder", "x" * 64, "..%2f..%2fetc"):
        response = await portal.get(f"/api/v1/portal/orders/{order_id}")
        assert response.status_code in (404, 400), order_id
        body = response.json()["error"]
        assert body["status"] == response.status_code and "Traceback" not in response.text
    response = await portal.get("/api/v1/portal/orders/oNoSuchOrder")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


async def test_no_gateway_is_503_without_a_field(portal_factory: AppFactory) -> None:
    client = await portal_factory(gateway=False)
    ids = {p["name"]: p["id"] for p in (await client.get("/api/v1/portal/packages")).json()["packages"]}
    response = await client.post(
        "/api/v1/portal/orders", json={"package_id": ids["1 hour"], "phone": "0712345683"}
    )
    assert response.status_code == 503
    assert "fields" not in response.json()["error"]


async def test_openapi_documents_the_portal_api(portal: AsyncTestClient[Litestar]) -> None:
    schema = (await portal.get("/api/schema/openapi.json")).json()
    paths = schema["paths"]
    assert {"/api/v1/portal/packages", "/api/v1/portal/orders", "/api/v1/portal/orders/{order_id}"} <= set(
        paths
    )
    assert not [p for p in paths if p.startswith("/portal")]  # the HTML portal stays out of the API
    buy = paths["/api/v1/portal/orders"]["post"]
    assert "201" in buy["responses"] and "400" in buy["responses"]
    components = schema["components"]["schemas"]
    order_in = next(v for k, v in components.items() if k.endswith("OrderIn"))
    assert "M-Pesa" in order_in["properties"]["phone"]["description"]
    order_out = next(v for k, v in components.items() if k.endswith("OrderOut"))
    assert "login" not in order_out["properties"]
    assert order_out["properties"]["remaining_seconds"]["description"]
    follow = paths["/api/v1/portal/orders/{order_id}"]["get"]
    assert "404" in follow["responses"]
    packages = paths["/api/v1/portal/packages"]["get"]
    assert [p["name"] for p in packages["parameters"]] == ["currency"]
