"""Encrypt secrets the owner types into the admin (router passwords, API keys) before storing them.

The key is derived from the box's secret key (security.secret_key, or data_dir/secret_key), so a
database dump or backup alone does not reveal them. Fernet: AES-128-CBC + HMAC-SHA256.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from hotspot.errors import HotspotError

__all__ = ["SecretBox", "SecretUnreadable"]


class SecretUnreadable(HotspotError):
    """A stored secret cannot be decrypted: the box's secret key changed since it was saved."""


class SecretBox:
    def __init__(self, secret_key: str, purpose: str = "stored-secrets") -> None:
        digest = hashlib.sha256(f"hotspot:{purpose}:{secret_key}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise SecretUnreadable(
                "a stored secret cannot be decrypted: the box's secret key changed; enter it again"
            ) from None
