"""Voucher sheets, the poster and CSV: the PDF's text is read back (pypdf), its pages are rendered
to images (pdfium) and every QR code on them is decoded (zxing-cpp) back to the portal URL."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

import pytest
from pypdf import PdfReader
from voucher_support import pages_text, qr_urls

from hotspot.contracts import Money
from hotspot.vouchers import Batch, IssuedVoucher
from hotspot.vouchers.codes import new_codes, new_pin
from hotspot.vouchers.printing import PrintError, batch_csv, cards_for, portal_url, poster_pdf, sheet_pdf

BASE = "http://10.5.50.2:8000"
NAIROBI = "Africa/Nairobi"


def make_batch(**kw: object) -> Batch:
    values: dict[str, object] = {
        "id": 7,
        "package_id": 2,
        "package": "1 day",
        "seconds": 86_400,
        "bytes_total": 2_000_000_000,
        "down_bps": 5_000_000,
        "up_bps": None,
        "price": Money(5000, "KES"),
        "count": 30,
        "prefix": "CAFE",
        "code_length": 10,
        "expires_at": 1_893_445_200.0,  # 2030-01-01 00:00 in Nairobi: valid until 31 Dec 2029
        "devices_at_once": 2,
        "devices_total": None,
        "bind_mac": False,
        "pin": True,
        "created_by": "test",
        "created_at": 0.0,
        "note": "",
    }
    values.update(kw)
    return Batch(**values)  # type: ignore[arg-type]


def issued(count: int, prefix: str = "CAFE", pins: bool = True) -> list[IssuedVoucher]:
    return [IssuedVoucher(code, new_pin() if pins else None) for code in new_codes(count, prefix=prefix)]


def test_an_a4_sheet_has_every_card_and_each_qr_opens_the_portal_with_its_code() -> None:
    batch = make_batch()
    vouchers = issued(30)
    cards = cards_for(batch, vouchers, base_url=BASE + "/", timezone=NAIROBI)
    pdf = sheet_pdf(cards, business="Mama Mboga Cafe", layout="a4")
    assert pdf.startswith(b"%PDF")
    text = pages_text(pdf)
    assert len(text) == 2  # 24 cards a page
    everything = "\n".join(text)
    assert everything.count("Mama Mboga Cafe") == 30 and everything.count("KES 50") == 30
    assert "Use it by 31 Dec 2029" in everything and "1 day" in everything and "2 GB" in everything
    for voucher in vouchers:
        printed = f"CAFE-{voucher.code[4:9]}-{voucher.code[9:]}"
        assert printed in everything and f"PIN {voucher.pin}" in everything
    first_page = sorted(qr_urls(pdf, 0))
    assert first_page == sorted(f"{BASE}/portal?voucher={v.code}" for v in vouchers[:24])
    second_page = qr_urls(pdf, 1)
    assert sorted(second_page) == sorted(f"{BASE}/portal?voucher={v.code}" for v in vouchers[24:])


@pytest.mark.parametrize("layout", ["58mm", "80mm"])
def test_thermal_layouts_print_one_card_per_roll_page(layout: str) -> None:
    batch = make_batch(pin=False, devices_at_once=1, bytes_total=None, prefix="")
    vouchers = issued(3, prefix="", pins=False)
    pdf = sheet_pdf(
        cards_for(batch, vouchers, base_url=BASE, timezone=NAIROBI), business="Kibanda", layout=layout
    )
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    width_mm = float(reader.pages[0].mediabox.width) / 72 * 25.4
    assert abs(width_mm - int(layout[:2])) < 0.5
    text = pages_text(pdf)
    for page, voucher in zip(text, vouchers, strict=True):
        assert "Kibanda" in page and "1 day" in page and "KES 50" in page and "PIN" not in page
        assert f"{voucher.code[:5]}-{voucher.code[5:]}" in page
    for index, voucher in enumerate(vouchers):
        [url] = qr_urls(pdf, index, scale=4.0)
        assert parse_qs(urlsplit(url).query) == {"voucher": [voucher.code]}


def test_money_is_printed_in_the_currencys_own_minor_units() -> None:
    cards = cards_for(make_batch(price=Money(150_000, "UGX")), issued(1), base_url=BASE, timezone=NAIROBI)
    assert cards[0].price == "UGX 150,000"
    cards = cards_for(make_batch(price=Money(40, "USD")), issued(1), base_url=BASE, timezone=NAIROBI)
    assert cards[0].price == "USD 0.40"


def test_the_poster_opens_the_portal() -> None:
    pdf = poster_pdf(business="Mama Mboga Cafe", base_url=BASE, wifi_name="MamaWiFi")
    [text] = pages_text(pdf)
    assert "Mama Mboga Cafe" in text and "MamaWiFi" in text and f"{BASE}/portal" in text
    assert qr_urls(pdf, 0, scale=2.0) == [f"{BASE}/portal"]


def test_csv_has_a_row_per_voucher_and_never_runs_a_formula() -> None:
    batch = make_batch(package="=HYPERLINK(1)")
    vouchers = issued(3)
    rows = list(
        csv.DictReader(
            io.StringIO(batch_csv(cards_for(batch, vouchers, base_url=BASE, timezone=NAIROBI), batch))
        )
    )
    assert [r["code"] for r in rows] == [v.code for v in vouchers]
    assert [r["pin"] for r in rows] == [v.pin for v in vouchers]
    first = rows[0]
    assert (
        first["package"] == "'=HYPERLINK(1)"
        and first["price"] == "KES 50"
        and first["amount_minor"] == "5000"
    )
    assert (
        first["currency"] == "KES"
        and first["valid_until"] == "31 Dec 2029"
        and first["devices_at_once"] == "2"
    )
    assert first["url"] == f"{BASE}/portal?voucher={vouchers[0].code}"
    assert first["printed_code"] == f"CAFE-{vouchers[0].code[4:9]}-{vouchers[0].code[9:]}"


def test_printing_needs_a_portal_address_and_a_known_layout() -> None:
    with pytest.raises(PrintError, match=r"server\.public_url"):
        cards_for(make_batch(), issued(1), base_url="", timezone=NAIROBI)
    with pytest.raises(PrintError, match="not a web address"):
        cards_for(make_batch(), issued(1), base_url="ftp://box", timezone=NAIROBI)
    cards = cards_for(make_batch(), issued(1), base_url=BASE, timezone=NAIROBI)
    with pytest.raises(PrintError, match="Unknown layout"):
        sheet_pdf(cards, business="x", layout="a5")
    assert portal_url(BASE + "/", "AB C") == f"{BASE}/portal?voucher=AB%20C"
