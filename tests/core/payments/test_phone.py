"""Phone numbers as the portal takes them and Daraja wants them (research/payments.md section 6)."""

from __future__ import annotations

import pytest

from hotspot.payments.phone import InvalidPhone, mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("typed", "msisdn"),
    [
        ("0712345678", "254712345678"),
        ("0712 345 678", "254712345678"),
        ("+254 712-345-678", "254712345678"),
        ("254712345678", "254712345678"),
        ("712345678", "254712345678"),
        ("0110123456", "254110123456"),
        ("(0110) 123 456", "254110123456"),
    ],
)
def test_kenyan_mobile_numbers_are_normalised(typed: str, msisdn: str) -> None:
    assert normalize_phone(typed) == msisdn


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0812345678",
        "071234567",
        "07123456789",
        "+1 555 0100",
        "2547123456789",
        "07l2345678",
        "254212345678",
        "\uff10\uff17\uff11\uff12345678",  # full-width 0712: digits to isdigit(), not to M-Pesa
        "07123456\u00b2\u00b2",
    ],
)
def test_anything_else_is_refused_with_a_clear_message(bad: str) -> None:
    with pytest.raises(InvalidPhone, match=r"0712 345 678"):
        normalize_phone(bad)


def test_masking_keeps_enough_to_recognise() -> None:
    assert mask_phone("254712345678") == "2547•••••678"
    assert mask_phone(None) is None
