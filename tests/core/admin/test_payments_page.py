"""The payments pages through the app: filters, flagged rows highlighted, keyset "Load more",
one payment's trail with its raw callbacks, and "Re-verify now" (audited, refused to a viewer);
on both backends."""

from __future__ import annotations

import pytest
from admin_support import Box
from bs4 import BeautifulSoup

from hotspot.accounts.audit import AuditFilter
from hotspot.payments.tables import Order, Payment, PaymentCallback

HX = {"HX-Request": "true"}
NOW = 1_800_000_000.0


def seed(box: Box) -> None:
    """One order with a failed attempt then a pending one, a paid order, and a forged callback."""

    async def go() -> None:
        for oid, phone, state in (("o1", "254712345678", "open"), ("o2", "254799000111", "paid")):
            await (
                Order(
                    id=oid,
                    package_id=1,
                    package_name="1 hour",
                    terms={},
                    amount=2000,
                    currency="KES",
                    phone=phone,
                    mac="AA:BB:CC:00:00:01",
                    created_at=NOW,
                    state=state,
                )
                .save()
                .run()
            )
        rows = (
            ("p1", "o1", "failed", NOW, "ref-1", None),
            ("p2", "o1", "pending", NOW + 10, "ref-2", None),
            ("p3", "o2", "succeeded", NOW + 20, "ref-3", "TC17H2Q9XZ"),
        )
        for pid, oid, state, at, ref, receipt in rows:
            await (
                Payment(
                    id=pid,
                    order_id=oid,
                    gateway="mpesa",
                    amount=2000,
                    currency="KES",
                    phone="254712345678" if oid == "o1" else "254799000111",
                    state=state,
                    reason="declined" if state == "failed" else "",
                    reference=ref,
                    receipt=receipt,
                    created_at=at,
                    updated_at=at,
                )
                .save()
                .run()
            )
        await (
            PaymentCallback(
                gateway="mpesa",
                reference="ref-2",
                payment_id="p2",
                body='{"forged": "<b>1</b>"}',
                source_ip="203.0.113.9",
                received_at=NOW + 11,
                verdict="mismatch",
            )
            .save()
            .run()
        )

    box.run(go)


def rows_of(html: str) -> dict[str, list[str]]:
    soup = BeautifulSoup(html, "html.parser")
    return {str(tr["data-payment"]): list(tr.get("class") or []) for tr in soup.select("tr.hs-payment")}


async def test_list_filters_flags_and_pages(box: Box) -> None:
    seed(box)
    box.admin("money", "accountant")
    browser = await box.signed_in("money")
    full = await browser.get("/admin/payments")
    assert full.status_code == 200
    rows = rows_of(full.text)
    assert list(rows) == ["p3", "p2", "p1"]  # newest first
    assert "hs-flagged" in rows["p1"] and "hs-flagged" in rows["p2"] and "hs-flagged" not in rows["p3"]
    assert "KES 20" in full.text and 'href="/admin/payments"' in full.text

    flagged = await browser.get("/admin/payments?flagged=1", headers=HX)
    assert "<html" not in flagged.text and list(rows_of(flagged.text)) == ["p2", "p1"]
    by_phone = await browser.get("/admin/payments?phone=0799+000+111", headers=HX)
    assert list(rows_of(by_phone.text)) == ["p3"]
    assert list(rows_of((await browser.get("/admin/payments?state=failed", headers=HX)).text)) == ["p1"]
    bad = await browser.get("/admin/payments?state=lost", headers=HX)
    assert bad.status_code == 400 and "State" in bad.text

    import hotspot.admin.payments_page as payments_page

    payments_page.PAGE_SIZE = 2
    try:
        first = BeautifulSoup((await browser.get("/admin/payments", headers=HX)).text, "html.parser")
        more = first.select_one("tr.hs-more a")
        assert more is not None
        rest = await browser.get(str(more["hx-get"]), headers=HX)
        assert "<table" not in rest.text and list(rows_of(rest.text)) == ["p1"]
    finally:
        payments_page.PAGE_SIZE = 50


async def test_detail_shows_the_trail_and_reverify_is_audited(box: Box) -> None:
    seed(box)
    box.admin("owner", "owner")
    browser = await box.signed_in("owner")
    detail = await browser.get("/admin/payments/p2")
    assert detail.status_code == 200
    soup = BeautifulSoup(detail.text, "html.parser")
    raw = soup.select_one("pre.hs-raw")
    assert raw is not None and raw.get_text() == '{"forged": "<b>1</b>"}'  # exactly as received, escaped
    assert "&lt;b&gt;" in detail.text and "mismatch" in detail.text and "1 suspicious" in detail.text
    assert 'href="/admin/payments/p1"' in detail.text  # the other attempt for the order
    assert soup.select_one("form[action='/admin/payments/p2/reverify']") is not None

    # the M-Pesa gateway is not switched on in this box: the admin is told, nothing breaks
    answer = await browser.submit("/admin/payments/p2/reverify")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/payments/p2"
    shown = await browser.get("/admin/payments/p2")
    assert "could not be asked" in shown.text and "not enabled" in shown.text
    # a settled payment answers its state without asking
    settled = await browser.submit("/admin/payments/p3/reverify", headers=HX)
    assert settled.headers["HX-Redirect"] == "/admin/payments/p3"
    assert "still succeeded" in (await browser.get("/admin/payments/p3")).text

    entries = box.run(
        lambda: box.hotspot.accounts.audit.search(AuditFilter(action="payment.reverify"))
    ).entries
    assert sorted(e["target_id"] for e in entries) == ["p2", "p3"]
    assert all(e["actor"] == "owner" for e in entries)
    assert (await browser.get("/admin/payments/nope")).status_code == 404


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_who_may_see_and_reverify(box: Box, role: str) -> None:
    seed(box)
    box.admin("someone", role)
    browser = await box.signed_in("someone")
    detail = await browser.get("/admin/payments/p2")
    assert detail.status_code == 200
    assert "/reverify" not in detail.text  # no button without payments.write
    assert (await browser.submit("/admin/payments/p2/reverify")).status_code == 403
    entries = box.run(
        lambda: box.hotspot.accounts.audit.search(AuditFilter(action="payment.reverify"))
    ).entries
    assert entries == []
