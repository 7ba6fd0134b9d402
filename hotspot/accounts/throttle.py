"""Brute-force protection for sign-in: per account and per client IP, for passwords and for codes.

After `max_failures` wrong passwords for one username (or `max_failures_per_ip` from one IP),
that username (or IP) is locked for `lock_seconds`; each further lockout doubles the time, up to
`max_lock_seconds`. Failures older than `window_seconds` are forgotten, and the doubling resets
after `forget_seconds` without a failure. TOTP and recovery codes count separately ("totp"), so
knowing the password does not buy unlimited code guesses.

State lives in a Litestar store (Redis when configured), so every app process sees the same
counters; times come from the injected clock and are kept inside the values (the store's own
expiry only collects garbage), so tests can move time by hand on either backend.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

from litestar.stores.base import Store

from hotspot.locks import Locks, LockTimeout

__all__ = ["Lockout", "Throttle", "ThrottleKind", "ThrottlePolicy"]

ThrottleKind = Literal["password", "totp"]
Scope = Literal["account", "ip"]


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    max_failures_per_ip: int = 20
    lock_seconds: float = 60.0
    max_lock_seconds: float = 3600.0
    window_seconds: float = 900.0
    forget_seconds: float = 86400.0


@dataclass(frozen=True)
class Lockout:
    """A username or an IP was just locked: worth a security event and an alert."""

    kind: ThrottleKind
    scope: Scope
    key: str
    seconds: float
    failures: int


@dataclass
class _State:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0
    lockouts: int = 0


class Throttle:
    def __init__(
        self,
        store: Store,
        locks: Locks,
        policy: ThrottlePolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.locks = locks
        self.policy = policy or ThrottlePolicy()
        self.clock = clock

    @staticmethod
    def _key(kind: ThrottleKind, scope: Scope, value: str) -> str:
        return f"{kind}:{'a' if scope == 'account' else 'i'}:{value.lower()}"

    async def _load(self, key: str) -> _State:
        raw = await self.store.get(key)
        if raw is None:
            return _State()
        try:
            data = json.loads(raw)
            return _State(
                int(data["failures"]),
                float(data["last_failure"]),
                float(data["locked_until"]),
                int(data["lockouts"]),
            )
        except (ValueError, KeyError, TypeError):
            return _State()

    async def _save(self, key: str, state: _State) -> None:
        ttl = int(self.policy.forget_seconds + self.policy.max_lock_seconds)
        await self.store.set(key, json.dumps(state.__dict__), expires_in=ttl)

    @contextlib.asynccontextmanager
    async def _exclusive(self, key: str) -> AsyncIterator[None]:
        """Read-modify-write one counter at a time across processes; count anyway if the lock is stuck."""
        async with contextlib.AsyncExitStack() as stack:
            with contextlib.suppress(LockTimeout):
                await stack.enter_async_context(self.locks.hold(f"auth-throttle:{key}", ttl=5, wait=5))
            yield

    async def retry_after(
        self, kind: ThrottleKind, *, account: str | None, ip: str | None, check_account: bool = True
    ) -> float:
        """Seconds until an attempt is allowed again (0: go ahead). Checked before any password work."""
        now = self.clock()
        waits = [0.0]
        if account and check_account:
            waits.append((await self._load(self._key(kind, "account", account))).locked_until - now)
        if ip:
            waits.append((await self._load(self._key(kind, "ip", ip))).locked_until - now)
        return max(waits)

    async def failed(self, kind: ThrottleKind, *, account: str | None, ip: str | None) -> list[Lockout]:
        """Count one failure against the account and the IP; return the lockouts it caused."""
        out: list[Lockout] = []
        for scope, value, limit in (
            ("account", account, self.policy.max_failures),
            ("ip", ip, self.policy.max_failures_per_ip),
        ):
            if not value:
                continue
            key = self._key(kind, scope, value)  # type: ignore[arg-type]
            async with self._exclusive(key):
                state = await self._load(key)
                now = self.clock()
                if now - state.last_failure > self.policy.forget_seconds:
                    state.lockouts = 0
                if now - state.last_failure > self.policy.window_seconds:
                    state.failures = 0
                state.failures += 1
                state.last_failure = now
                if state.failures >= limit:
                    seconds = min(self.policy.lock_seconds * 2**state.lockouts, self.policy.max_lock_seconds)
                    out.append(Lockout(kind, scope, value, seconds, state.failures))  # type: ignore[arg-type]
                    state.locked_until = now + seconds
                    state.lockouts += 1
                    state.failures = 0
                await self._save(key, state)
        return out

    async def succeeded(self, kind: ThrottleKind, *, account: str) -> None:
        """A right answer clears the account's counter (never the IP's: one good account on an
        address must not reset the count of guesses made from it at other accounts)."""
        await self.store.delete(self._key(kind, "account", account))
