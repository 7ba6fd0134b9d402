"""The callback route: real simulator callbacks into the mounted handler, and what it hands the core."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from _mpesa_rig import (
    BOX,
    FOREIGN_IP,
    PHONE,
    PHONE2,
    SAFARICOM_IP,
    Rig,
    pay,
    settings,
)
from litestar.handlers import HTTPRouteHandler

from hotspot.contracts import CallbackReport, GatewayResult, Money, PaymentStatus
from hotspot.plugins.manager import load_plugins
from hotspot_mpesa import PLUGIN, ROUTES_PATH, MpesaGateway, register_payment_gateways, register_routes
from hotspot_mpesa.callback import (
    ACCEPTED,
    PROBLEM_NOT_ALLOWED,
    PROBLEM_UNREADABLE,
    PROBLEM_WRONG_PATH,
    UnreadableCallback,
    parse_callback,
)

SUCCESS_DESC = "The service request is processed successfully."


def body(
    code: Any = 0,
    *,
    items: list[dict[str, Any]] | None = None,
    reference: str = "ws_CO_01032025143006123712345678",
    desc: str = SUCCESS_DESC,
) -> dict[str, Any]:
    callback: dict[str, Any] = {
        "MerchantRequestID": "8c1f-4e2a-9b7d-53e0a1c2d4f61234567",
        "CheckoutRequestID": reference,
        "ResultCode": code,
        "ResultDesc": desc,
    }
    if items is not None:
        callback["CallbackMetadata"] = {"Item": items}
    return {"Body": {"stkCallback": callback}}


ITEMS: list[dict[str, Any]] = [
    {"Name": "Amount", "Value": 50.00},
    {"Name": "MpesaReceiptNumber", "Value": "TC17H2Q9XZ"},
    {"Name": "Balance"},
    {"Name": "TransactionDate", "Value": 20250301143112},
    {"Name": "PhoneNumber", "Value": 254712345678},
]


# --- real callbacks from the simulator --------------------------------------------------------


async def test_a_successful_callback_becomes_a_claim(rig: Rig) -> None:
    started = await rig.gateway.initiate(pay())
    await rig.sim.advance(10)
    (delivery,) = rig.sim.callbacks_sent
    assert delivery.url == f"{BOX}{ROUTES_PATH}/{rig.token()}"
    assert delivery.status_code == 200 and json.loads(delivery.response_text) == ACCEPTED
    push = rig.sim.pushes[started.reference or ""]
    (report,) = rig.inbox.reports
    assert report == CallbackReport(
        gateway="mpesa",
        raw=json.dumps(delivery.payload).encode(),  # the bytes exactly as the simulator sent them
        source_ip=SAFARICOM_IP,
        reference=started.reference,
        claimed=GatewayResult(
            PaymentStatus.SUCCEEDED,
            reference=started.reference,
            amount=Money(5000, "KES"),
            receipt=push.receipt,
            message=SUCCESS_DESC,
            raw=delivery.payload,
            reason="",
            payer=PHONE,
        ),
        problem=None,
    )
    assert push.receipt is not None and len(push.receipt) == 10


@pytest.mark.parametrize(
    ("outcome", "status", "reason", "desc"),
    [
        ("cancelled", PaymentStatus.CANCELLED, "cancelled", "Request cancelled by user."),
        ("expired", PaymentStatus.EXPIRED, "timeout", "Transaction has expired."),
        ("unreachable", PaymentStatus.FAILED, "unreachable", "DS timeout user cannot be reached."),
        (
            "insufficient_funds",
            PaymentStatus.FAILED,
            "insufficient_funds",
            "The balance is insufficient for the transaction.",
        ),
        ("wrong_pin", PaymentStatus.FAILED, "wrong_pin", "The initiator information is invalid."),
        ("pin_locked", PaymentStatus.FAILED, "declined", "The security credential is locked."),
    ],
)
async def test_failed_callbacks_become_claims(
    rig: Rig, outcome: str, status: PaymentStatus, reason: str, desc: str
) -> None:
    rig.sim.set_outcome(PHONE2, outcome, after_seconds=5)
    started = await rig.gateway.initiate(pay(phone=PHONE2))
    await rig.sim.advance(5)
    (report,) = rig.inbox.reports
    assert report.problem is None and report.reference == started.reference
    assert report.claimed == GatewayResult(
        status,
        reference=started.reference,
        message=desc,
        raw=rig.sim.callbacks_sent[0].payload,
        reason=reason,  # type: ignore[arg-type]
    )
    assert rig.sim.callbacks_sent[0].delivered


async def test_the_amount_paid_is_reported_exactly(rig: Rig) -> None:
    rig.sim.set_outcome(PHONE, "success", after_seconds=1, paid_amount=Decimal("49"))
    await rig.gateway.initiate(pay(5000))
    await rig.sim.advance(1)
    (report,) = rig.inbox.reports
    assert report.claimed is not None and report.claimed.amount == Money(4900, "KES")


async def test_duplicate_callbacks_are_each_handed_over(rig: Rig) -> None:
    rig.sim.duplicate_callbacks = 1
    rig.inbox.verdict = "duplicate"
    started = await rig.gateway.initiate(pay())
    await rig.sim.advance(10)
    assert [r.reference for r in rig.inbox.reports] == [started.reference, started.reference]
    assert all(d.delivered for d in rig.sim.callbacks_sent)


async def test_a_forged_callback_is_handed_over_as_a_mere_claim(rig: Rig) -> None:
    """The path is right (a leaked URL): the core gets the claim and verifies it with a query."""
    started = await rig.gateway.initiate(pay())
    await rig.sim.forge_callback(started.reference, amount=1)
    (report,) = rig.inbox.reports
    assert report.claimed is not None and report.claimed.amount == Money(100, "KES")
    verdict = await rig.gateway.verify(started.reference or "")
    assert verdict.status is PaymentStatus.PENDING  # Daraja says the customer has not paid


# --- rejected callbacks -----------------------------------------------------------------------


async def test_a_wrong_token_is_reported_and_answered_404(rig: Rig) -> None:
    raw = json.dumps(body(items=ITEMS)).encode()
    wrong = rig.token()[:-1] + ("0" if rig.token()[-1] != "0" else "1")
    response = await rig.post(f"{ROUTES_PATH}/{wrong}", raw, ip=FOREIGN_IP)
    assert response.status_code == 404
    assert response.json() == {"status_code": 404, "detail": "Not Found"}
    assert rig.inbox.reports == [
        CallbackReport(gateway="mpesa", raw=raw, source_ip=FOREIGN_IP, problem=PROBLEM_WRONG_PATH)
    ]


async def test_another_configs_token_is_a_wrong_token(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    other = settings(consumer_key="ck_other_tenant").effective_callback_token()
    response = await rig.post(f"{ROUTES_PATH}/{other}", b"{}")
    assert response.status_code == 404 and rig.inbox.reports[0].problem == PROBLEM_WRONG_PATH


async def test_allowlist_drops_a_foreign_source_quietly(rigs: Callable[..., Rig]) -> None:
    rig = rigs(allowlist_enabled=True)
    raw = json.dumps(body(items=ITEMS)).encode()
    response = await rig.post(f"{ROUTES_PATH}/{rig.token()}", raw, ip=FOREIGN_IP)
    assert response.status_code == 200 and response.json() == ACCEPTED
    assert rig.inbox.reports == [
        CallbackReport(gateway="mpesa", raw=raw, source_ip=FOREIGN_IP, problem=PROBLEM_NOT_ALLOWED)
    ]


async def test_allowlist_lets_safaricom_through(rigs: Callable[..., Rig]) -> None:
    rig = rigs(allowlist_enabled=True)
    await rig.gateway.initiate(pay())
    await rig.sim.advance(10)
    (report,) = rig.inbox.reports
    assert report.problem is None and report.source_ip == SAFARICOM_IP and report.claimed is not None


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("10.1.2.3", True),
        ("::ffff:10.1.2.3", True),
        ("2001:db8::5", True),
        ("11.0.0.1", False),
        ("testclient", False),
    ],
)
async def test_allowlist_networks(rigs: Callable[..., Rig], ip: str, allowed: bool) -> None:
    rig = rigs(allowlist_enabled=True, allowed_sources=["10.0.0.0/8", "2001:db8::/32"])
    response = await rig.post(f"{ROUTES_PATH}/{rig.token()}", json.dumps(body(1032)).encode(), ip=ip)
    assert response.status_code == 200
    (report,) = rig.inbox.reports
    assert report.problem == (None if allowed else PROBLEM_NOT_ALLOWED)


@pytest.mark.parametrize(
    ("raw", "reference"),
    [
        (b"not json", None),
        (b"\xff\xfe", None),
        (b"", None),
        (b"[]", None),
        (b'{"Body": {}}', None),
        (b'{"Body": {"stkCallback": "yes"}}', None),
        (json.dumps({"Body": {"stkCallback": {"ResultCode": 0}}}).encode(), None),
        (json.dumps(body(None)).encode(), "ws_CO_01032025143006123712345678"),
        (json.dumps(body(0)).encode(), "ws_CO_01032025143006123712345678"),  # success, no metadata
        (json.dumps(body(0, items=[ITEMS[1], ITEMS[4]])).encode(), "ws_CO_01032025143006123712345678"),
        (
            json.dumps(body(0, items=[{"Name": "Amount", "Value": 0}])).encode(),
            "ws_CO_01032025143006123712345678",
        ),
        (
            json.dumps(body(0, items=[{"Name": "Amount", "Value": 50.005}])).encode(),
            "ws_CO_01032025143006123712345678",
        ),
        (
            json.dumps(body(0, items=[{"Name": "Amount", "Value": True}])).encode(),
            "ws_CO_01032025143006123712345678",
        ),
    ],
)
async def test_an_unreadable_body_is_reported_and_acknowledged(
    rig: Rig, raw: bytes, reference: str | None
) -> None:
    response = await rig.post(f"{ROUTES_PATH}/{rig.token()}", raw)
    assert response.status_code == 200 and response.json() == ACCEPTED
    assert rig.inbox.reports == [
        CallbackReport(
            gateway="mpesa", raw=raw, source_ip=SAFARICOM_IP, reference=reference, problem=PROBLEM_UNREADABLE
        )
    ]


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        ("50", 5000),
        ("50.0", 5000),
        ("50.00", 5000),
        ('"50.00"', 5000),
        ("1.1", 110),  # 1.1 * 100 is 110.00000000000001 in floats
        ("0.29", 29),  # 0.29 * 100 is 28.999999999999996 in floats
        ("19.99", 1999),
        ("250000", 25_000_000),
    ],
)
def test_amounts_are_exact(value: str, cents: int) -> None:
    raw = (
        '{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0, "ResultDesc": "ok", '
        f'"CallbackMetadata": {{"Item": [{{"Name": "Amount", "Value": {value}}}]}}}}}}}}'
    ).encode()
    reference, claimed = parse_callback(raw)
    assert reference == "ws_CO_1" and claimed.amount == Money(cents, "KES")
    assert claimed.receipt is None and claimed.payer is None  # tolerated when missing


def test_items_are_read_by_name_in_any_order() -> None:
    shuffled = [ITEMS[4], ITEMS[3], ITEMS[1], {"Name": "Unknown", "Value": "x"}, ITEMS[0]]  # no Balance
    reference, claimed = parse_callback(json.dumps(body(0, items=shuffled)).encode())
    assert claimed == GatewayResult(
        PaymentStatus.SUCCEEDED,
        reference=reference,
        amount=Money(5000, "KES"),
        receipt="TC17H2Q9XZ",
        message=SUCCESS_DESC,
        raw=body(0, items=shuffled),
        reason="",
        payer="254712345678",
    )


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("0", PaymentStatus.SUCCEEDED, ""),
        ("1032", PaymentStatus.CANCELLED, "cancelled"),
        (1032, PaymentStatus.CANCELLED, "cancelled"),
        (1019, PaymentStatus.EXPIRED, "timeout"),
        (1, PaymentStatus.FAILED, "insufficient_funds"),
        (2001, PaymentStatus.FAILED, "wrong_pin"),
        (1037, PaymentStatus.FAILED, "unreachable"),
        (1001, PaymentStatus.FAILED, "busy"),
        (17, PaymentStatus.FAILED, "busy"),
        (2, PaymentStatus.FAILED, "declined"),
        (3, PaymentStatus.FAILED, "declined"),
        (4, PaymentStatus.FAILED, "declined"),
        (8, PaymentStatus.FAILED, "declined"),
        (2028, PaymentStatus.FAILED, "declined"),
        (8006, PaymentStatus.FAILED, "declined"),
        (4242, PaymentStatus.FAILED, "declined"),
        ("SFC_IC0003", PaymentStatus.FAILED, "declined"),
    ],
)
def test_result_codes(code: Any, status: PaymentStatus, reason: str) -> None:
    items = ITEMS if str(code) == "0" else None
    _, claimed = parse_callback(json.dumps(body(code, items=items, desc="d")).encode())
    assert (claimed.status, claimed.reason, claimed.message) == (status, reason, "d")
    assert (claimed.amount is None) == (status is not PaymentStatus.SUCCEEDED)


def test_unreadable_keeps_the_reference_it_found() -> None:
    with pytest.raises(UnreadableCallback) as exc:
        parse_callback(json.dumps(body(0)).encode())
    assert exc.value.reference == "ws_CO_01032025143006123712345678"
    assert str(exc.value) == "a successful callback without CallbackMetadata.Item"


# --- how the route is mounted -----------------------------------------------------------------


def test_the_route_is_hidden_from_the_schema_and_csrf(rig: Rig) -> None:
    (handler,) = register_routes(rig.config)
    assert isinstance(handler, HTTPRouteHandler)
    assert handler.include_in_schema is False
    assert handler.opt.get("exclude_from_csrf") is True
    assert not any("lnm" in path for path in (rig.app.openapi_schema.paths or {}))
    assert "/hooks/lnm/{path_token:str}" in [route.path for route in rig.app.routes]


async def test_only_post_is_served(rig: Rig) -> None:
    transport = httpx.ASGITransport(app=rig.app, client=(SAFARICOM_IP, 1))
    async with httpx.AsyncClient(transport=transport, base_url=BOX) as http:
        response = await http.get(f"{ROUTES_PATH}/{rig.token()}")
    assert response.status_code == 405 and rig.inbox.reports == []


def test_hook_register_payment_gateways_and_routes_share_one_config(tmp_path: Any) -> None:
    """Through the real plugin manager: one gateway `mpesa`, routes at /hooks/lnm, one token."""
    from hotspot.config import load_settings
    from hotspot.plugins.manager import discover

    installed = discover()
    assert installed["mpesa"].info is PLUGIN
    config = settings()
    app_settings = load_settings(None, env={"HOTSPOT_DATA_DIR": str(tmp_path)}).model_copy(
        update={"plugins": {"mpesa": config}}
    )
    registry = load_plugins(app_settings, installed)
    gateway = registry.gateways["mpesa"]
    assert isinstance(gateway, MpesaGateway) and gateway.config is config
    assert registry.gateway_plugins["mpesa"] == "mpesa"
    assert registry.route_paths["mpesa"] == "/hooks/lnm"
    (handler,) = registry.routes["mpesa"]
    assert isinstance(handler, HTTPRouteHandler) and handler.paths == {"/{path_token:str}"}
    assert gateway.callback_url_for(pay()).endswith("/hooks/lnm/" + config.effective_callback_token())
    assert isinstance(register_payment_gateways(config)[0], MpesaGateway)
