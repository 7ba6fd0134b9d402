"""Voucher sheets and the portal poster as PDF (WeasyPrint), and a batch as CSV.

Each card carries the business name, the code (and PIN), the package, its price, the expiry
date and a QR code (segno) that opens `<portal>/portal?voucher=<code>`: scanning
it on the hotspot's WiFi opens the portal with the code filled in. Layouts:

* ``a4``: a grid of 3 x 8 cards per page, to cut with scissors or a guillotine;
* ``58mm`` and ``80mm``: one card per "page" of a thermal receipt printer's roll.

The portal's address is `server.public_url` (or one given here): the address phones on the
WiFi reach the box at, which the router lets through before login (the walled garden).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hotspot.billing import format_money
from hotspot.errors import HotspotError
from hotspot.http.assets import templates_dir
from hotspot.portal.format import format_bytes, format_duration
from hotspot.vouchers.service import Batch, IssuedVoucher, VoucherView

__all__ = [
    "LAYOUTS",
    "Card",
    "Layout",
    "PrintError",
    "batch_csv",
    "cards_for",
    "portal_url",
    "poster_pdf",
    "sheet_pdf",
]

Layout = Literal["a4", "58mm", "80mm"]
LAYOUTS: tuple[Layout, ...] = ("a4", "58mm", "80mm")
A4_PER_PAGE = 24  # 3 columns x 8 rows (web/templates/vouchers/sheet.html places them)
CSV_COLUMNS = [
    "code",
    "printed_code",
    "pin",
    "package",
    "price",
    "currency",
    "amount_minor",
    "valid_until",
    "devices_at_once",
    "devices_total",
    "state",
    "url",
]


class PrintError(HotspotError):
    """A sheet cannot be made as asked (no portal address, an unknown layout)."""


@dataclass(frozen=True)
class Card:
    """One voucher as printed."""

    code: str
    display: str
    pin: str | None
    package: str
    price: str
    duration: str
    data: str | None
    devices: int
    valid_until: str | None
    url: str
    state: str | None = None

    def qr_image(self) -> str:
        """The QR code as a PNG data URI, one pixel per module (error correction M: smudges).

        The sheet scales it up with `image-rendering: pixelated` (PDF /Interpolate false), so
        every module prints as a sharp square at any resolution, like a vector would. Not SVG:
        WeasyPrint parses an SVG path number by number; a 1,000-card sheet took 53 s with
        inline SVG codes and 25 s with these images on the same machine (bench/vouchers.py)."""
        return str(segno.make(self.url, error="m").png_data_uri(scale=1, border=2))


def portal_url(base: str, code: str | None = None) -> str:
    """The portal, with the voucher code filled in when given."""
    root = base.rstrip("/") + "/portal"
    return f"{root}?voucher={quote(code, safe='')}" if code else root


def check_base(base: str | None) -> str:
    """The portal's public base URL, or PrintError saying how to set it."""
    if not base:
        raise PrintError(
            "The QR codes need the portal's address: set server.public_url in the config "
            "(e.g. http://10.5.50.2:8000, as phones on the WiFi reach the box) or pass one"
        )
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PrintError(f"{base!r} is not a web address (e.g. http://10.5.50.2:8000)")
    return base.rstrip("/")


def _valid_until(expires_at: float | None, timezone: str) -> str | None:
    """The last day a code works: expiry is the instant the next day starts, local time."""
    if expires_at is None:
        return None
    return datetime.fromtimestamp(expires_at - 1, ZoneInfo(timezone)).strftime("%d %b %Y")


def cards_for(
    batch: Batch,
    vouchers: Sequence[IssuedVoucher | VoucherView],
    *,
    base_url: str,
    timezone: str = "UTC",
) -> list[Card]:
    """Cards for vouchers of one batch: just generated (with PINs) or read back (without)."""
    base = check_base(base_url)
    price = format_money(batch.price)
    duration = format_duration(batch.seconds)
    data = format_bytes(batch.bytes_total) if batch.bytes_total else None
    until = _valid_until(batch.expires_at, timezone)
    return [
        Card(
            code=v.code,
            display=batch.display(v.code),
            pin=v.pin if isinstance(v, IssuedVoucher) else None,
            package=batch.package,
            price=price,
            duration=duration,
            data=data,
            devices=batch.devices_at_once,
            valid_until=until,
            url=portal_url(base, v.code),
            state=v.state if isinstance(v, VoucherView) else None,
        )
        for v in vouchers
    ]


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(default=True),
        auto_reload=False,
    )


def _render(template: str, context: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # a heavy import: only when a PDF is made

    html = _environment().get_template(template).render(**context)
    pdf: bytes = HTML(string=html, base_url=str(templates_dir())).write_pdf()
    return pdf


def sheet_pdf(cards: Sequence[Card], *, business: str, layout: str = "a4") -> bytes:
    """A printable sheet of voucher cards in one of `LAYOUTS`."""
    if layout not in LAYOUTS:
        raise PrintError(f"Unknown layout {layout!r}: use {', '.join(LAYOUTS)}")
    if not cards:
        raise PrintError("No vouchers to print")
    per_page = A4_PER_PAGE if layout == "a4" else 1
    pages = [
        [(card, card.qr_image()) for card in cards[start : start + per_page]]
        for start in range(0, len(cards), per_page)
    ]
    return _render(
        "vouchers/sheet.html",
        {"business": business, "layout": layout, "pages": pages, "columns": 3},
    )


def poster_pdf(*, business: str, base_url: str, wifi_name: str | None = None) -> bytes:
    """An A4 poster for the wall: scan to open the portal (buy, or type a voucher)."""
    url = portal_url(check_base(base_url))
    qr = str(segno.make(url, error="q").svg_inline(scale=1, border=2, omitsize=True))
    return _render(
        "vouchers/poster.html", {"business": business, "url": url, "qr": qr, "wifi_name": wifi_name}
    )


def batch_csv(cards: Sequence[Card], batch: Batch) -> str:
    """The batch as CSV, one voucher a row (PINs only when the cards were just generated)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for card in cards:
        writer.writerow(
            [
                card.code,
                card.display,
                card.pin or "",
                _cell(card.package),
                card.price,
                batch.price.currency,
                batch.price.amount,
                card.valid_until or "",
                batch.devices_at_once,
                batch.devices_total if batch.devices_total is not None else "",
                card.state or "",
                card.url,
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """A spreadsheet never runs what the owner typed as a package name (=, +, -, @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
