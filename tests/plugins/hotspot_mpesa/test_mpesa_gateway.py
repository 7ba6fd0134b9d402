"""MpesaGateway against the Daraja simulator: initiate (STK push), verify (STK query), health."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from _mpesa_rig import (
    BOX,
    CALLBACK_BASE,
    OAUTH,
    PHONE,
    PHONE2,
    PROCESSING,
    PUSH,
    SECRET,
    Rig,
    pay,
    settings,
)

from hotspot.contracts import GatewayResult, PaymentGateway, PaymentStatus
from hotspot_mpesa.daraja import DarajaError, DarajaUnavailable, TokenCache
from hotspot_mpesa.gateway import NO_CALLBACK_BASE, MpesaGateway, account_reference, transaction_desc

FAILED, PENDING = PaymentStatus.FAILED, PaymentStatus.PENDING


def error_body(code: str, message: str) -> dict[str, str]:
    return {"requestId": "4417-4a0c-8d1e-0f2b77c9a3e51234", "errorCode": code, "errorMessage": message}


def scripted(*answers: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[str]]:
    """A Daraja that issues tokens and answers API calls with `answers`, in order."""
    queue = list(answers)
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == OAUTH:
            return httpx.Response(200, json={"access_token": "tok", "expires_in": "3599"})
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), paths


def test_it_is_a_payment_gateway(rig: Rig) -> None:
    assert isinstance(rig.gateway, PaymentGateway)
    assert (rig.gateway.id, rig.gateway.display_name, rig.gateway.currencies) == (
        "mpesa",
        "M-Pesa",
        frozenset({"KES"}),
    )


def test_an_incomplete_block_cannot_make_a_gateway() -> None:
    with pytest.raises(ValueError, match="needs shortcode, passkey, consumer_key and consumer_secret"):
        MpesaGateway(settings(enabled=False, passkey=None))


# --- initiate ---------------------------------------------------------------------------------


async def test_initiate_is_pending_with_the_checkout_request_id(rig: Rig) -> None:
    result = await rig.gateway.initiate(pay())
    (checkout,) = rig.sim.pushes
    assert result == GatewayResult(
        PENDING,
        reference=checkout,
        message="Success. Request accepted for processing",
        raw={
            "MerchantRequestID": rig.sim.pushes[checkout].merchant_request_id,
            "CheckoutRequestID": checkout,
            "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing",
        },
    )


@pytest.mark.parametrize(
    ("amount", "shillings"), [(100, 1), (5000, 50), (123_400, 1234), (25_000_000, 250_000)]
)
async def test_amounts_are_whole_shillings(rig: Rig, amount: int, shillings: int) -> None:
    result = await rig.gateway.initiate(pay(amount))
    assert result.status is PENDING
    assert rig.sim.requests[-1].body["Amount"] == shillings


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        (5050, "KES", "M-Pesa takes whole shillings only; KES 50.50 cannot be charged"),
        (1, "KES", "M-Pesa takes whole shillings only; KES 0.01 cannot be charged"),
        (5000, "USD", "M-Pesa takes Kenya shillings (KES) only, not USD"),
        (5000, "TZS", "M-Pesa takes Kenya shillings (KES) only, not TZS"),
        (0, "KES", "M-Pesa takes KES 1 to KES 250,000 per payment, not KES 0"),
        (25_000_100, "KES", "M-Pesa takes KES 1 to KES 250,000 per payment, not KES 250001"),
    ],
)
async def test_amounts_daraja_cannot_take_are_refused_without_calling_it(
    rig: Rig, amount: int, currency: str, message: str
) -> None:
    result = await rig.gateway.initiate(pay(amount, currency))
    assert result == GatewayResult(FAILED, message=message, reason="error")
    assert rig.wire.paths == [] and rig.sim.requests == []


@pytest.mark.parametrize("phone", [None, "", "0712345678", "+254712345678", "254612345678", "2547123456789"])
async def test_a_phone_that_is_not_an_msisdn_is_refused(rig: Rig, phone: str | None) -> None:
    result = await rig.gateway.initiate(pay(phone=phone))
    assert (result.status, result.reason) == (FAILED, "declined")
    assert "2547XXXXXXXX or 2541XXXXXXXX" in result.message and rig.wire.paths == []


async def test_a_2541_number_is_pushed(rig: Rig) -> None:
    result = await rig.gateway.initiate(pay(phone=PHONE2))
    body = rig.sim.requests[-1].body
    assert result.status is PENDING and body["PartyA"] == body["PhoneNumber"] == PHONE2


async def test_a_second_push_to_a_busy_phone_is_busy(rig: Rig) -> None:
    await rig.gateway.initiate(pay())
    result = await rig.gateway.initiate(pay())
    assert result.status is FAILED and result.reason == "busy"
    assert result.message == (
        "Unable to lock subscriber, a transaction is already in process for the current subscriber"
    )
    assert result.raw["errorCode"] == "500.001.1001"


async def test_spike_arrest_is_busy(rig: Rig) -> None:
    await rig.gateway.client.token()
    rig.sim.spike_arrest = True
    result = await rig.gateway.initiate(pay())
    assert (result.status, result.reason, result.message) == (FAILED, "busy", "Spike Arrest Violation")


async def test_an_invalid_field_is_declined(rig: Rig) -> None:
    result = await rig.gateway.initiate(pay(callback_url="http://box .test/hooks/lnm"))
    assert (result.status, result.reason) == (FAILED, "declined")
    assert result.message == "Bad Request - Invalid CallBackURL"
    assert result.raw["errorCode"] == "400.002.02"


async def test_a_wrong_passkey_is_an_error(rig: Rig) -> None:
    gateway = rig.gateway_for(settings(passkey="not-the-passkey"))
    result = await gateway.initiate(pay())
    assert (result.status, result.reason) == (FAILED, "error")
    assert result.message == "[MerchantValidate] - Wrong credentials"
    assert "not-the-passkey" not in str(result)


@pytest.mark.parametrize(
    ("status", "code", "message", "reason"),
    [
        (500, "500.003.03", "Quota Violation", "busy"),
        (500, "500.003.02", "System is busy", "busy"),
        (500, "500.003.1001", "Internal Server Error", "error"),
        (500, "500.001.1001", "Merchant does not exist", "error"),
        (400, "400.002.05", "Invalid request payload", "error"),
        (404, "404.001.04", "Invalid Authentication Header", "error"),
    ],
)
async def test_daraja_error_bodies_fail_with_a_reason(
    rig: Rig, status: int, code: str, message: str, reason: str
) -> None:
    transport, _ = scripted(httpx.Response(status, json=error_body(code, message)))
    result = await rig.gateway_for(settings(), transport).initiate(pay())
    assert result == GatewayResult(FAILED, message=message, reason=reason, raw=error_body(code, message))  # type: ignore[arg-type]


async def test_an_acknowledgement_without_acceptance_fails() -> None:
    transport, _ = scripted(
        httpx.Response(200, json={"ResponseCode": "1", "ResponseDescription": "Rejected"})
    )
    gateway = MpesaGateway(settings(), transport=transport, tokens=TokenCache())
    result = await gateway.initiate(pay())
    await gateway.aclose()
    assert (result.status, result.reason, result.message) == (
        FAILED,
        "error",
        "M-Pesa did not accept the request: Rejected",
    )


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (httpx.ConnectError("refused"), "could not reach M-Pesa (daraja.test): ConnectError"),
        (httpx.ReadTimeout("slow"), "M-Pesa (daraja.test) did not answer in time"),
        (
            httpx.Response(502, text="<html>Bad Gateway</html>"),
            "M-Pesa (daraja.test) answered HTTP 502 with no Daraja JSON",
        ),
    ],
)
async def test_network_failures_are_raised(
    rig: Rig, failure: httpx.Response | Exception, message: str
) -> None:
    transport, paths = scripted(failure)
    with pytest.raises(DarajaUnavailable) as exc:
        await rig.gateway_for(settings(), transport).initiate(pay())
    assert str(exc.value) == message and paths == [OAUTH, PUSH]


async def test_callback_url_from_the_core_base(rig: Rig) -> None:
    await rig.gateway.initiate(pay(callback_url=CALLBACK_BASE + "/"))
    assert rig.sim.requests[-1].body["CallBackURL"] == f"{BOX}/hooks/lnm/{rig.token()}"


async def test_callback_url_of_a_relay_is_used_as_is(rig: Rig) -> None:
    gateway = rig.gateway_for(settings(callback_url="https://relay.example.net/cb/7f3c9a"))
    await gateway.initiate(pay())
    assert rig.sim.requests[-1].body["CallBackURL"] == "https://relay.example.net/cb/7f3c9a"


async def test_without_a_public_url_payments_settle_by_query(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hotspot_mpesa")
    first = await rig.gateway.initiate(pay(callback_url=None))
    second = await rig.gateway.initiate(pay(callback_url=None, phone=PHONE2))
    assert first.status is PENDING and second.status is PENDING
    urls = [r.body["CallBackURL"] for r in rig.sim.requests]
    assert urls == [NO_CALLBACK_BASE + rig.token()] * 2
    told = [r for r in caplog.records if "STK Query polling alone" in r.getMessage()]
    assert len(told) == 1 and told[0].levelno == logging.INFO
    assert rig.token() not in caplog.text
    await rig.sim.advance(10)
    # the simulator's callbacks reach no handler of ours (in production: no such host)
    assert [d.delivered for d in rig.sim.callbacks_sent] == [False, False] and rig.inbox.reports == []
    assert (await rig.gateway.verify(first.reference or "")).status is PaymentStatus.SUCCEEDED


def test_account_reference_and_description() -> None:
    assert account_reference("HS", "hs_pay_01J9ZK3M2Q") == "HS01J9ZK3M2Q"
    assert account_reference("WIFI1234", "abc-def") == "WIFI1234CDEF"
    assert account_reference("HS", "---") == "HS"
    assert len(account_reference("A", "x" * 40)) == 12
    assert transaction_desc("Wifi 1 day") == "Wifi 1 day"
    assert transaction_desc("Unlimited week (5 devices)") == "Unlimited wee"
    assert transaction_desc("***") == "WiFi"


# --- verify -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status", "reason", "code", "desc"),
    [
        ("success", PaymentStatus.SUCCEEDED, "", "0", "The service request is processed successfully."),
        ("cancelled", PaymentStatus.CANCELLED, "cancelled", "1032", "Request cancelled by user."),
        ("unreachable", FAILED, "unreachable", "1037", "DS timeout user cannot be reached."),
        ("timeout", FAILED, "unreachable", "1037", "DS timeout user cannot be reached."),
        (
            "insufficient_funds",
            FAILED,
            "insufficient_funds",
            "1",
            "The balance is insufficient for the transaction.",
        ),
        ("wrong_pin", FAILED, "wrong_pin", "2001", "The initiator information is invalid."),
        ("expired", PaymentStatus.EXPIRED, "timeout", "1019", "Transaction has expired."),
        ("rule_limited", FAILED, "busy", "17", "Rule limited."),
        ("limit_rule", FAILED, "declined", "2", "Declined due to limit rule."),
        ("push_error", FAILED, "declined", "1025", "An error occurred while sending a push request."),
        (
            "not_permitted",
            FAILED,
            "declined",
            "2028",
            "The request is not permitted according to product assignment.",
        ),
        ("pin_locked", FAILED, "declined", "8006", "The security credential is locked."),
    ],
)
async def test_verify_every_outcome(
    rig: Rig, outcome: str, status: PaymentStatus, reason: str, code: str, desc: str
) -> None:
    rig.sim.set_outcome(PHONE, outcome, after_seconds=30)
    started = await rig.gateway.initiate(pay())
    reference = started.reference or ""
    waiting = await rig.gateway.verify(reference)
    assert waiting == GatewayResult(PENDING, reference=reference, message=PROCESSING, raw=waiting.raw)
    assert waiting.raw["errorCode"] == "500.001.1001"
    await rig.sim.advance(30)
    verdict = await rig.gateway.verify(reference)
    assert (verdict.status, verdict.reason, verdict.message) == (status, reason, desc)
    assert verdict.reference == reference and verdict.amount is None and verdict.receipt is None
    assert verdict.raw["ResultCode"] == code and verdict.raw["CheckoutRequestID"] == reference


@pytest.mark.parametrize(
    ("result_code", "status", "reason"),
    [
        (0, PaymentStatus.SUCCEEDED, ""),
        ("1001", FAILED, "busy"),
        ("3", FAILED, "declined"),
        ("4", FAILED, "declined"),
        ("8", FAILED, "declined"),
        ("SFC_IC0003", FAILED, "declined"),
        ("9999", FAILED, "declined"),
        (1032, PaymentStatus.CANCELLED, "cancelled"),
    ],
)
async def test_verify_maps_codes_the_simulator_cannot_produce(
    result_code: object, status: PaymentStatus, reason: str
) -> None:
    transport, _ = scripted(
        httpx.Response(
            200,
            json={
                "ResponseCode": "0",
                "CheckoutRequestID": "ws_CO_1",
                "ResultCode": result_code,
                "ResultDesc": "desc",
            },
        )
    )
    gateway = MpesaGateway(settings(), transport=transport, tokens=TokenCache())
    verdict = await gateway.verify("ws_CO_1")
    await gateway.aclose()
    assert (verdict.status, verdict.reason, verdict.message) == (status, reason, "desc")
    assert verdict.raw["ResultCode"] == str(result_code)


async def test_verify_raises_when_nothing_is_known_yet(rig: Rig) -> None:
    started = await rig.gateway.initiate(pay())
    rig.sim.spike_arrest = True
    with pytest.raises(DarajaError) as exc:
        await rig.gateway.verify(started.reference or "")
    assert (exc.value.code, exc.value.message) == ("500.003.02", "Spike Arrest Violation")


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json=error_body("500.003.03", "Quota Violation")),
        httpx.Response(500, json=error_body("500.003.1001", "Internal Server Error")),
        httpx.Response(500, json=error_body("500.001.1001", "[MerchantValidate] - Wrong credentials")),
        httpx.Response(503, text="Service Unavailable"),
        httpx.Response(200, json={"ResponseCode": "0", "CheckoutRequestID": "ws_CO_1"}),  # no ResultCode
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
async def test_verify_raises_on_errors_and_network_failures(failure: httpx.Response | Exception) -> None:
    transport, _ = scripted(failure)
    gateway = MpesaGateway(settings(), transport=transport, tokens=TokenCache())
    with pytest.raises((DarajaError, DarajaUnavailable)):
        await gateway.verify("ws_CO_1")
    await gateway.aclose()


async def test_verify_of_an_unknown_reference_raises(rig: Rig) -> None:
    """A refused query leaves the payment to the core's own expiry: it is never called failed."""
    with pytest.raises(DarajaError) as exc:
        await rig.gateway.verify("ws_CO_unknown")
    assert (exc.value.code, exc.value.message) == ("400.002.02", "Bad Request - Invalid CheckoutRequestID")


