"""The Daraja simulator, driven with plain httpx exactly as a Daraja client would.

Simulated time uses a fake clock (1_800_000_000 = 2027-01-15 11:00:00 EAT), so delays are exact.
Callbacks go to a receiver behind an injected httpx.MockTransport, except in the end-to-end tests,
which serve both the simulator and a Litestar callback receiver on real loopback ports.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fakes import Clock
from litestar import Litestar, Request, post

from hotspot.cli import main
from hotspot.sim._daraja_http import MiniServer
from hotspot.sim._daraja_wire import normalise_phone
from hotspot.sim.daraja import SANDBOX_PASSKEY, DarajaSimulator, Outcome, password_for

KEY, SECRET, SHORTCODE = "ck_test_3f9c1e", "cs_test_7ab2d4", "174379"
PHONE, PHONE2 = "254712345678", "254110000001"
CALLBACK = "https://pay.example-isp.co.ke/cb/daraja/3f9c1e7ab2d44c0e8a61f05b9d7e2c34"
START = 1_800_000_000.0
PROCESSING = "The transaction is being processed"


class Receiver:
    """The box's callback endpoint: records every POST and answers like a well-behaved handler."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.headers["content-type"] == "application/json"
        self.posts.append((str(request.url), json.loads(request.content)))
        return httpx.Response(self.status, json={"ResultCode": 0, "ResultDesc": "Accepted"})

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.posts]


