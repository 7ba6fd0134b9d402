"""The Daraja client against the simulator: tokens, Password/Timestamp and the pushed fields."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _mpesa_rig import (
    CALLBACK_BASE,
    DARAJA,
    KEY,
    OAUTH,
    PHONE,
    PUSH,
    QUERY,
    SECRET,
    SHORTCODE,
    START,
    START_STAMP,
    TILL,
    Rig,
    pay,
    settings,
)

from hotspot.contracts import PaymentStatus
from hotspot.sim.daraja import SANDBOX_PASSKEY
from hotspot_mpesa.daraja import (
    DarajaAuthError,
    DarajaClient,
    DarajaError,
    TokenCache,
    daraja_timestamp,
    stk_password,
    token_cache,
)
from hotspot_mpesa.gateway import MpesaGateway

# The research file's test vector (2.1): sandbox shortcode + passkey + 20250301143005.
VECTOR = (
    "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQy"
    "YzkxOTIwMjUwMzAxMTQzMDA1"
)


def test_password_and_timestamp() -> None:
    assert stk_password("174379", SANDBOX_PASSKEY, "20250301143005") == VECTOR
    assert daraja_timestamp(START) == START_STAMP  # 08:00 UTC is 11:00 in Nairobi
    assert daraja_timestamp(1_740_828_605) == "20250301143005"


async def test_push_fields_for_paybill(rig: Rig) -> None:
    result = await rig.gateway.initiate(pay(5000, payment_id="pay_01J9ZK3M2QABCDEF"))
    assert result.status is PaymentStatus.PENDING
    (request,) = rig.sim.requests
    assert request.accepted and request.error_code is None
    assert request.body == {
        "BusinessShortCode": SHORTCODE,
        "Password": stk_password(SHORTCODE, SANDBOX_PASSKEY, START_STAMP),
        "Timestamp": START_STAMP,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 50,
        "PartyA": PHONE,
        "PartyB": SHORTCODE,
        "PhoneNumber": PHONE,
        "CallBackURL": f"{CALLBACK_BASE}/{rig.token()}",
        "AccountReference": "HS3M2QABCDEF",  # HS + the last 10 letters/digits of the payment id
        "TransactionDesc": "Wifi 1 day",
    }
    assert request.body["Password"] == rig.sim.password(START_STAMP)  # the simulator agrees
    push = rig.sim.pushes[result.reference or ""]
    assert (push.transaction_type, push.party_b, push.amount) == ("CustomerPayBillOnline", SHORTCODE, 50)


async def test_push_fields_for_a_till(rigs: Callable[..., Rig]) -> None:
    rig = rigs(till=TILL)
    result = await rig.gateway.initiate(pay(12_300, payment_id="x", description="1 week: 10 GB!"))
    body = rig.sim.requests[-1].body
    assert body["TransactionType"] == "CustomerBuyGoodsOnline"
    assert (body["BusinessShortCode"], body["PartyB"]) == (SHORTCODE, TILL)
    assert (body["Amount"], body["AccountReference"], body["TransactionDesc"]) == (123, "HSX", "1 week 10 GB")
    await rig.sim.advance(10)
    verdict = await rig.gateway.verify(result.reference or "")
    assert (verdict.status, verdict.raw["ResultCode"]) == (PaymentStatus.SUCCEEDED, "0")


async def test_a_till_the_shortcode_does_not_own_is_declined(rigs: Callable[..., Rig]) -> None:
    """The simulator checks the product: Buy Goods to a till that is not ours ends in 2028."""
    rig = rigs(till="555555")
    result = await rig.gateway.initiate(pay())
    await rig.sim.advance(10)
    verdict = await rig.gateway.verify(result.reference or "")
    assert (verdict.status, verdict.reason, verdict.raw["ResultCode"]) == (
        PaymentStatus.FAILED,
        "declined",
        "2028",
    )


async def test_each_call_uses_a_fresh_timestamp(rig: Rig) -> None:
    first = await rig.gateway.initiate(pay())
    rig.clock.now += 61
    await rig.gateway.verify(first.reference or "")
    (query,) = rig.sim.queries
    assert query["Timestamp"] == "20270115110101"
    assert query["Password"] == stk_password(SHORTCODE, SANDBOX_PASSKEY, "20270115110101")
    assert query["BusinessShortCode"] == SHORTCODE and query["CheckoutRequestID"] == first.reference


# --- OAuth tokens -----------------------------------------------------------------------------


async def test_token_is_cached_and_reused(rig: Rig) -> None:
    first = await rig.gateway.initiate(pay(phone=PHONE))
    await rig.gateway.verify(first.reference or "")
    await rig.gateway.initiate(pay(phone="254110000001"))
    assert rig.wire.paths == [OAUTH, PUSH, QUERY, PUSH]
    assert rig.tokens.fetches == 1 and len(rig.sim.tokens) == 1


@pytest.mark.parametrize("numeric", [False, True])
async def test_token_is_refreshed_five_minutes_before_expiry(rig: Rig, numeric: bool) -> None:
    rig.sim.numeric_expires_in = numeric  # "3599" (real responses) or 3599 (the docs)
    client = rig.gateway.client
    token = await client.token()
    rig.clock.now += 3599 - 300 - 1
    assert await client.token() == token and rig.wire.count(OAUTH) == 1
    rig.clock.now += 2  # within five minutes of expiry
    fresh = await client.token()
    assert fresh != token and rig.wire.count(OAUTH) == 2
    assert list(rig.sim.tokens) == [fresh]


async def test_concurrent_callers_share_one_refresh(rig: Rig) -> None:
    client = rig.gateway.client
    tokens = await asyncio.gather(*(client.token() for _ in range(20)))
    assert len(set(tokens)) == 1 and rig.wire.count(OAUTH) == 1 and rig.tokens.fetches == 1
    rig.clock.now += 3600
    again = await asyncio.gather(*(client.token() for _ in range(20)))
    assert len(set(again)) == 1 and again[0] != tokens[0] and rig.wire.count(OAUTH) == 2


async def test_invalid_token_is_dropped_and_the_push_retried_once(rig: Rig) -> None:
    await rig.gateway.client.token()
    rig.sim.expire_tokens()  # Daraja forgets it (e.g. another process asked for a new one)
    result = await rig.gateway.initiate(pay())
    assert result.status is PaymentStatus.PENDING
    assert [r.error_code for r in rig.sim.requests] == ["404.001.03", None]
    assert rig.wire.paths == [OAUTH, PUSH, OAUTH, PUSH]


async def test_invalid_token_is_dropped_and_the_query_retried_once(rig: Rig) -> None:
    result = await rig.gateway.initiate(pay())
    await rig.sim.advance(10)
    rig.sim.expire_tokens()  # the query endpoint answers the 400.003.01 variant
    verdict = await rig.gateway.verify(result.reference or "")
    assert verdict.status is PaymentStatus.SUCCEEDED
    assert rig.wire.paths == [OAUTH, PUSH, QUERY, OAUTH, QUERY]


async def test_an_invalid_token_twice_is_an_error_not_a_loop() -> None:
    calls: list[str] = []

    def daraja(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == OAUTH:
            return httpx.Response(200, json={"access_token": f"tok{len(calls)}", "expires_in": "3599"})
        return httpx.Response(
            404, json={"requestId": "r", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
        )

    client = DarajaClient(
        DARAJA,
        KEY,
        SECRET,
        SHORTCODE,
        SANDBOX_PASSKEY,
        transport=httpx.MockTransport(daraja),
        tokens=TokenCache(),
    )
    with pytest.raises(DarajaError) as exc:
        await client.stk_query("ws_CO_1")
    await client.aclose()
    assert exc.value.code == "404.001.03" and exc.value.status_code == 404
    assert calls == [OAUTH, QUERY, OAUTH, QUERY]


async def test_a_token_is_shared_by_every_client_of_the_key(rig: Rig) -> None:
    """Daraja invalidates the previous token on every issue: two clients must not take turns."""
    other = rig.gateway_for(settings(till=TILL))
    await rig.gateway.client.token()
    await other.initiate(pay())
    assert rig.wire.count(OAUTH) == 1 and rig.sim.requests[-1].accepted


async def test_the_process_wide_cache_is_the_default() -> None:
    token_cache.clear()
    calls: list[str] = []

    def daraja(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json={"access_token": "shared", "expires_in": 3599})

    transport = httpx.MockTransport(daraja)
    one = MpesaGateway(settings(base_url="http://shared.test"), transport=transport)
    two = MpesaGateway(settings(base_url="http://shared.test"), transport=transport)
    try:
        assert await one.client.token() == await two.client.token() == "shared"
        assert calls == [OAUTH]
    finally:
        await one.aclose()
        await two.aclose()
        token_cache.clear()


async def test_refused_credentials_say_so_without_the_secret(rig: Rig) -> None:
    bad = rig.gateway_for(settings(consumer_secret="cs_wrong_secret_123"))
    with pytest.raises(DarajaAuthError) as exc:
        await bad.client.token()
    assert str(exc.value) == "M-Pesa answered HTTP 400: the consumer key or consumer secret was refused"
    assert "cs_wrong_secret_123" not in str(exc.value) and SECRET not in str(exc.value)
    assert "cs_wrong_secret_123" not in repr(bad) and "cs_wrong" not in repr(bad.client)


async def test_oauth_error_body_and_unreadable_token() -> None:
    answers: list[httpx.Response] = [
        httpx.Response(
            400,
            json={"requestId": "r", "errorCode": "400.008.02", "errorMessage": "Invalid grant type passed"},
        ),
        httpx.Response(200, json={"expires_in": "3599"}),
        httpx.Response(200, json={"access_token": "t1", "expires_in": "soon"}),
    ]

    def daraja(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    clock = [0.0]
    client = DarajaClient(
        DARAJA,
        KEY,
        SECRET,
        SHORTCODE,
        SANDBOX_PASSKEY,
        transport=httpx.MockTransport(daraja),
        tokens=TokenCache(clock=lambda: clock[0]),
    )
    with pytest.raises(DarajaAuthError, match=r"400\.008\.02: Invalid grant type passed"):
        await client.token()
    with pytest.raises(Exception, match=r"sent no access token"):
        await client.token()
    assert await client.token() == "t1"  # an unreadable expires_in counts as an hour
    clock[0] = 3600 - 300 - 1
    assert await client.token() == "t1"
    await client.aclose()


def test_reprs_hold_no_secrets() -> None:
    gateway = MpesaGateway(settings(passkey="pk_never_shown_123"))
    for text in (repr(gateway), repr(gateway.client), repr(gateway.client._tokens)):
        assert "pk_never_shown_123" not in text and KEY not in text and SECRET not in text
    asyncio.run(gateway.aclose())


async def test_requests_are_json_with_a_bearer_token() -> None:
    seen: list[httpx.Request] = []

    def daraja(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == OAUTH:
            return httpx.Response(200, json={"access_token": "tok", "expires_in": "3599"})
        return httpx.Response(
            200, json={"ResponseCode": "0", "CheckoutRequestID": "ws_CO_9", "CustomerMessage": "ok"}
        )

    gateway = MpesaGateway(settings(), transport=httpx.MockTransport(daraja), tokens=TokenCache())
    await gateway.initiate(pay())
    await gateway.aclose()
    oauth, push = seen
    assert oauth.method == "GET" and str(oauth.url) == f"{DARAJA}{OAUTH}?grant_type=client_credentials"
    assert oauth.headers["authorization"].startswith("Basic ")
    assert push.method == "POST" and push.headers["authorization"] == "Bearer tok"
    assert push.headers["content-type"] == "application/json"
    body: dict[str, Any] = json.loads(push.content)
    assert body["Amount"] == 50 and isinstance(body["Amount"], int)
