"""Kenyan mobile numbers as Daraja wants them: 2547XXXXXXXX or 2541XXXXXXXX, nothing else."""

from __future__ import annotations

import re

__all__ = ["InvalidPhone", "mask_phone", "normalize_phone"]

_SEPARATORS = re.compile(r"[\s\-().]")
_VALID = re.compile(r"^254[71]\d{8}$")


class InvalidPhone(ValueError):
    """Not a Safaricom-style mobile number."""


def normalize_phone(raw: str) -> str:
    """07XX/01XX, 7XX/1XX (9 digits), 2547XX/2541XX and +254... to 2547XXXXXXXX / 2541XXXXXXXX."""
    digits = _SEPARATORS.sub("", raw or "").removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):  # isdigit() alone takes "²" and full-width digits
        raise InvalidPhone("Enter a phone number using digits only, e.g. 0712 345 678")
    if len(digits) == 10 and digits.startswith("0"):
        digits = "254" + digits[1:]
    elif len(digits) == 9:
        digits = "254" + digits
    if not _VALID.match(digits):
        raise InvalidPhone("Enter an M-Pesa number starting 07 or 01, e.g. 0712 345 678")
    return digits


def mask_phone(phone: str | None) -> str | None:
    """2547•••••678: enough for the customer to recognise, not enough to harvest."""
    if not phone:
        return None
    return f"{phone[:4]}{'•' * max(len(phone) - 7, 0)}{phone[-3:]}"