class Daraja:
    """A minimal Daraja client: what a payment plugin does on the wire."""

    def __init__(self, http: httpx.AsyncClient, sim: DarajaSimulator) -> None:
        self.http, self.sim = http, sim
        self.token = ""

    async def get_token(self, key: str = KEY, secret: str = SECRET) -> httpx.Response:
        response = await self.http.get(
            "/oauth/v1/generate", params={"grant_type": "client_credentials"}, auth=(key, secret)
        )
        if response.status_code == 200:
            self.token = response.json()["access_token"]
        return response

    def push_body(self, **changes: Any) -> dict[str, Any]:
        timestamp = self.sim.timestamp()
        body: dict[str, Any] = {
            "BusinessShortCode": 174379,
            "Password": password_for(SHORTCODE, SANDBOX_PASSKEY, timestamp),
            "Timestamp": timestamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": 50,
            "PartyA": PHONE,
            "PartyB": SHORTCODE,
            "PhoneNumber": PHONE,
            "CallBackURL": CALLBACK,
            "AccountReference": "HS7F3K2Q",
            "TransactionDesc": "Wifi 1 day",
        }
        for name, value in changes.items():
            if value is _DROP:
                body.pop(name)
            else:
                body[name] = value
        return body

    async def push(self, **changes: Any) -> httpx.Response:
        return await self.http.post(
            "/mpesa/stkpush/v1/processrequest",
            json=self.push_body(**changes),
            headers={"Authorization": f"Bearer {self.token}"},
        )

    async def checkout(self, **changes: Any) -> str:
        response = await self.push(**changes)
        assert response.status_code == 200, response.text
        return str(response.json()["CheckoutRequestID"])

    async def query(self, checkout_request_id: str, **changes: Any) -> httpx.Response:
        timestamp = self.sim.timestamp()
        body = {
            "BusinessShortCode": SHORTCODE,
            "Password": password_for(SHORTCODE, SANDBOX_PASSKEY, timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
            **changes,
        }
        return await self.http.post(
            "/mpesa/stkpushquery/v1/query", json=body, headers={"Authorization": f"Bearer {self.token}"}
        )


_DROP = object()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def sim(clock: Clock, receiver: Receiver) -> AsyncIterator[DarajaSimulator]:
    async with DarajaSimulator(
        KEY, SECRET, SHORTCODE, SANDBOX_PASSKEY, clock=clock, callback_transport=httpx.MockTransport(receiver)
    ) as simulator:
        yield simulator


@pytest.fixture
async def daraja(sim: DarajaSimulator) -> AsyncIterator[Daraja]:
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://sandbox.safaricom.co.ke") as http:
        client = Daraja(http, sim)
        assert (await client.get_token()).status_code == 200
        yield client


def assert_error(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    assert re.fullmatch(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[0-9]{4}", body["requestId"])
    assert (body["errorCode"], body["errorMessage"]) == (code, message)


# --- helpers of the wire format -----------------------------------------------------------------


def test_password_matches_the_research_test_vector() -> None:
    assert password_for("174379", SANDBOX_PASSKEY, "20250301143005") == (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQy"
        "YzkxOTIwMjUwMzAxMTQzMDA1"
    )


def test_phone_and_outcome_parsing() -> None:
    assert normalise_phone("0712 345 678") == normalise_phone("+254712345678") == PHONE
    assert normalise_phone(110000001) == PHONE2
    for bad in ("254612345678", "07123", "2547123456789"):
        with pytest.raises(ValueError, match="MSISDN"):
            normalise_phone(bad)
    assert Outcome.parse("insufficient funds") is Outcome.INSUFFICIENT_FUNDS
    assert Outcome.parse("wrong PIN") is Outcome.WRONG_PIN
    assert Outcome.parse("no answer") is Outcome.TIMEOUT
    with pytest.raises(ValueError, match="unknown outcome"):
        Outcome.parse("maybe")


# --- OAuth --------------------------------------------------------------------------------------


async def test_token_is_issued_for_basic_credentials(daraja: Daraja, sim: DarajaSimulator) -> None:
    response = await daraja.get_token()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in"} and body["expires_in"] == "3599"
    assert re.fullmatch(r"[A-Za-z0-9]{28}", body["access_token"])
    assert sim.tokens == {body["access_token"]: START + 3599}
    sim.numeric_expires_in = True
    assert (await daraja.get_token()).json()["expires_in"] == 3599


async def test_token_errors(daraja: Daraja) -> None:
    url, params = "/oauth/v1/generate", {"grant_type": "client_credentials"}
    wrong = await daraja.get_token(secret="nope")
    assert (wrong.status_code, wrong.content) == (400, b"")
    assert (await daraja.get_token(key="other")).status_code == 400
    garbage = await daraja.http.get(url, params=params, headers={"Authorization": "Basic %%%"})
    assert (garbage.status_code, garbage.content) == (400, b"")
    assert_error(
        await daraja.http.get(url, params=params), 400, "400.008.01", "Invalid Authentication passed"
    )
    bearer = await daraja.http.get(url, params=params, headers={"Authorization": f"Bearer {daraja.token}"})
    assert_error(bearer, 400, "400.008.01", "Invalid Authentication passed")
    grant = await daraja.http.get(url, params={"grant_type": "password"}, auth=(KEY, SECRET))
    assert_error(grant, 400, "400.008.02", "Invalid grant type passed")
    assert_error(
        await daraja.http.post(url, params=params, auth=(KEY, SECRET)), 405, "405.001", "Method Not Allowed"
    )


async def test_token_expires_on_the_simulated_clock(
    daraja: Daraja, sim: DarajaSimulator, clock: Clock
) -> None:
    await sim.advance(3598)
    assert (await daraja.push()).status_code == 200
    clock.now += 1  # the injected clock moving counts too
    assert_error(
        await daraja.push(PhoneNumber=PHONE2, PartyA=PHONE2), 404, "404.001.03", "Invalid Access Token"
    )
    assert_error(await daraja.query("ws_CO_x"), 400, "400.003.01", "Invalid Access Token")
    assert (await daraja.get_token()).status_code == 200
    assert (await daraja.push(PhoneNumber=PHONE2, PartyA=PHONE2)).status_code == 200


async def test_a_new_token_invalidates_the_previous_one(daraja: Daraja, sim: DarajaSimulator) -> None:
    old = daraja.token
    await daraja.get_token()
    assert daraja.token != old and list(sim.tokens) == [daraja.token]
    stale = await daraja.http.post(
        "/mpesa/stkpush/v1/processrequest",
        json=daraja.push_body(),
        headers={"Authorization": f"Bearer {old}"},
    )
    assert_error(stale, 404, "404.001.03", "Invalid Access Token")
    sim.expire_tokens()
    assert_error(await daraja.push(), 404, "404.001.03", "Invalid Access Token")


async def test_missing_or_wrong_authorization_header(daraja: Daraja) -> None:
    url = "/mpesa/stkpush/v1/processrequest"
    body = daraja.push_body()
    assert_error(await daraja.http.post(url, json=body), 404, "404.001.04", "Invalid Authentication Header")
    basic = await daraja.http.post(url, json=body, auth=(KEY, SECRET))
    assert_error(basic, 404, "404.001.04", "Invalid Authentication Header")


# --- STK push validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("BusinessShortCode", "17437a"),
        ("BusinessShortCode", 1743),
        ("BusinessShortCode", 1743790),
        ("BusinessShortCode", _DROP),
        ("Password", "not base64!"),
        ("Password", _DROP),
        ("Timestamp", "2025-03-01 14:30"),
        ("Timestamp", "20251301143005"),
        ("Timestamp", 20250301143005),
        ("TransactionType", "CustomerPayBill"),
        ("Amount", 0),
        ("Amount", 10.5),
        ("Amount", "ten"),
        ("Amount", 250_001),
        ("Amount", True),
        ("Amount", _DROP),
        ("PartyA", "0712345678"),
        ("PartyA", "+254712345678"),
        ("PartyA", "254612345678"),
        ("PartyB", "paybill"),
        ("PhoneNumber", "25471234567"),
        ("PhoneNumber", _DROP),
        ("CallBackURL", "ftp://pay.example-isp.co.ke/cb"),
        ("CallBackURL", " https://pay.example-isp.co.ke/cb"),
        ("CallBackURL", "pay.example-isp.co.ke/cb"),
        ("CallBackURL", _DROP),
        ("AccountReference", "HS7F3K2Q12345"),
        ("AccountReference", ""),
        ("TransactionDesc", "Wifi 1 day pass"),
    ],
)
async def test_each_bad_field_is_named(daraja: Daraja, sim: DarajaSimulator, field: str, value: Any) -> None:
    response = await daraja.push(**{field: value})
    assert_error(response, 400, "400.002.02", f"Bad Request - Invalid {field}")
    assert sim.pushes == {} and sim.requests[-1].error_code == "400.002.02"
    assert not sim.requests[-1].accepted


@pytest.mark.parametrize(
    "changes",
    [
        {"BusinessShortCode": "174379", "Amount": "50", "PartyA": 254712345678},
        {"PartyA": PHONE2, "PhoneNumber": PHONE2, "Amount": 1.0},
        {
            "TransactionDesc": _DROP,
            "AccountReference": "ABCDEFGHIJKL",
            "CallBackURL": "http://127.0.0.1:8/cb",
        },
        {"TransactionType": "CustomerBuyGoodsOnline", "PartyB": "5123456", "Amount": 250_000},
    ],
)
async def test_valid_variants_are_accepted(daraja: Daraja, changes: dict[str, Any]) -> None:
    response = await daraja.push(**changes)
    assert response.status_code == 200, response.text


async def test_https_can_be_required(daraja: Daraja, sim: DarajaSimulator) -> None:
    sim.require_https = True
    response = await daraja.push(CallBackURL="http://pay.example-isp.co.ke/cb")
    assert_error(response, 400, "400.002.02", "Bad Request - Invalid CallBackURL")


async def test_payload_and_content_type_errors(daraja: Daraja) -> None:
    url, auth = "/mpesa/stkpush/v1/processrequest", {"Authorization": f"Bearer {daraja.token}"}
    headers = {**auth, "Content-Type": "application/json"}
    broken = await daraja.http.post(url, content=b'{"BusinessShortCode": 174379,', headers=headers)
    assert_error(broken, 400, "400.002.05", "Invalid request payload")
    assert_error(
        await daraja.http.post(url, json=[1], headers=auth), 400, "400.002.05", "Invalid request payload"
    )
    plain = await daraja.http.post(
        url, content=json.dumps(daraja.push_body()), headers={**auth, "Content-Type": "text/plain"}
    )
    assert_error(plain, 400, "400.002.02", "Bad Request - Invalid Content-Type")


async def test_credentials_and_merchant_errors(daraja: Daraja) -> None:
    wrong_pass = await daraja.push(Password=password_for(SHORTCODE, "0" * 64, daraja.sim.timestamp()))
    assert_error(wrong_pass, 500, "500.001.1001", "[MerchantValidate] - Wrong credentials")
    other_time = await daraja.push(Timestamp="20250301143006")  # Password made with another Timestamp
    assert_error(other_time, 500, "500.001.1001", "[MerchantValidate] - Wrong credentials")
    merchant = await daraja.push(BusinessShortCode=600984)
    assert_error(merchant, 500, "500.001.1001", "Merchant does not exist")


async def test_routing_errors(daraja: Daraja) -> None:
    auth = {"Authorization": f"Bearer {daraja.token}"}
    assert_error(
        await daraja.http.post("/mpesa/stkpush/v2/x", headers=auth), 404, "404.001.01", "Resource not found"
    )
    got = await daraja.http.get("/mpesa/stkpush/v1/processrequest", headers=auth)
    assert_error(got, 405, "405.001", "Method Not Allowed")
    got = await daraja.http.get("/mpesa/stkpushquery/v1/query", headers=auth)
    assert_error(got, 405, "405.001", "Method Not Allowed")


async def test_spike_arrest(daraja: Daraja, sim: DarajaSimulator) -> None:
    sim.spike_arrest = True
    assert_error(await daraja.push(), 500, "500.003.02", "Spike Arrest Violation")
    assert_error(await daraja.get_token(), 500, "500.003.02", "Spike Arrest Violation")
    sim.spike_arrest = False
    assert (await daraja.push()).status_code == 200


# --- acknowledgement, outcomes, callbacks and queries -------------------------------------------


async def test_acknowledgement(daraja: Daraja, sim: DarajaSimulator) -> None:
    response = await daraja.push()
    assert response.status_code == 200
    body = response.json()
    assert list(body) == [
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResponseCode",
        "ResponseDescription",
        "CustomerMessage",
    ]
    assert body["ResponseCode"] == "0"
    assert (
        body["ResponseDescription"] == body["CustomerMessage"] == "Success. Request accepted for processing"
    )
    assert re.fullmatch(
        r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[0-9]{7}", body["MerchantRequestID"]
    )
    assert re.fullmatch(r"ws_CO_15012027110000[0-9]{3}712345678", body["CheckoutRequestID"])
    push = sim.pushes[body["CheckoutRequestID"]]
    assert (push.amount, push.phone, push.account_reference, push.pending) == (50, PHONE, "HS7F3K2Q", True)
    assert sim.requests[-1].body["AccountReference"] == "HS7F3K2Q"


OUTCOMES = [
    ("cancelled", 1032, "Request cancelled by user."),
    ("timeout", 1037, "DS timeout user cannot be reached."),
    ("unreachable", 1037, "DS timeout user cannot be reached."),
    ("expired", 1019, "Transaction has expired."),
    ("insufficient funds", 1, "The balance is insufficient for the transaction."),
    ("wrong PIN", 2001, "The initiator information is invalid."),
    ("limit_rule", 2, "Declined due to limit rule."),
    ("rule_limited", 17, "Rule limited."),
    ("push_error", 1025, "An error occurred while sending a push request."),
    ("pin_locked", 8006, "The security credential is locked."),
]


async def test_success_callback_and_query(daraja: Daraja, sim: DarajaSimulator, receiver: Receiver) -> None:
    sim.set_outcome(PHONE, "success", after_seconds=25)
    ack = (await daraja.push()).json()
    checkout = ack["CheckoutRequestID"]
    assert_error(await daraja.query(checkout), 500, "500.001.1001", PROCESSING)
    await sim.advance(24)
    assert receiver.posts == []
    assert_error(await daraja.query(checkout), 500, "500.001.1001", PROCESSING)
    await sim.advance(1)
    receipt = sim.pushes[checkout].receipt
    assert receipt is not None and re.fullmatch(r"[A-Z0-9]{10}", receipt)
    assert receiver.posts == [
        (
            CALLBACK,
            {
                "Body": {
                    "stkCallback": {
                        "MerchantRequestID": ack["MerchantRequestID"],
                        "CheckoutRequestID": checkout,
                        "ResultCode": 0,
                        "ResultDesc": "The service request is processed successfully.",
                        "CallbackMetadata": {
                            "Item": [
                                {"Name": "Amount", "Value": 50.0},
                                {"Name": "MpesaReceiptNumber", "Value": receipt},
                                {"Name": "Balance"},
                                {"Name": "TransactionDate", "Value": 20270115110025},
                                {"Name": "PhoneNumber", "Value": 254712345678},
                            ]
                        },
                    }
                }
            },
        )
    ]
    answer = await daraja.query(checkout)
    assert answer.status_code == 200
    assert answer.json() == {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successfully",
        "MerchantRequestID": ack["MerchantRequestID"],
        "CheckoutRequestID": checkout,
        "ResultCode": "0",
        "ResultDesc": "The service request is processed successfully.",
    }
    [sent] = sim.callbacks_sent
    assert (sent.kind, sent.status_code, sent.delivered, sent.checkout_request_id) == (
        "result",
        200,
        True,
        checkout,
    )
    assert json.loads(sent.response_text) == {"ResultCode": 0, "ResultDesc": "Accepted"}
    await sim.advance(3600)
    assert len(receiver.posts) == 1  # sent once, never again


@pytest.mark.parametrize(("outcome", "code", "desc"), OUTCOMES)
async def test_failure_callback_and_query(
    daraja: Daraja, sim: DarajaSimulator, receiver: Receiver, outcome: str, code: int, desc: str
) -> None:
    sim.set_outcome(PHONE, outcome, after_seconds=30)
    ack = (await daraja.push()).json()
    checkout = ack["CheckoutRequestID"]
    await sim.advance(29.5)
    assert_error(await daraja.query(checkout), 500, "500.001.1001", PROCESSING)
    await sim.advance(0.5)
    assert receiver.bodies == [
        {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": ack["MerchantRequestID"],
                    "CheckoutRequestID": checkout,
                    "ResultCode": code,
                    "ResultDesc": desc,
                }
            }
        }
    ]
    answer = (await daraja.query(checkout)).json()
    assert (answer["ResultCode"], answer["ResultDesc"], answer["ResponseCode"]) == (str(code), desc, "0")


