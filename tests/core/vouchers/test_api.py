"""POST /api/v1/portal/vouchers/redeem (both backends): the order shape, followable like a
purchase; bad input as 4xx JSON naming the field; refusals with their reason; 429 with
Retry-After; and a voucher sheet's QR code scanned and redeemed through the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from voucher_support import IPS, LOGIN_URL, PHONE_A, PHONE_B, Box, qr_urls

from hotspot.vouchers.printing import cards_for, sheet_pdf

URL = "/api/v1/portal/vouchers/redeem"


def body(code: str, mac: str = PHONE_A, **kw: Any) -> dict[str, Any]:
    return {"code": code, "mac": mac, "ip": IPS.get(mac, "10.5.50.99"), "router": "cafe", **kw}


async def test_redeem_answers_the_order_shape_and_the_order_can_be_followed(box: Box) -> None:
    code = (await box.batch()).vouchers[0].code
    response = await box.api.post(URL, json=body(code.lower(), link_login_only=LOGIN_URL))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["state"] == "activating" and data["order_id"].startswith("v") and "login" not in data
    assert data["package"] == "1 hour" and data["amount"] == {"amount": 2000, "currency": "KES"}
    assert data["phone"] is None and data["payment_id"] is None and data["retry"] is False
    assert set(data) == {
        "order_id", "payment_id", "state", "reason", "retry", "package", "amount", "phone",
        "seconds_total", "bytes_total", "remaining_seconds", "remaining_bytes", "expires_at", "updated_at",
    }  # fmt: skip
    await box.settle()
    followed = await box.api.get(f"/api/v1/portal/orders/{data['order_id']}")
    assert followed.status_code == 200 and followed.json()["state"] == "online"
    assert followed.json()["remaining_seconds"] == 3600
    assert "set-cookie" not in response.headers  # /api/v1/portal is sessionless


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"mac": PHONE_A, "ip": "10.5.50.11"}, "code"),
        ({"code": "", "mac": PHONE_A, "ip": "10.5.50.11"}, "code"),
        ({"code": "ABCDE-FGHJK", "ip": "10.5.50.11"}, "mac"),
        ({"code": "ABCDE-FGHJK", "mac": "zz:zz", "ip": "10.5.50.11"}, "mac"),
        ({"code": "ABCDE-FGHJK", "mac": PHONE_A}, "ip"),
        ({"code": "ABCDE-FGHJK", "mac": PHONE_A, "ip": "not-an-ip"}, "ip"),
        (
            {"code": "ABCDE-FGHJK", "mac": PHONE_A, "ip": "10.5.50.11", "link_login_only": "javascript:x"},
            "link_login_only",
        ),
        ({"code": "0O0O0-1I1I1", "mac": PHONE_A, "ip": "10.5.50.11"}, "code"),
        ({"code": "ABCDE-FGHJK", "mac": PHONE_A, "ip": "10.5.50.11", "pin": "1" * 40}, "pin"),
        ({"code": "ABCDE-FGHJK", "mac": PHONE_A, "ip": "10.5.50.11", "colour": "red"}, "colour"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(box: Box, payload: dict[str, Any], field: str) -> None:
    response = await box.api.post(URL, json=payload)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert field in [f["field"] for f in error["fields"]] or any(field in f["field"] for f in error["fields"])
    assert error["message"] and error["request_id"]


async def test_a_body_that_is_not_json_is_a_400(box: Box) -> None:
    response = await box.api.post(URL, content=b"code=ABC", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["status"] == 400


async def test_refusals_carry_their_reason_and_the_field(box: Box) -> None:
    batch = await box.batch(count=2, bind_mac=True)
    unknown = await box.api.post(URL, json=body("ABCDE-FGHJK"))
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["code"] == "unknown_code" and error["fields"][0]["field"] == "code"
    code = batch.vouchers[0].code
    assert (await box.api.post(URL, json=body(code))).status_code == 200
    other = await box.api.post(URL, json=body(code, PHONE_B))
    assert other.status_code == 403 and other.json()["error"]["code"] == "bound_to_other_device"
    await box.vouchers.revoke(batch.vouchers[1].code)
    cancelled = await box.api.post(URL, json=body(batch.vouchers[1].code, PHONE_B))
    assert cancelled.status_code == 409 and cancelled.json()["error"]["code"] == "revoked"


async def test_a_locked_out_device_gets_429_with_retry_after(box: Box) -> None:
    for _ in range(5):
        assert (await box.api.post(URL, json=body("ABCDE-FGHJK"))).status_code == 400
    locked = await box.api.post(URL, json=body("ABCDE-FGHJK"))
    assert locked.status_code == 429 and locked.headers["retry-after"] == "60"
    assert locked.json()["error"]["code"] == "locked_out"
    [event] = box.security_events()
    assert event.ip == "10.5.50.1" and event.subject == PHONE_A  # the request's own address


async def test_scanning_a_printed_voucher_puts_the_phone_online(box: Box) -> None:
    made = await box.batch("1 day", count=5, prefix="CAFE")
    settings = box.hotspot.settings
    cards = cards_for(
        made.batch,
        made.vouchers,
        base_url=str(settings.server.public_url),
        timezone=settings.business.timezone,
    )
    pdf = sheet_pdf(cards, business=settings.business.name, layout="a4")
    scanned = qr_urls(pdf)[0]  # the phone's camera opens this on the hotspot's WiFi
    parts = urlsplit(scanned)
    assert f"{parts.scheme}://{parts.netloc}" == "http://10.5.50.2:8000" and parts.path == "/portal"
    [code] = parse_qs(parts.query)["voucher"]
    assert code in {v.code for v in made.vouchers}
    response = await box.api.post(URL, json=body(code, link_login_only=LOGIN_URL))
    assert response.status_code == 200
    await box.settle()
    assert PHONE_A in box.online()
    assert (await box.vouchers.get(code)).state == "active"
