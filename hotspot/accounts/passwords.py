"""Admin passwords: argon2id hashes (argon2-cffi) and a policy checked offline.

The policy: at least ``min_length`` characters (10 by default), not one of the 19,640 most
common passwords (``common-passwords.txt``, see ``common-passwords.LICENSE`` for where the list
comes from), nor such a password with a few digits or symbols stuck on the end ("password123!"),
and not the username (or the e-mail's name) or something containing it. No composition rules:
length and "not guessable" matter, "one capital and a digit" does not (NIST SP 800-63B).

Hashing runs in a worker thread: argon2id with the library's defaults (RFC 9106 low-memory
profile: 64 MiB, 3 passes) takes tens of milliseconds of CPU that must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hotspot.errors import HotspotError

__all__ = ["MAX_LENGTH", "PasswordRejected", "Passwords", "common_passwords"]

MAX_LENGTH = 256  # longer input is refused rather than hashed (argon2 would take it; a flood should not)
_COMMON_FILE = Path(__file__).with_name("common-passwords.txt")
_TAIL = re.compile(r"[\d\W_]{1,4}$")  # "password123!" is "password" plus a tail


class PasswordRejected(HotspotError):
    """The new password breaks the policy; the message says which rule, fit for the person typing it."""


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lowercased; read once per process."""
    with _COMMON_FILE.open(encoding="utf-8") as fh:
        return frozenset(line.strip().lower() for line in fh if line.strip())


class Passwords:
    """Hash, verify and judge passwords; swap `hasher` to change the cost (old hashes get rehashed)."""

    def __init__(self, *, min_length: int = 10, hasher: PasswordHasher | None = None) -> None:
        self.min_length = min_length
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    # --- policy ---------------------------------------------------------------------------

    def check(self, password: str, *, username: str = "", email: str | None = None) -> None:
        """Raise PasswordRejected naming the first rule the password breaks."""
        if len(password) < self.min_length:
            raise PasswordRejected(f"Use at least {self.min_length} characters.")
        if len(password) > MAX_LENGTH:
            raise PasswordRejected(f"Use at most {MAX_LENGTH} characters.")
        if not password.strip():
            raise PasswordRejected("A password cannot be only spaces.")
        lowered = password.lower()
        common = common_passwords()
        if lowered in common or _TAIL.sub("", lowered) in common:
            raise PasswordRejected("This password is one of the most common ones; choose another.")
        names = [username.lower()]
        if email and "@" in email:
            names.append(email.split("@", 1)[0].lower())
        for name in names:
            if len(name) >= 3 and name in lowered:
                raise PasswordRejected("The password must not contain the username or e-mail name.")

    # --- hashing --------------------------------------------------------------------------

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        """True when the password matches; a malformed or foreign hash is simply a mismatch."""
        if len(password) > MAX_LENGTH:
            return False

        def run() -> bool:
            try:
                return self.hasher.verify(stored_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(run)

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than the hasher's current ones."""
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    async def burn(self, password: str) -> None:
        """Spend the time a real verification takes (unknown user), so timing tells nothing."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        await self.verify(self._dummy, password)