async def test_default_outcome_and_delays(daraja: Daraja, sim: DarajaSimulator, receiver: Receiver) -> None:
    checkout = await daraja.checkout()  # default: success after 10 s
    await sim.advance(10)
    assert receiver.bodies[-1]["Body"]["stkCallback"]["ResultCode"] == 0
    sim.set_outcome(None, "cancelled", after_seconds=3)
    sim.set_outcome("0110000001", "timeout")  # 60 s by default
    other = await daraja.checkout()
    slow = await daraja.checkout(PartyA=PHONE2, PhoneNumber=PHONE2)
    await sim.advance(3)
    assert sim.pushes[other].result_code == 1032 and sim.pushes[slow].pending
    await sim.advance(57)
    assert sim.pushes[slow].result_code == 1037
    assert [b["Body"]["stkCallback"]["CheckoutRequestID"] for b in receiver.bodies] == [checkout, other, slow]


async def test_paid_amount_differs_from_the_request(
    daraja: Daraja, sim: DarajaSimulator, receiver: Receiver
) -> None:
    sim.set_outcome(PHONE, "success", after_seconds=5, paid_amount=1)
    checkout = await daraja.checkout(Amount=50)
    await sim.advance(5)
    items = receiver.bodies[0]["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    assert {"Name": "Amount", "Value": 1.0} in items
    assert (await daraja.query(checkout)).json()["ResultCode"] == "0"


async def test_second_push_to_a_busy_phone_is_refused(daraja: Daraja, sim: DarajaSimulator) -> None:
    await daraja.checkout()
    locked = await daraja.push()
    assert_error(
        locked,
        500,
        "500.001.1001",
        "Unable to lock subscriber, a transaction is already in process for the current subscriber",
    )
    assert (await daraja.push(PartyA=PHONE2, PhoneNumber=PHONE2)).status_code == 200
    await sim.advance(10)
    assert (await daraja.push()).status_code == 200


async def test_till_and_paybill_mix_up_fails_with_2028(clock: Clock, receiver: Receiver) -> None:
    sim = DarajaSimulator(
        KEY, SECRET, clock=clock, till="5123456", callback_transport=httpx.MockTransport(receiver)
    )
    async with (
        sim,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://d") as http,
    ):
        daraja = Daraja(http, sim)
        await daraja.get_token()
        good = await daraja.checkout(TransactionType="CustomerBuyGoodsOnline", PartyB="5123456")
        bad = await daraja.checkout(
            TransactionType="CustomerBuyGoodsOnline", PartyB=SHORTCODE, PartyA=PHONE2, PhoneNumber=PHONE2
        )
        await sim.advance(10)
        assert sim.pushes[good].result_code == 0
        assert (sim.pushes[bad].result_code, sim.pushes[bad].result_desc) == (
            2028,
            "The request is not permitted according to product assignment.",
        )


async def test_never_answered_stays_pending_until_answered(
    daraja: Daraja, sim: DarajaSimulator, receiver: Receiver
) -> None:
    sim.set_outcome(PHONE, "never")
    checkout = await daraja.checkout()
    await sim.advance(3000)
    assert_error(await daraja.query(checkout), 500, "500.001.1001", PROCESSING)
    assert receiver.posts == []
    await sim.answer(checkout, "cancelled")
    assert (await daraja.query(checkout)).json()["ResultCode"] == "1032"
    assert receiver.bodies[0]["Body"]["stkCallback"]["ResultCode"] == 1032
    with pytest.raises(ValueError, match="already answered"):
        await sim.answer(checkout)


async def test_query_errors(daraja: Daraja) -> None:
    checkout = await daraja.checkout()
    unknown = await daraja.query("ws_CO_01032025143006123712345678")
    assert_error(unknown, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
    assert_error(
        await daraja.query(checkout, CheckoutRequestID=None),
        400,
        "400.002.02",
        "Bad Request - Invalid CheckoutRequestID",
    )
    bad_pass = await daraja.query(checkout, Password=base64.b64encode(b"174379wrong").decode())
    assert_error(bad_pass, 500, "500.001.1001", "[MerchantValidate] - Wrong credentials")
    assert_error(
        await daraja.query(checkout, BusinessShortCode="12"),
        400,
        "400.002.02",
        "Bad Request - Invalid BusinessShortCode",
    )
    no_auth = await daraja.http.post("/mpesa/stkpushquery/v1/query", json={"CheckoutRequestID": checkout})
    assert_error(no_auth, 404, "404.001.04", "Invalid Authentication Header")


# --- NAT, duplicates, forgeries, delivery failures ----------------------------------------------


async def test_dropped_callbacks_settle_by_query_alone(
    daraja: Daraja, sim: DarajaSimulator, receiver: Receiver
) -> None:
    sim.drop_callbacks = True
    checkout = await daraja.checkout()
    await sim.advance(10)
    assert receiver.posts == [] and sim.callbacks_sent == []
    [dropped] = sim.callbacks_dropped
    assert (dropped.checkout_request_id, dropped.error, dropped.delivered) == (checkout, "dropped", False)
    assert (await daraja.query(checkout)).json()["ResultCode"] == "0"


async def test_duplicate_callbacks(daraja: Daraja, sim: DarajaSimulator, receiver: Receiver) -> None:
    sim.duplicate_callbacks = 1
    checkout = await daraja.checkout()
    await sim.advance(10)
    assert len(receiver.bodies) == 2 and receiver.bodies[0] == receiver.bodies[1]
    assert [d.kind for d in sim.callbacks_sent] == ["result", "duplicate"]
    again = await sim.resend_callback(checkout)
    assert again.kind == "duplicate" and receiver.bodies[2] == receiver.bodies[0]


async def test_late_callback_after_the_query_already_knows(
    daraja: Daraja, sim: DarajaSimulator, receiver: Receiver
) -> None:
    sim.callback_delay = 30
    checkout = await daraja.checkout()
    await sim.advance(10)
    assert (await daraja.query(checkout)).json()["ResultCode"] == "0" and receiver.posts == []
    await sim.advance(30)
    assert len(receiver.posts) == 1


async def test_forged_callbacks(daraja: Daraja, sim: DarajaSimulator, receiver: Receiver) -> None:
    checkout = await daraja.checkout(Amount=50)
    # A forged "paid" for a real, still pending push, with the wrong amount.
    forged = await sim.forge_callback(checkout, amount=1)
    callback = receiver.bodies[0]["Body"]["stkCallback"]
    assert (forged.kind, callback["CheckoutRequestID"], callback["ResultCode"]) == ("forged", checkout, 0)
    assert callback["MerchantRequestID"] == sim.pushes[checkout].merchant_request_id
    assert {"Name": "Amount", "Value": 1.0} in callback["CallbackMetadata"]["Item"]
    assert sim.pushes[checkout].pending  # Daraja itself knows nothing of it
    assert_error(await daraja.query(checkout), 500, "500.001.1001", PROCESSING)
    # One for a CheckoutRequestID Daraja never issued, to the same URL.
    unknown = await sim.forge_callback(result_code=0)
    assert unknown.url == CALLBACK and unknown.checkout_request_id not in sim.pushes
    assert re.fullmatch(r"ws_CO_[0-9]{17}700000000", unknown.checkout_request_id)
    failed = await sim.forge_callback(checkout, result_code=1032, url="https://elsewhere.example/cb")
    assert failed.payload["Body"]["stkCallback"] == {
        "MerchantRequestID": sim.pushes[checkout].merchant_request_id,
        "CheckoutRequestID": checkout,
        "ResultCode": 1032,
        "ResultDesc": "Request cancelled by user.",
    }
    assert receiver.posts[-1][0] == "https://elsewhere.example/cb"
    other_phone = await sim.forge_callback(checkout, phone="0722 000 111")
    items = other_phone.payload["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    assert {"Name": "PhoneNumber", "Value": 254722000111} in items
    assert [d.kind for d in sim.callbacks_sent] == ["forged"] * 4


async def test_forging_needs_a_url_before_any_push(sim: DarajaSimulator) -> None:
    with pytest.raises(ValueError, match="url="):
        await sim.forge_callback()


async def test_delivery_failures_are_recorded_not_retried(
    daraja: Daraja, sim: DarajaSimulator, receiver: Receiver
) -> None:
    receiver.status = 503
    await daraja.checkout()
    await sim.advance(10)
    [sent] = sim.callbacks_sent
    assert (sent.status_code, sent.delivered) == (503, False)
    await sim.advance(600)
    assert len(receiver.posts) == 1


async def test_unreachable_callback_url_is_recorded(clock: Clock) -> None:
    async with DarajaSimulator(KEY, SECRET, clock=clock, callback_timeout=2) as sim:
        transport = httpx.ASGITransport(app=sim.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://d") as http:
            daraja = Daraja(http, sim)
            await daraja.get_token()
            with socket.socket() as sock:  # a port nobody listens on
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            await daraja.checkout(CallBackURL=f"http://127.0.0.1:{port}/cb")
            await sim.advance(10)
    [sent] = sim.callbacks_sent
    assert sent.status_code is None and sent.error is not None and "ConnectError" in sent.error


# --- on real sockets ----------------------------------------------------------------------------


@pytest.fixture
async def box() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A tiny Litestar callback receiver on a free loopback port: (url, [(client ip, body)])."""
    seen: list[tuple[str, dict[str, Any]]] = []

    @post("/cb/3f9c1e7ab2d44c0e", status_code=200)
    async def callback(request: Request[Any, Any, Any]) -> dict[str, Any]:
        client = request.client.host if request.client else ""
        seen.append((client, await request.json()))
        return {"ResultCode": 0, "ResultDesc": "Accepted"}

    server = MiniServer(Litestar([callback]))
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}/cb/3f9c1e7ab2d44c0e", seen
    finally:
        await server.stop()


async def test_end_to_end_on_real_ports(
    clock: Clock, box: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    url, seen = box
    sim = DarajaSimulator(KEY, SECRET, clock=clock, callback_source_ip="127.0.0.2")
    await sim.start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+", sim.base_url) and sim.port > 0
        async with httpx.AsyncClient(base_url=sim.base_url) as http:
            daraja = Daraja(http, sim)
            assert (await daraja.get_token()).status_code == 200
            sim.set_outcome(PHONE, "insufficient funds", after_seconds=15)
            checkout = await daraja.checkout(CallBackURL=url)
            checkout2 = await daraja.checkout(CallBackURL=url, PartyA=PHONE2, PhoneNumber=PHONE2)
            assert (await daraja.query(checkout)).status_code == 500
            await sim.advance(15)
            assert (await daraja.query(checkout)).json()["ResultCode"] == "1"
            assert (await daraja.query(checkout2)).json()["ResultCode"] == "0"
    finally:
        await sim.stop()
    assert [(ip, body["Body"]["stkCallback"]["CheckoutRequestID"]) for ip, body in seen] == [
        ("127.0.0.2", checkout2),
        ("127.0.0.2", checkout),
    ]
    with pytest.raises(RuntimeError, match="not serving"):
        _ = sim.base_url


# --- the command --------------------------------------------------------------------------------


def test_cli_rejects_a_bad_outcome() -> None:
    result = CliRunner().invoke(main, ["sim", "daraja", "--outcome", "254712345678=maybe"])
    assert result.exit_code == 2 and "unknown outcome" in result.output
    result = CliRunner().invoke(main, ["sim", "daraja", "--outcome", "0612345678=success"])
    assert result.exit_code == 2 and "MSISDN" in result.output


@contextlib.contextmanager
def _sigint_delivered() -> Iterator[None]:
    """A child inherits an ignored SIGINT (e.g. under nohup), and Python then never sees Ctrl-C."""
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
async def test_sim_daraja_serves_on_real_time_until_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    out, err = tmp_path / "sim.out", tmp_path / "sim.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOT_")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1")
    command = [sys.executable, "-m", "hotspot", "sim", "daraja", "--port", str(port), "--key", KEY]
    command += ["--secret", SECRET, "--shortcode", SHORTCODE, "--passkey", SANDBOX_PASSKEY]
    command += ["--outcome", f"{PHONE}=cancelled:0.3", "--drop-callbacks"]
    with out.open("wb") as stdout, err.open("wb") as stderr, _sigint_delivered():
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
    try:
        sim = DarajaSimulator(KEY, SECRET)  # only for its timestamp/password helpers
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            daraja = Daraja(http, sim)
            deadline = time.monotonic() + 20
            while True:
                try:
                    assert (await daraja.get_token()).status_code == 200
                    break
                except httpx.ConnectError:
                    assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
                    await asyncio.sleep(0.05)
            checkout = await daraja.checkout()
            assert (await daraja.query(checkout)).status_code == 500
            for _ in range(100):
                answer = await daraja.query(checkout)
                if answer.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert answer.json()["ResultCode"] == "1032"
        proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 10) == 0, err.read_text()
        text = out.read_text()
        assert f"listening on http://127.0.0.1:{port}" in text and text.rstrip().endswith("stopped")
        assert "Traceback" not in err.read_text()
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
