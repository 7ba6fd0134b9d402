"""Who is calling: an admin signed in through the session cookie, or one of their API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hotspot.accounts.audit import Actor

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    """The caller of an admin route, resolved afresh on every request (role and state are live)."""

    admin_id: int
    username: str
    role: str
    permissions: frozenset[str]
    via: Literal["session", "token"]
    token_id: int | None = None
    must_enrol_2fa: bool = False  # the owner requires 2FA and this admin has none yet
    theme: str = ""  # the colour mode this admin picked ("light" / "dark"); "" follows the system

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.admin_id)
