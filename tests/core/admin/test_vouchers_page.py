"""The vouchers pages through the app: "New batch" (inline errors that keep what was typed, the
codes and PINs shown once with their downloads), the batch list (keyset pages, find by code),
a batch's vouchers by state, print (a real PDF) and CSV, revoking one voucher and a batch
(audited), the redeem log, and who may do what; on both backends."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from admin_support import Box
from bs4 import BeautifulSoup

from hotspot.accounts.audit import AuditFilter
from hotspot.admin.vouchers_page import BatchForm, FormErrors, mask, parse_batch_form
from hotspot.vouchers import BatchSpec, GeneratedBatch, RedeemRequest, VoucherError
from hotspot.vouchers.tables import Voucher

HX = {"HX-Request": "true"}
PACKAGES = [
    {"name": "1 hour", "price": "20 KES", "duration": "1h", "down": "5M", "up": "2M"},
    {"name": "1 day", "price": "50 KES", "duration": "1d", "data": "2GB", "devices": 2},
]
EXTRA: dict[str, Any] = {"packages": PACKAGES, "server": {"public_url": "http://10.5.50.2:8000"}}


@pytest.fixture
async def vbox(box_factory: Any) -> Box:
    box: Box = await box_factory(EXTRA)
    return box


def make_batch(box: Box, package: str = "1 hour", count: int = 3, **kw: Any) -> GeneratedBatch:
    made: GeneratedBatch = box.run(
        lambda: box.hotspot.vouchers.generate(BatchSpec(package=package, count=count, **kw))
    )
    return made


def audit(box: Box, action: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = box.run(
        lambda: box.hotspot.accounts.audit.search(AuditFilter(action=action))
    ).entries
    return entries


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def form_value(page: BeautifulSoup, name: str) -> str:
    found = page.select_one(f"[name={name}]")
    assert found is not None, name
    if found.name == "select":
        chosen = found.select_one("option[selected]")
        return str(chosen["value"]) if chosen is not None else ""
    return str(found.get("value") or "")


# --- the form's parsing, alone -------------------------------------------------------------------


def test_the_form_names_every_field_at_fault() -> None:
    typed = {
        "package": "",
        "count": "many",
        "length": "4",
        "prefix": "CAFEBAR",
        "devices": "0",
        "expires": "2026-13-40",
    }
    with pytest.raises(FormErrors) as caught:
        parse_batch_form(
            BatchForm.of(typed), timezone="Africa/Nairobi", today=date(2026, 11, 30), created_by="o"
        )
    assert set(caught.value.errors) == {"package", "count", "length", "prefix", "devices", "expires"}

    past = {"package": "1 hour", "count": "3", "expires": "2026-11-29"}
    with pytest.raises(FormErrors) as caught:
        parse_batch_form(BatchForm.of(past), timezone="UTC", today=date(2026, 11, 30), created_by="o")
    assert caught.value.errors == {"expires": "That day is already past."}

    good = {"package": "1 hour", "count": "3", "prefix": "cafe", "pin": "1", "expires": "2026-12-31"}
    spec = parse_batch_form(BatchForm.of(good), timezone="UTC", today=date(2026, 11, 30), created_by="olive")
    assert (spec.count, spec.prefix, spec.pin, spec.length, spec.created_by) == (3, "CAFE", True, 10, "olive")
    assert spec.expires_at is not None and spec.devices is None and spec.devices_total is None


def test_far_off_days_and_unicode_digits_are_refused_inline_not_a_500() -> None:
    """9999-12-31 plus a day overflows; "²".isdigit() is true but int("²") raises."""
    typed = {"package": "1 hour", "count": "²", "length": "1²", "devices": "³", "devices_total": "٣"}
    with pytest.raises(FormErrors) as caught:
        parse_batch_form(
            BatchForm.of({**typed, "expires": "9999-12-31"}),
            timezone="UTC",
            today=date(2026, 11, 30),
            created_by="o",
        )
    assert set(caught.value.errors) == {"count", "length", "devices", "devices_total", "expires"}
    assert "2000 to 2100" in caught.value.errors["expires"]
    last = {"package": "1 hour", "count": "1", "expires": "2100-12-31"}
    spec = parse_batch_form(
        BatchForm.of(last), timezone="Pacific/Kiritimati", today=date(2026, 11, 30), created_by="o"
    )
    assert spec.expires_at is not None


def test_a_reader_sees_codes_masked() -> None:
    assert mask("CAFE-X7K9M-Q2R4T", "CAFE") == "CAFE-•••••-•••4T"
    assert mask("X7K9M-Q2R4T") == "•••••-•••4T"


# --- through the app ---------------------------------------------------------------------------


async def test_new_batch_keeps_what_was_typed_then_shows_codes_pins_and_downloads(vbox: Box) -> None:
    box = vbox
    box.admin("olive", "operator")
    browser = await box.signed_in("olive")
    listing = await browser.get("/admin/vouchers")
    assert listing.status_code == 200 and 'href="/admin/vouchers"' in listing.text  # in the menu
    assert "No voucher batch yet" in listing.text
    modal = await browser.get("/admin/vouchers/new", headers=HX)
    assert modal.status_code == 200 and "<html" not in modal.text and "1 day (KES 50)" in modal.text

    typed = {"package": "1 day", "count": "0", "prefix": "cafe", "note": "For the <b>Saturday</b> match"}
    bad = await browser.submit("/admin/vouchers/batches", typed, headers=HX)
    assert bad.status_code == 400 and "<html" not in bad.text
    page = soup(bad.text)
    assert page.select_one("#batch-count.is-invalid") is not None and "from 1 to 5,000" in bad.text
    assert form_value(page, "package") == "1 day" and form_value(page, "prefix") == "cafe"
    assert form_value(page, "note") == "For the <b>Saturday</b> match"  # kept, and escaped
    assert "<b>Saturday" not in bad.text

    # what only the service knows: a voucher locked to one device cannot serve two at once
    refused = await browser.submit(
        "/admin/vouchers/batches", {**typed, "count": "2", "devices": "2", "bind_mac": "1"}, headers=HX
    )
    assert refused.status_code == 400
    page = soup(refused.text)
    assert page.select_one("#batch-bind-mac.is-invalid") is not None
    assert page.select_one("#batch-bind-mac[checked]") is not None and form_value(page, "devices") == "2"
    # without htmx, the same form comes back as a page of its own
    plain = await browser.submit("/admin/vouchers/batches", {**typed, "count": "x"})
    assert plain.status_code == 400 and "<html" in plain.text and "is-invalid" in plain.text
    assert audit(box, "voucher_batch.create") == []

    expires = (date.today() + timedelta(days=30)).isoformat()
    made = await browser.submit(
        "/admin/vouchers/batches",
        {"package": "1 hour", "count": "3", "prefix": "cafe", "pin": "1", "expires": expires},
        headers=HX,
    )
    assert made.status_code == 200
    target = made.headers["HX-Redirect"]
    assert target.startswith("/admin/vouchers/batches/")
    batch_id = int(urlsplit(target).path.rsplit("/", 1)[1])
    token = parse_qs(urlsplit(target).query)["issued"][0]
    entries = audit(box, "voucher_batch.create")
    assert len(entries) == 1 and entries[0]["actor"] == "olive" and entries[0]["target_id"] == str(batch_id)

    shown = await browser.get(target)
    assert shown.status_code == 200 and "3 vouchers for 1 hour made" in shown.text
    rows = [
        [td.get_text(strip=True) for td in tr.select("td")]
        for tr in soup(shown.text).select("tr.hs-issued-code")
    ]
    assert len(rows) == 3 and all(code.startswith("CAFE-") and len(pin) == 6 for code, pin in rows)
    stored = box.run(lambda: box.hotspot.vouchers.batch_vouchers(batch_id))
    assert sorted(v.display for v in stored) == sorted(code for code, _ in rows)

    exported = await browser.get(f"/admin/vouchers/batches/{batch_id}/print/csv?issued={token}")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted((r["printed_code"], r["pin"]) for r in lines) == sorted((c, p) for c, p in rows)
    sheet = await browser.get(f"/admin/vouchers/batches/{batch_id}/print/a4?issued={token}")
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
    assert sheet.content.startswith(b"%PDF")

    box.admin("oscar", "operator")
    other = await box.signed_in("oscar")
    assert "hs-issued-code" not in (await other.get(target)).text  # not theirs
    other_csv = await other.get(f"/admin/vouchers/batches/{batch_id}/print/csv?issued={token}")
    assert all(r["pin"] == "" for r in csv.DictReader(io.StringIO(other_csv.text)))
    # once printed the operator drops them; then (as after 15 minutes, or for anyone else) the
    # page and the CSV show codes only
    forgot = await browser.submit(f"/admin/vouchers/batches/{batch_id}/forget", {"issued": token})
    assert forgot.status_code == 303
    again = await browser.get(target)
    assert "hs-issued-code" not in again.text and f">{rows[0][1]}<" not in again.text
    later = await browser.get(f"/admin/vouchers/batches/{batch_id}/print/csv")
    assert all(r["pin"] == "" for r in csv.DictReader(io.StringIO(later.text)))


async def test_batches_list_pages_and_finds_a_voucher_by_code(vbox: Box) -> None:
    box = vbox
    first = make_batch(box, count=1)
    make_batch(box, "1 day", count=2, prefix="BAR")
    last = make_batch(box, count=1, prefix="CAFE")
    box.admin("olive", "operator")
    browser = await box.signed_in("olive")

    import hotspot.admin.vouchers_page as vouchers_page

    vouchers_page.PAGE_SIZE = 2
    try:
        full = soup((await browser.get("/admin/vouchers")).text)
        ids = [int(str(tr["data-batch"])) for tr in full.select("tr.hs-voucher-batch")]
        assert ids == [last.batch.id, last.batch.id - 1]  # newest first
        counts = full.select_one(f"tr[data-batch='{last.batch.id - 1}'] [data-state=unused]")
        assert counts is not None and counts.get_text(" ", strip=True) == "unused 2"
        more = full.select_one("tr.hs-more a")
        assert more is not None
        rest = await browser.get(str(more["hx-get"]), headers=HX)
        assert "<table" not in rest.text
        assert [int(str(tr["data-batch"])) for tr in soup(rest.text).select("tr.hs-voucher-batch")] == [
            first.batch.id
        ]
        assert soup(rest.text).select_one("tr.hs-more") is None
    finally:
        vouchers_page.PAGE_SIZE = 50

    code = last.batch.display(last.vouchers[0].code)  # CAFE-XXXXX-XXXXX
    found = await browser.get("/admin/vouchers?code=" + code.lower().replace("-", " "), headers=HX)
    card = soup(found.text).select_one("[data-found]")
    voucher_id = box.run(lambda: box.hotspot.vouchers.get(code)).id
    assert card is not None and card.select_one(f"a[href='/admin/vouchers/{voucher_id}']") is not None
    assert code in found.text
    missing = await browser.get("/admin/vouchers?code=CAFE-AAAAA-AAAAA", headers=HX)
    assert missing.status_code == 200 and "No voucher" in missing.text
    bad = await browser.get("/admin/vouchers?code=O0O0!", headers=HX)
    assert bad.status_code == 400 and "digits 2-9" in bad.text
    assert (await browser.get("/admin/vouchers?before=x", headers=HX)).status_code == 400


async def test_batch_detail_filters_by_state_and_the_redeem_log(vbox: Box) -> None:
    box = vbox
    made = make_batch(box, count=4, pin=True)
    batch_id = made.batch.id
    ids = [v.id for v in box.run(lambda: box.hotspot.vouchers.batch_vouchers(batch_id))]

    async def go() -> None:
        await Voucher.update({Voucher.state: "expired"}).where(Voucher.id == ids[1]).run()
        vouchers = box.hotspot.vouchers
        for code, pin in (("NXSUCHCXDE22", None), (made.vouchers[0].code, "000000")):
            with pytest.raises(VoucherError):
                await vouchers.redeem(
                    RedeemRequest(code=code, pin=pin, mac="AA:BB:CC:00:00:01", ip="10.5.50.11", router="cafe")
                )

    box.run(go)
    box.admin("olive", "operator")
    browser = await box.signed_in("olive")
    detail = await browser.get(f"/admin/vouchers/batches/{batch_id}")
    assert detail.status_code == 200
    page = soup(detail.text)
    assert [int(str(tr["data-voucher"])) for tr in page.select("tr.hs-voucher")] == ids
    assert page.select_one("[data-count=expired]").get_text(strip=True) == "1"  # type: ignore[union-attr]
    assert made.batch.display(made.vouchers[0].code) in detail.text  # codes in full for vouchers.write

    expired = await browser.get(f"/admin/vouchers/batches/{batch_id}?state=expired", headers=HX)
    assert [tr["data-state"] for tr in soup(expired.text).select("tr.hs-voucher")] == ["expired"]
    assert "<html" not in expired.text
    bad = await browser.get(f"/admin/vouchers/batches/{batch_id}?state=lost", headers=HX)
    assert bad.status_code == 400 and "Choose one of" in bad.text

    import hotspot.admin.vouchers_page as vouchers_page

    vouchers_page.PAGE_SIZE = 2
    try:
        first = soup((await browser.get(f"/admin/vouchers/batches/{batch_id}?state=unused", headers=HX)).text)
        assert [int(str(tr["data-voucher"])) for tr in first.select("tr.hs-voucher")] == [ids[0], ids[2]]
        more = first.select_one("tr.hs-more a")
        assert more is not None and "state=unused" in str(more["hx-get"])
        rest = soup((await browser.get(str(more["hx-get"]), headers=HX)).text)
        assert [int(str(tr["data-voucher"])) for tr in rest.select("tr.hs-voucher")] == [ids[3]]
    finally:
        vouchers_page.PAGE_SIZE = 50
    assert (await browser.get("/admin/vouchers/batches/999")).status_code == 404

    log = soup((await browser.get("/admin/vouchers/log")).text)
    outcomes = [
        (tr["data-outcome"], tr.select("td")[2].get_text(strip=True)) for tr in log.select("tr.hs-attempt")
    ]
    assert outcomes == [("refused", "Wrong PIN"), ("refused", "Unknown code")]  # newest first
    linked = log.select_one(f"tr.hs-attempt a[href='/admin/vouchers/{ids[0]}']")
    assert linked is not None and linked.get_text(strip=True) == made.batch.display(made.vouchers[0].code)
    wrong_pin = await browser.get("/admin/vouchers/log?reason=wrong_pin", headers=HX)
    assert len(soup(wrong_pin.text).select("tr.hs-attempt")) == 1 and "<html" not in wrong_pin.text
    by_code = await browser.get("/admin/vouchers/log?q=nxsuch", headers=HX)
    assert len(soup(by_code.text).select("tr.hs-attempt")) == 1
    assert (
        len(
            soup((await browser.get("/admin/vouchers/log?q=AA-BB-CC-00-00-01", headers=HX)).text).select(
                "tr.hs-attempt"
            )
        )
        == 2
    )
    assert (await browser.get("/admin/vouchers/log?outcome=maybe", headers=HX)).status_code == 400

    box.run(
        lambda: box.hotspot.vouchers.redeem(
            RedeemRequest(
                code=made.vouchers[2].code,
                pin=made.vouchers[2].pin,
                mac="AA:BB:CC:00:00:02",
                ip="10.5.50.12",
                router="cafe",
            )
        )
    )
    used = await browser.get(f"/admin/vouchers/{ids[2]}")
    assert used.status_code == 200 and "AA:BB:CC:00:00:02" in used.text and "accepted" in used.text
    story = await browser.get(f"/admin/vouchers/{ids[0]}")
    assert story.status_code == 200 and "Wrong PIN" in story.text and "Redeem attempts (1)" in story.text
    assert (await browser.get("/admin/vouchers/99999")).status_code == 404


async def test_revoke_one_voucher_then_the_batch_is_audited(vbox: Box) -> None:
    box = vbox
    made = make_batch(box, count=3)
    batch_id = made.batch.id
    ids = [v.id for v in box.run(lambda: box.hotspot.vouchers.batch_vouchers(batch_id))]
    box.admin("olive", "operator")
    browser = await box.signed_in("olive")
    back = f"/admin/vouchers/batches/{batch_id}"

    confirm = await browser.get(f"/admin/vouchers/{ids[0]}/revoke?back={back}", headers=HX)
    assert confirm.status_code == 200 and "<html" not in confirm.text and "cannot be undone" in confirm.text
    await browser.get(back)  # the page the modal opens on (its CSRF token)
    done = await browser.submit(f"/admin/vouchers/{ids[0]}/revoke", {"back": back}, headers=HX)
    assert done.status_code == 200 and done.headers["HX-Redirect"] == back
    assert box.run(lambda: box.hotspot.vouchers.get(made.vouchers[0].code)).state == "revoked"
    [entry] = audit(box, "voucher.revoke")
    assert entry["actor"] == "olive" and entry["target_id"] == str(ids[0])
    assert "is revoked" in (await browser.get(back)).text
    again = await browser.submit(f"/admin/vouchers/{ids[0]}/revoke", {"back": back})
    assert again.status_code == 303 and len(audit(box, "voucher.revoke")) == 1  # nothing to do twice

    box.run(lambda: Voucher.update({Voucher.state: "expired"}).where(Voucher.id == ids[1]).run())
    sheet = await browser.get(f"/admin/vouchers/batches/{batch_id}/revoke", headers=HX)
    assert sheet.status_code == 200 and 'value="unused"' in sheet.text
    unchosen = await browser.submit(
        f"/admin/vouchers/batches/{batch_id}/revoke", {"which": "some"}, headers=HX
    )
    assert unchosen.status_code == 400 and "Choose which" in unchosen.text
    unused = await browser.submit(f"/admin/vouchers/batches/{batch_id}/revoke", {"which": "unused"})
    assert unused.status_code == 303 and unused.headers["location"] == back
    states = {v.id: v.state for v in box.run(lambda: box.hotspot.vouchers.batch_vouchers(batch_id))}
    assert states == {ids[0]: "revoked", ids[1]: "expired", ids[2]: "revoked"}
    everything = await browser.submit(f"/admin/vouchers/batches/{batch_id}/revoke", {"which": "all"})
    assert everything.status_code == 303
    states = {v.id: v.state for v in box.run(lambda: box.hotspot.vouchers.batch_vouchers(batch_id))}
    assert set(states.values()) == {"revoked"}
    entries = audit(box, "voucher_batch.revoke")
    assert sorted((e["after"] or {}).get("revoked") for e in entries) == [1, 1]
    assert any((e["after"] or {}).get("unused_only") for e in entries)
    assert (
        "nothing left to revoke"
        in (
            await browser.get(
                (
                    await browser.submit(f"/admin/vouchers/batches/{batch_id}/revoke", {"which": "all"})
                ).headers["location"]
            )
        ).text
    )


@pytest.mark.parametrize("role", ["viewer", "accountant"])
async def test_readers_see_masked_codes_and_cannot_change_or_print(vbox: Box, role: str) -> None:
    box = vbox
    made = make_batch(box, count=2, prefix="CAFE")
    batch_id = made.batch.id
    code = made.batch.display(made.vouchers[0].code)
    voucher_id = box.run(lambda: box.hotspot.vouchers.get(code)).id
    box.admin("reader", role)
    browser = await box.signed_in("reader")
    listing = await browser.get("/admin/vouchers")
    assert listing.status_code == 200 and "New batch" not in listing.text
    detail = await browser.get(f"/admin/vouchers/batches/{batch_id}")
    assert detail.status_code == 200 and code not in detail.text and mask(code, "CAFE") in detail.text
    assert "/print/" not in detail.text and "/revoke" not in detail.text
    story = await browser.get(f"/admin/vouchers/{voucher_id}")
    assert story.status_code == 200 and code not in story.text
    found = await browser.get(f"/admin/vouchers?code={code}")  # who knows a code may look it up
    card = soup(found.text).select_one("[data-found]")
    assert found.status_code == 200 and card is not None and f"/admin/vouchers/{voucher_id}" in str(card)
    assert code not in str(card) and mask(code) in str(card)
    assert (await browser.get("/admin/vouchers/log")).status_code == 200

    for path in (
        "/admin/vouchers/new",
        f"/admin/vouchers/batches/{batch_id}/print/a4",
        f"/admin/vouchers/batches/{batch_id}/print/csv",
        "/admin/vouchers/poster",
        f"/admin/vouchers/{voucher_id}/revoke",
    ):
        assert (await browser.get(path)).status_code == 403, path
    for path, data in (
        ("/admin/vouchers/batches", {"package": "1 hour", "count": "2"}),
        (f"/admin/vouchers/batches/{batch_id}/revoke", {"which": "all"}),
        (f"/admin/vouchers/{voucher_id}/revoke", {}),
    ):
        assert (await browser.submit(path, data)).status_code == 403, path
    assert box.run(lambda: box.hotspot.vouchers.get(code)).state == "unused"
    assert len(box.run(lambda: box.hotspot.vouchers.batches())) == 1


async def test_signed_out_goes_to_sign_in_and_printing_needs_the_portal_address(box_factory: Any) -> None:
    box: Box = await box_factory({"packages": PACKAGES})
    made = make_batch(box, count=1)
    stranger = box.browser()
    for path in ("/admin/vouchers", f"/admin/vouchers/batches/{made.batch.id}", "/admin/vouchers/log"):
        answer = await stranger.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/admin/login?next=/admin/vouchers"
        )
    posted = await stranger.submit("/admin/vouchers/batches", {"package": "1 hour", "count": "1"})
    assert posted.status_code in (303, 401, 403)
    assert len(box.run(lambda: box.hotspot.vouchers.batches())) == 1

    box.admin("olive", "operator")
    browser = await box.signed_in("olive")
    page = await browser.get(f"/admin/vouchers/batches/{made.batch.id}")
    assert "server.public_url" in page.text
    answer = await browser.get(f"/admin/vouchers/batches/{made.batch.id}/print/a4")
    assert (
        answer.status_code == 303 and answer.headers["location"] == f"/admin/vouchers/batches/{made.batch.id}"
    )
    assert "portal&#39;s address" in (await browser.get(answer.headers["location"])).text
    assert (await browser.get(f"/admin/vouchers/batches/{made.batch.id}/print/a5")).status_code == 404


async def test_a_reader_searches_the_log_by_whole_code_only(vbox: Box) -> None:
    """A reader sees codes masked: a search by a code's start would give the hidden symbols
    away one by one, so for them a code matches only whole. A bad cursor is a 400, a far-off
    expiry an inline error."""
    box = vbox
    made = make_batch(box, count=1, pin=True)
    code = made.vouchers[0].code
    box.run(lambda: _wrong_pin(box, code))
    box.admin("reader", "viewer")
    reader = await box.signed_in("reader")
    for start in (code[:1], code[:4], code[:-1]):
        partial = await reader.get(f"/admin/vouchers/log?q={start}", headers=HX)
        assert partial.status_code == 200 and not soup(partial.text).select("tr.hs-attempt"), start
    whole = await reader.get(f"/admin/vouchers/log?q={code.lower()}", headers=HX)
    [row] = soup(whole.text).select("tr.hs-attempt")
    shown = made.batch.display(code)
    assert shown not in whole.text and mask(shown) in row.get_text()
    by_mac = await reader.get("/admin/vouchers/log?q=AA:BB:CC:00:00:09", headers=HX)
    assert len(soup(by_mac.text).select("tr.hs-attempt")) == 1

    box.admin("olive", "operator")
    writer = await box.signed_in("olive")
    started = await writer.get(f"/admin/vouchers/log?q={code[:4]}", headers=HX)
    assert len(soup(started.text).select("tr.hs-attempt")) == 1  # vouchers.write: by the start too
    for cursor in ("²", "1²", "-1", "9" * 19):
        bad = await writer.get(f"/admin/vouchers/log?after={cursor}", headers=HX)
        assert bad.status_code == 400, cursor
    assert (await writer.get("/admin/vouchers?before=²", headers=HX)).status_code == 400
    far = await writer.submit(
        "/admin/vouchers/batches", {"package": "1 hour", "count": "1", "expires": "9999-12-31"}, headers=HX
    )
    assert far.status_code == 400 and soup(far.text).select_one("#batch-expires.is-invalid") is not None
    assert form_value(soup(far.text), "expires") == "9999-12-31"


async def _wrong_pin(box: Box, code: str) -> None:
    with pytest.raises(VoucherError):
        await box.hotspot.vouchers.redeem(
            RedeemRequest(code=code, pin="000000", mac="AA:BB:CC:00:00:09", ip="10.5.50.19", router="cafe")
        )
