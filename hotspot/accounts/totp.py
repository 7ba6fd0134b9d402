"""Two-factor sign-in: TOTP (RFC 6238, pyotp) with QR enrolment (segno) and one-time recovery codes.

A code is accepted within one 30-second step either side of now (phone clocks drift), and never
twice: the step of the last accepted code is stored and only later steps pass, so a code seen
over a shoulder cannot be replayed. Recovery codes have 59 random bits each; only an HMAC of each
(keyed by the box's secret key) is stored, so a database dump alone does not reveal them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

import pyotp
import segno

__all__ = [
    "RECOVERY_CODES",
    "RecoveryCodes",
    "accepted_step",
    "new_secret",
    "provisioning_uri",
    "qr_svg_data_uri",
]

RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no i/l/o/0/1: read off paper, typed on a phone
_CODE = re.compile(r"^\d{6}$")


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg_data_uri(uri: str) -> str:
    """The otpauth URI as a QR code, an SVG data URI an <img> can show (the CSP allows data: images)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def accepted_step(secret: str, code: str, *, now: float, last_step: int, window: int = 1) -> int | None:
    """The time step `code` belongs to when it is valid and newer than `last_step`, else None."""
    code = code.strip().replace(" ", "")
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(_utc(now))
    found: int | None = None
    for step in range(current - window, current + window + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


class RecoveryCodes:
    """Make one-time codes and their keyed digests; check a typed code against stored digests."""

    def __init__(self, key: str) -> None:
        self._key = hashlib.sha256(f"hotspot:recovery-codes:{key}".encode()).digest()

    @staticmethod
    def normalize(code: str) -> str:
        return re.sub(r"[\s-]", "", code).lower()

    def digest(self, code: str) -> str:
        return hmac.new(self._key, self.normalize(code).encode(), hashlib.sha256).hexdigest()

    def generate(self, count: int = RECOVERY_CODES) -> tuple[list[str], list[str]]:
        """(codes to show once, digests to store)."""
        codes = []
        for _ in range(count):
            raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
            codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
        return codes, [self.digest(c) for c in codes]

    def match(self, code: str, digests: list[str]) -> str | None:
        """The stored digest the code matches, or None (compared in constant time)."""
        wanted = self.digest(code)
        found = None
        for stored in digests:
            if hmac.compare_digest(stored, wanted):
                found = stored
        return found
