"""Small fakes shared by the tests (imported as `fakes`: tests/ is on sys.path via conftest)."""

from __future__ import annotations

from typing import Any

from hotspot.contracts import ActiveSession, Health, RouterTarget, UserUsage


class Clock:
    """A clock the test moves by hand, so backoff, expiry and leases are exact."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class IdleRouterDriver:
    """A router driver that accepts everything and has nobody online; override what a test needs."""

    kind = "fake"

    async def health(self, target: RouterTarget) -> Health:
        return Health("ok", f"{target.name} idle")

    async def grant(self, target: RouterTarget, spec: Any) -> None: ...

    async def login(self, target: RouterTarget, username: str, password: str, mac: str, ip: str) -> None: ...

    async def revoke(self, target: RouterTarget, username: str) -> None: ...

    async def disconnect(self, target: RouterTarget, session_id: str) -> None: ...

    async def set_speed(self, target: RouterTarget, username: str, down_bps: Any, up_bps: Any) -> None: ...

    async def active_sessions(self, target: RouterTarget) -> list[ActiveSession]:
        return []

    async def user_usage(self, target: RouterTarget) -> list[UserUsage]:
        return []