# --- health -----------------------------------------------------------------------------------


async def test_health_ok_fetches_then_reuses_the_token(rig: Rig) -> None:
    first = await rig.gateway.health()
    assert first.status == "ok" and first.detail == "M-Pesa custom: access token issued"
    assert first.latency_ms is not None and first.latency_ms >= 0
    assert dict(first.facts) == {"environment": "custom", "shortcode": "174379", "product": "PayBill"}
    second = await rig.gateway.health()
    assert (second.status, second.detail) == ("ok", "M-Pesa custom: access token cached")
    assert rig.wire.count(OAUTH) == 1


async def test_health_down_on_refused_credentials(rig: Rig) -> None:
    gateway = rig.gateway_for(settings(consumer_secret="cs_wrong_secret_123"))
    health = await gateway.health()
    assert health.status == "down"
    assert health.detail == (
        "M-Pesa token request failed: "
        "M-Pesa answered HTTP 400: the consumer key or consumer secret was refused"
    )
    assert "cs_wrong_secret_123" not in str(health) and SECRET not in str(health)


async def test_health_down_when_daraja_is_unreachable() -> None:
    transport = httpx.MockTransport(lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused")))
    gateway = MpesaGateway(settings(), transport=transport, tokens=TokenCache())
    health = await gateway.health()
    await gateway.aclose()
    assert (health.status, health.detail) == (
        "down",
        "M-Pesa token request failed: could not reach M-Pesa (daraja.test): ConnectError",
    )


async def test_against_the_simulator_on_a_real_port(rigs: Callable[..., Rig]) -> None:
    """No injected transport: the gateway's own httpx client over loopback."""
    rig = rigs()
    await rig.sim.start(port=0)
    gateway = MpesaGateway(
        settings(base_url=rig.sim.base_url), tokens=TokenCache(clock=rig.clock), wall_clock=rig.clock
    )
    try:
        assert (await gateway.health()).status == "ok"
        started = await gateway.initiate(pay())
        await rig.sim.advance(10)
        assert (await gateway.verify(started.reference or "")).status is PaymentStatus.SUCCEEDED
        assert len(rig.inbox.reports) == 1 and rig.inbox.reports[0].claimed is not None
    finally:
        await gateway.aclose()
