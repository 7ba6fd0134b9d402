"""Codes (alphabet, normalising, uniqueness) and batches (both backends): what is stored, the
spec's rules named by field, codes already taken drawn again, export of a batch read back."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from voucher_support import Box

from hotspot.contracts import Money
from hotspot.vouchers import ALPHABET, BatchSpec, VoucherError, display_code, normalise_code
from hotspot.vouchers import service as service_module
from hotspot.vouchers.codes import check_prefix, new_codes, new_pin
from hotspot.vouchers.tables import Voucher, VoucherBatch


def test_the_alphabet_has_no_lookalikes() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("0O1IL") & set(ALPHABET)
    assert set(ALPHABET) == set("ABCDEFGHJKMNPQRSTUVWXYZ23456789")


def test_codes_are_distinct_well_formed_and_spread_over_the_alphabet() -> None:
    codes = new_codes(5000, length=10, prefix="CAFE")
    assert len(set(codes)) == 5000
    assert all(re.fullmatch(rf"CAFE[{ALPHABET}]{{10}}", c) for c in codes)
    counts = {ch: sum(c[4:].count(ch) for c in codes) for ch in ALPHABET}
    expected = 5000 * 10 / 31
    assert all(0.8 * expected < n < 1.2 * expected for n in counts.values())  # ~1,613 each
    avoid = set(new_codes(50, length=8))
    assert not avoid & set(new_codes(200, length=8, avoid=avoid))
    with pytest.raises(ValueError, match="8-16"):
        new_codes(1, length=6)


def test_normalising_and_displaying_codes() -> None:
    assert normalise_code(" cafe-x7k9m q2r4t ") == "CAFEX7K9MQ2R4T"
    assert normalise_code("x7k9m.q2r4t_") == "X7K9MQ2R4T"
    assert display_code("CAFEX7K9MQ2R4T", 4) == "CAFE-X7K9M-Q2R4T"
    assert display_code("X7K9MQ2R4T") == "X7K9M-Q2R4T"
    assert display_code("X7K9MQ2R4TAB") == "X7K9-MQ2R-4TAB"
    assert check_prefix(" cafe ") == "CAFE"
    with pytest.raises(ValueError, match="not ILO"):
        check_prefix("OIL")
    with pytest.raises(ValueError, match="longer than 6"):
        check_prefix("ABCDEFG")
    pins = {new_pin() for _ in range(200)}
    assert all(len(p) == 6 and p.isdigit() for p in pins) and len(pins) > 150


async def test_a_batch_stores_its_terms_price_and_normalised_codes(box: Box) -> None:
    made = await box.batch(
        "1 day",
        count=25,
        prefix="cafe",
        length=12,
        currency="usd",
        devices=3,
        devices_total=5,
        expires_at=box.clock.now + 86_400,
        note="for the Saturday market",
        created_by="jane",
    )
    batch = made.batch
    assert batch.price == Money(40, "USD") and batch.package == "1 day" and batch.prefix == "CAFE"
    assert (batch.seconds, batch.bytes_total, batch.devices_at_once, batch.devices_total) == (
        86_400,
        2 * 10**9,
        3,
        5,
    )
    assert batch.count == 25 and batch.code_length == 12 and batch.note == "for the Saturday market"
    rows = await Voucher.select().where(Voucher.batch_id == batch.id).order_by(Voucher.id).run()
    assert [r["code"] for r in rows] == [v.code for v in made.vouchers]
    assert all(re.fullmatch(rf"CAFE[{ALPHABET}]{{12}}", r["code"]) for r in rows)
    assert {r["state"] for r in rows} == {"unused"} and {r["expires_at"] for r in rows} == {batch.expires_at}
    assert {r["pin_hash"] for r in rows} == {None}
    stored = await VoucherBatch.select().where(VoucherBatch.id == batch.id).first().run()
    assert stored is not None
    terms = stored["terms"] if isinstance(stored["terms"], dict) else json.loads(stored["terms"])
    assert terms == {
        "seconds": 86_400,
        "bytes_total": 2 * 10**9,
        "down_bps": None,
        "up_bps": None,
        "devices": 3,
    }
    # Editing the package later changes nothing already printed.
    assert [b.id for b in await box.vouchers.batches()] == [batch.id]
    listed = await box.vouchers.batch_vouchers(batch.id)
    assert [v.display for v in listed][:1] == [display_code(made.vouchers[0].code, 4)]


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"package": "2 hours"}, "package", "No package called '2 hours'"),
        ({"currency": "UGX"}, "currency", "no price in UGX"),
        ({"count": 0}, "count", "Count must be"),
        ({"length": 7}, "length", "8-16"),
        ({"prefix": "L0L"}, "prefix", "0/O, 1/I and L"),
        ({"devices": 0}, "devices", "Devices at once"),
        ({"devices": 2, "devices_total": 1}, "devices_total", "at least the devices at once"),
        ({"bind_mac": True, "devices": 2}, "bind_mac", "first device"),
        ({"expires_at": 1.0}, "expires", "already past"),
    ],
)
async def test_a_bad_batch_names_the_field(box: Box, spec: dict[str, Any], field: str, words: str) -> None:
    values: dict[str, Any] = {"package": "1 hour", "count": 3, **spec}
    with pytest.raises(VoucherError) as caught:
        await box.vouchers.generate(BatchSpec(**values))
    assert caught.value.field == field and words in caught.value.message
    assert await VoucherBatch.count().run() == 0


async def test_a_code_someone_already_holds_is_drawn_again(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    first = (await box.batch(count=2)).vouchers
    taken = first[0].code
    real = service_module.new_codes
    calls: list[int] = []

    def with_a_clash(count: int, **kw: Any) -> list[str]:
        calls.append(count)
        fresh = real(count, **kw)
        return [taken, *fresh[1:]] if len(calls) == 1 else fresh

    monkeypatch.setattr(service_module, "new_codes", with_a_clash)
    second = await box.batch(count=3)
    codes = [v.code for v in second.vouchers]
    assert taken not in codes and len(set(codes)) == 3 and calls == [3, 1]
    assert await Voucher.count().where(Voucher.batch_id == second.batch.id).run() == 3


async def test_ten_thousand_codes_in_one_batch(box: Box) -> None:
    made = await box.batch(count=10_000)
    assert len({v.code for v in made.vouchers}) == 10_000
    assert await Voucher.count().run() == 10_000
