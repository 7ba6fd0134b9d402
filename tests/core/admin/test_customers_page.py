"""The customers pages through the app: the list (search by phone or MAC, keyset "Load more"),
one customer's purchases, sessions and devices, and the owner's actions: block and unblock a
phone or a device (modal form with CSRF, inline errors), bind and unbind devices; each one
reaching the router and the portal's gate, audited, refused to read-only roles; both backends."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from admin_support import (
    DARAJA_KEY,
    DARAJA_SECRET,
    ROUTER_PASSWORD,
    ROUTER_USER,
    SANDBOX,
    Box,
    Simulators,
)
from bs4 import BeautifulSoup

from hotspot.access.grants import GrantRequest
from hotspot.accounts import Principal, permissions_for
from hotspot.accounts.audit import AuditFilter
from hotspot.admin.customers_page import parse_block
from hotspot.payments.tables import Order, Payment

HX = {"HX-Request": "true"}
NOW = 1_800_000_000.0
PHONE, OTHER = "254712345678", "254799000111"
MAC, MAC2 = "AA:BB:CC:00:02:01", "AA:BB:CC:00:02:02"
PACKAGES = [{"name": "1 hour", "price": "20 KES", "duration": "1h", "down": "5M", "up": "2M"}]


def box_extra(sims: Simulators) -> dict[str, Any]:
    return {
        "plugins": {
            "mikrotik": {"enabled": True, "connect_timeout": 2, "command_timeout": 2},
            "mpesa": {
                "enabled": True,
                "environment": "custom",
                "base_url": sims.daraja.base_url,
                "consumer_key": DARAJA_KEY,
                "consumer_secret": DARAJA_SECRET,
                **SANDBOX,
            },
        },
        "routers": [
            {
                "name": "cafe",
                "host": "127.0.0.1",
                "port": sims.router.port,
                "username": ROUTER_USER,
                "password": ROUTER_PASSWORD,
            }
        ],
        "packages": PACKAGES,
    }


def order(
    oid: str, phone: str, *, mac: str = MAC, state: str = "paid", at: float = NOW, **extra: Any
) -> Order:
    return Order(
        id=oid,
        package_id=1,
        package_name="1 hour",
        terms={},
        amount=2000,
        currency="KES",
        phone=phone,
        mac=mac,
        ip="10.5.50.21",
        state=state,
        created_at=at,
        paid_at=at if state == "paid" else None,
        **extra,
    )


def seed_customers(box: Box, count: int) -> list[str]:
    """`count` phones that paid (one, 2547120000NN, twice and in two currencies)."""
    phones = [f"2547120000{n:02d}" for n in range(count)]

    async def go() -> None:
        for n, phone in enumerate(phones):
            await order(f"o{n}", phone, mac=f"AA:BB:CC:00:03:{n:02X}", at=NOW + n).save().run()
        await order("o-usd", phones[0], mac="AA:BB:CC:00:03:FF", at=NOW + 99).save().run()
        await Order.update({Order.currency: "USD", Order.amount: 150}).where(Order.id == "o-usd").run()

    box.run(go)
    return phones


async def test_the_list_searches_and_pages_by_keyset(box_factory: Any) -> None:
    box = await box_factory()
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    phones = seed_customers(box, 5)

    full = await browser.get("/admin/customers")
    assert full.status_code == 200
    soup = BeautifulSoup(full.text, "html.parser")
    assert soup.select_one("nav[aria-label=Admin] a[href='/admin/customers']") is not None
    rows = soup.select("tr.hs-customer")
    assert [r["data-phone"] for r in rows] == phones  # phone order: the index's own
    first = rows[0].text
    assert "KES" in first and "USD" in first and "2" in first  # two purchases, one per currency

    for typed, expected in (
        ("0712 000 003", [phones[3]]),  # a whole number, as typed
        ("07120000", phones),  # its start
        ("712000004", [phones[4]]),
        ("aa-bb-cc-00-03-ff", [phones[0]]),  # a device: every phone that used it
    ):
        found = await browser.get(f"/admin/customers?q={typed}", headers=HX)
        assert found.status_code == 200 and "<html" not in found.text
        got = [r["data-phone"] for r in BeautifulSoup(found.text, "html.parser").select("tr.hs-customer")]
        assert got == expected, typed
    none = await browser.get("/admin/customers?q=0799+999+999", headers=HX)
    assert "No customer matches" in none.text
    link = BeautifulSoup(none.text, "html.parser").select_one("a[data-open-number]")
    assert link is not None and link["href"] == "/admin/customers/254799999999"
    fresh = await browser.get("/admin/customers/254799999999")  # a number that never bought
    assert fresh.status_code == 200 and "not bought anything" in fresh.text and "Block number" in fresh.text
    bad = await browser.get("/admin/customers?q=hello", headers=HX)
    assert bad.status_code == 400 and "Search" in bad.text  # names the field, never a 500
    cursor = await browser.get("/admin/customers?after=x", headers=HX)
    assert cursor.status_code == 400

    import hotspot.admin.customers_page as customers_page

    customers_page.PAGE_SIZE = 2
    try:
        seen: list[str] = []
        link: str | None = "/admin/customers"
        pages = 0
        while link:
            answer = BeautifulSoup((await browser.get(link, headers=HX)).text, "html.parser")
            seen += [r["data-phone"] for r in answer.select("tr.hs-customer")]
            more = answer.select_one("tr.hs-more a")
            link = str(more["hx-get"]) if more else None
            pages += 1
        assert seen == phones and pages == 3
    finally:
        customers_page.PAGE_SIZE = 50


async def test_blocking_a_number_drops_it_refuses_it_and_unblocking_restores(
    box_factory: Any, sims: Simulators
) -> None:
    box = await box_factory(box_extra(sims))
    box.admin("ops", "operator")
    browser = await box.signed_in("ops")
    sims.router.add_host(MAC, "10.5.50.21")
    hotspot = box.hotspot

    async def online() -> int:
        grant_id = await hotspot.grants.request(
            GrantRequest(profile="1 hour", seconds=3600, mac=MAC, ip="10.5.50.21", router_hint="cafe")
        )
        await order("o-live", PHONE, grant_id=grant_id, at=hotspot.customers.clock()).save().run()
        await (
            Payment(
                id="p-live",
                order_id="o-live",
                gateway="mpesa",
                amount=2000,
                currency="KES",
                phone=PHONE,
                state="succeeded",
                receipt="TC17H2Q9XZ",
                created_at=NOW,
                updated_at=NOW,
            )
            .save()
            .run()
        )
        for _ in range(8):
            if not await hotspot.jobs.run_due(limit=50):
                break
        await hotspot.usage.run()
        return grant_id

    grant_id = box.run(online)
    assert [row["mac-address"] for row in sims.router.active] == [MAC]

    detail = await browser.get(f"/admin/customers/{PHONE}")
    assert detail.status_code == 200
    soup = BeautifulSoup(detail.text, "html.parser")
    assert soup.select_one("tr[data-order=o-live]") is not None and "TC17H2Q9XZ" in detail.text
    assert soup.select_one(f"tr[data-mac='{MAC}']") is not None and "10.5.50.21" in detail.text
    assert soup.select("tr[data-session]") and "online" in detail.text
    assert (await browser.get("/admin/customers/0712%20345%20678")).headers[
        "location"
    ] == f"/admin/customers/{PHONE}"

    form = await browser.get(f"/admin/customers/{PHONE}/block?target=phone", headers=HX)
    assert form.status_code == 200 and 'name="reason"' in form.text and "<html" not in form.text
    wrong = await browser.submit(
        f"/admin/customers/{PHONE}/block",
        {"target": "phone", "reason": "", "duration": "date", "until": "someday"},
        headers=HX,
    )
    assert wrong.status_code == 400
    wrong_soup = BeautifulSoup(wrong.text, "html.parser")
    assert wrong_soup.select_one("#block-reason.is-invalid") is not None
    assert wrong_soup.select_one("#block-until.is-invalid")["value"] == "someday"  # kept as typed
    assert not await_blocks(box)

    no_token = await browser.submit(
        f"/admin/customers/{PHONE}/block", {"target": "phone", "reason": "fraud"}, token=False
    )
    assert no_token.status_code == 403 and not await_blocks(box)  # CSRF

    done = await browser.submit(
        f"/admin/customers/{PHONE}/block",
        {"target": "phone", "reason": "chargeback fraud", "duration": "7d"},
        headers=HX,
    )
    assert done.status_code == 200 and done.headers["HX-Redirect"] == f"/admin/customers/{PHONE}"
    assert sims.router.active == []  # dropped from the router at once
    assert box.run(lambda: hotspot.grants.get(grant_id))["state"] == "suspended"
    page = await browser.get(f"/admin/customers/{PHONE}")
    assert "is blocked: 1 package suspended, 1 device disconnected" in page.text
    assert "chargeback fraud" in page.text and "Unblock number" in page.text

    refused = await box.client.post(
        "/api/v1/portal/orders",
        json={"package_id": 1, "phone": "0712345678", "mac": MAC, "ip": "10.5.50.21"},
    )
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert "ask at the counter" in json.dumps(body) and "chargeback" not in json.dumps(body)

    listed = await browser.get("/admin/customers")
    row = BeautifulSoup(listed.text, "html.parser").select_one(f"tr[data-phone='{PHONE}']")
    assert row is not None and row.select_one(".hs-badge-blocked") is not None

    lifted = await browser.submit(f"/admin/customers/{PHONE}/unblock", {"target": "phone"})
    assert lifted.status_code == 303
    box.run(lambda: hotspot.jobs.run_due(limit=50))
    assert box.run(lambda: hotspot.grants.get(grant_id))["state"] == "active"
    assert [row["mac-address"] for row in sims.router.active] == [MAC]  # back online
    again = await browser.submit(f"/admin/customers/{PHONE}/unblock", {"target": "phone"})
    assert again.status_code == 409 and "not blocked" in again.text

    # A device of the customer, blocked and unblocked from its row.
    device = await browser.submit(
        f"/admin/customers/{PHONE}/block", {"target": MAC.lower(), "reason": "shared", "duration": "1h"}
    )
    assert device.status_code == 303
    page = BeautifulSoup((await browser.get(f"/admin/customers/{PHONE}")).text, "html.parser")
    mac_row = page.select_one(f"tr[data-mac='{MAC}']")
    assert mac_row is not None and "blocked" in mac_row.text
    assert (await browser.submit(f"/admin/customers/{PHONE}/unblock", {"target": MAC})).status_code == 303

    entries = box.run(lambda: hotspot.accounts.audit.search(AuditFilter(action="customer."))).entries
    assert sorted(e["action"] for e in entries) == [
        "customer.block",
        "customer.block",
        "customer.unblock",
        "customer.unblock",
    ]
    assert all(e["actor"] == "ops" for e in entries)
    assert {(e["target_type"], e["target_id"]) for e in entries} == {("phone", PHONE), ("device", MAC)}


def await_blocks(box: Box) -> int:
    from hotspot.customers.tables import Block

    count: int = box.run(lambda: Block.count().run())
    return count


async def test_binding_and_unbinding_devices(box_factory: Any) -> None:
    box = await box_factory()
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    box.run(lambda: order("o1", PHONE).save().run())
    full = await browser.get(f"/admin/customers/{PHONE}/block?target={MAC}")  # without JavaScript
    assert full.status_code == 200 and "<html" in full.text and 'name="reason"' in full.text
    await browser.get(f"/admin/customers/{PHONE}")

    bad = await browser.submit(f"/admin/customers/{PHONE}/bind", {"mac": "not a mac"})
    assert bad.status_code == 400
    field = BeautifulSoup(bad.text, "html.parser").select_one("#bind-mac.is-invalid")
    assert field is not None and field["value"] == "not a mac"

    assert (await browser.submit(f"/admin/customers/{PHONE}/bind", {"mac": MAC})).status_code == 303
    assert (await browser.submit(f"/admin/customers/{PHONE}/bind", {"mac": MAC2.lower()})).status_code == 303
    twice = await browser.submit(f"/admin/customers/{PHONE}/bind", {"mac": MAC})
    assert twice.status_code == 409 and "already bound" in twice.text
    page = await browser.get(f"/admin/customers/{PHONE}")
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one(f"tr[data-mac='{MAC2}']") is not None  # bound, never seen: listed still
    assert soup.select_one(".hs-badge-bound") is not None
    gate = box.hotspot.checkout
    assert box.run(lambda: box.hotspot.customers.blocks.refusal(PHONE, "AA:BB:CC:99:99:99")) is not None
    box.run(lambda: gate.admit(PHONE, MAC2))

    assert (await browser.submit(f"/admin/customers/{PHONE}/unbind", {"mac": MAC})).status_code == 303
    assert (await browser.submit(f"/admin/customers/{PHONE}/unbind", {"mac": MAC2})).status_code == 303
    gone = await browser.submit(f"/admin/customers/{PHONE}/unbind", {"mac": MAC2})
    assert gone.status_code == 404
    assert box.run(lambda: box.hotspot.customers.blocks.refusal(PHONE, "AA:BB:CC:99:99:99")) is None
    entries = box.run(lambda: box.hotspot.accounts.audit.search(AuditFilter(action="customer."))).entries
    assert sorted(e["action"] for e in entries) == ["customer.bind"] * 2 + ["customer.unbind"] * 2


async def test_read_only_roles_see_no_actions_and_cannot_post(box_factory: Any) -> None:
    box = await box_factory()
    box.admin("watcher", "viewer")
    browser = await box.signed_in("watcher")
    box.run(lambda: order("o1", PHONE).save().run())
    page = await browser.get(f"/admin/customers/{PHONE}")
    assert page.status_code == 200 and MAC in page.text
    soup = BeautifulSoup(page.text, "html.parser")
    assert not soup.select("form[action$='/block'], form[action$='/bind'], a[href*='/block']")
    assert (await browser.get(f"/admin/customers/{PHONE}/block")).status_code == 403
    for action, data in (
        ("block", {"reason": "x"}),
        ("unblock", {}),
        ("bind", {"mac": MAC}),
        ("unbind", {"mac": MAC}),
    ):
        posted = await browser.submit(f"/admin/customers/{PHONE}/{action}", data)
        assert posted.status_code == 403, action
    assert box.run(lambda: box.hotspot.customers.blocks.bindings(PHONE)) == []


async def test_malformed_customers_are_404(box_factory: Any) -> None:
    box = await box_factory()
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    assert (await browser.get("/admin/customers/not-a-phone")).status_code == 404
    assert (await browser.get("/admin/customers/0812345678")).status_code == 404  # not a mobile number
    assert (await browser.get(f"/admin/customers/{PHONE}/block?target=zz")).status_code == 404


def test_block_form_parsing_names_the_field() -> None:
    tz = "Africa/Nairobi"
    assert parse_block({"reason": " fraud  again ", "duration": ""}, NOW, tz) == ("fraud again", None)
    assert parse_block({"reason": "x", "duration": "1d"}, NOW, tz) == ("x", NOW + 86400)
    _, until = parse_block({"reason": "x", "duration": "date", "until": "2027-02-01"}, NOW, tz)
    assert until is not None and until > NOW
    for form, field in (
        ({"reason": "", "duration": ""}, "reason"),
        ({"reason": "x" * 201, "duration": ""}, "reason"),
        ({"reason": "x", "duration": "forever"}, "duration"),
        ({"reason": "x", "duration": "date", "until": "2020-01-01"}, "until"),
        ({"reason": "x", "duration": "date", "until": ""}, "until"),
        ({"reason": "x", "duration": "date", "until": "9999-12-31"}, "until"),  # overflowed: a 500
        ({"reason": "x", "duration": "date", "until": "2²27-01-01"}, "until"),
        ({"reason": "x", "duration": "date", "until": "2040-01-01"}, "until"),  # over ten years ahead
    ):
        with pytest.raises(ValueError) as caught:
            parse_block(form, NOW, tz)
        assert field in caught.value.errors  # type: ignore[attr-defined]


async def token_for(box: Box, username: str, role: str) -> dict[str, str]:
    """A bearer token of an admin with `role`, holding every scope that role may grant."""
    admin = box.admin(username, role)
    principal = Principal(admin["id"], username, role, permissions_for(role), "session")
    scopes = sorted(permissions_for(role) - {"account.manage"})
    token = box.run(lambda: box.accounts.create_token(principal, name="test", scopes=scopes, days=1))
    return {"Authorization": f"Bearer {token.token}"}


async def test_the_json_api_blocks_and_binds_with_the_same_guards(box_factory: Any) -> None:
    box = await box_factory()
    api = box.client
    viewer = await token_for(box, "watcher", "viewer")
    operator = await token_for(box, "ops", "operator")
    assert (await api.get("/api/v1/customers/blocks")).status_code == 401
    assert (await api.get("/api/v1/customers/blocks", headers=viewer)).json() == []
    body = {"kind": "phone", "value": "0712 345 678", "reason": "fraud"}
    assert (await api.post("/api/v1/customers/blocks", json=body, headers=viewer)).status_code == 403

    made = await api.post("/api/v1/customers/blocks", json=body, headers=operator)
    assert made.status_code == 201, made.text
    assert made.json()["block"]["value"] == PHONE and made.json()["grants_suspended"] == 0
    twice = await api.post("/api/v1/customers/blocks", json=body, headers=operator)
    assert twice.status_code == 409
    bad = await api.post("/api/v1/customers/blocks", json={**body, "value": "123"}, headers=operator)
    assert bad.status_code == 400 and bad.json()["error"]["fields"][0]["field"] == "phone"
    listed = (await api.get("/api/v1/customers/blocks", headers=viewer)).json()
    assert [b["value"] for b in listed] == [PHONE]
    lifted = await api.delete(f"/api/v1/customers/blocks/phone/{PHONE}", headers=operator)
    assert lifted.status_code == 200 and lifted.json()["block"]["lifted_by"] == "ops"
    assert (await api.delete(f"/api/v1/customers/blocks/phone/{PHONE}", headers=operator)).status_code == 409

    bound = await api.post(f"/api/v1/customers/{PHONE}/bindings", json={"mac": MAC.lower()}, headers=operator)
    assert bound.status_code == 201 and bound.json()["mac"] == MAC
    nope = await api.post(f"/api/v1/customers/{PHONE}/bindings", json={"mac": "x"}, headers=operator)
    assert nope.status_code == 400 and nope.json()["error"]["fields"][0]["field"] == "mac"
    seen = (await api.get(f"/api/v1/customers/{PHONE}/bindings", headers=viewer)).json()
    assert [b["mac"] for b in seen] == [MAC]
    left = await api.delete(f"/api/v1/customers/{PHONE}/bindings/{MAC}", headers=operator)
    assert left.status_code == 200 and left.json() == []
    entries = box.run(lambda: box.accounts.audit.search(AuditFilter(action="customer."))).entries
    assert sorted(e["action"] for e in entries) == [
        "customer.bind",
        "customer.block",
        "customer.unbind",
        "customer.unblock",
    ]


async def test_the_json_api_bounds_when_a_block_ends(box_factory: Any) -> None:
    """Like the page: a finite time at most ten years ahead, else a 400 naming expires_at."""
    box = await box_factory()
    operator = await token_for(box, "ops", "operator")
    body = {"kind": "phone", "value": "0712 345 678", "reason": "fraud"}
    now = time.time()
    for raw in (f"{now + 3661 * 86400}", "1e400", "1e308", "-1"):
        content = json.dumps(body)[:-1] + f', "expires_at": {raw}}}'
        refused = await box.client.post(
            "/api/v1/customers/blocks",
            content=content,
            headers={**operator, "Content-Type": "application/json"},
        )
        assert refused.status_code == 400, (raw, refused.text)
        assert raw == "1e400" or "expires_at" in refused.text, raw  # 1e400: the JSON reader refuses it
    assert box.run(lambda: box.hotspot.customers.blocks.all_in_force(10)) == []
    made = await box.client.post(
        "/api/v1/customers/blocks", json={**body, "expires_at": now + 30 * 86400}, headers=operator
    )
    assert made.status_code == 201 and made.json()["block"]["expires_at"] == pytest.approx(now + 30 * 86400)
