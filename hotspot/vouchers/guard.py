"""Guessing protection for voucher redeems: rate limits, growing lockouts, security events.

Counters live in a Litestar store (`hotspot.stores`: Redis when configured, else in process),
so every app process sees the same numbers; each read-modify-write holds one named lock
(`hotspot.locks`), so two processes never lose each other's counts. Times inside the values
come from the service's clock (tests move it by hand); the store's own expiry only tidies up.

Who is counted, in a fixed window of `window_seconds`:

* the device's MAC and the device's IP (from the router's redirect): a customer mistyping;
* the address the request came from, with higher limits: behind the router's NAT many
  customers may share it, but an attacker calling the API directly can invent MACs and IPs
  and cannot invent this;
* everybody together: the ceiling the guess probability in `codes` is computed against.

`failures_before_lockout` wrong codes or PINs lock that MAC / IP / source out for
`lockout_seconds`, doubling with every further lockout (up to `lockout_max_seconds`); the
doubling is forgotten after `forget_after_seconds` without one. Each lockout, and the global
limit being reached, raises a `security_event`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from litestar.stores.base import Store

from hotspot.contracts import SecurityEvent
from hotspot.locks import Locks

__all__ = ["GuardLimits", "Lockout", "RedeemGuard", "Refusal", "Who"]

log = logging.getLogger("hotspot.vouchers")
Kind = Literal["mac", "ip", "source"]


@dataclass(frozen=True)
class GuardLimits:
    """How many redeem attempts are allowed, and how failures are punished."""

    window_seconds: int = 600
    per_mac: int = 10
    per_ip: int = 10
    per_source: int = 60
    everyone: int = 600  # all devices together; see the guess probability in hotspot.vouchers.codes
    failures_before_lockout: int = 5  # per MAC and per device IP
    source_failures_before_lockout: int = 20
    lockout_seconds: int = 60
    lockout_max_seconds: int = 86_400
    forget_after_seconds: int = 86_400

    def rate(self, kind: Kind) -> int:
        return {"mac": self.per_mac, "ip": self.per_ip, "source": self.per_source}[kind]

    def failures(self, kind: Kind) -> int:
        return self.source_failures_before_lockout if kind == "source" else self.failures_before_lockout


@dataclass(frozen=True)
class Who:
    """The device asking (MAC, IP as the router reported them) and the address the request came from."""

    mac: str | None
    ip: str | None
    source: str | None = None

    def subjects(self) -> list[tuple[Kind, str]]:
        found: list[tuple[Kind, str]] = []
        if self.mac:
            found.append(("mac", self.mac))
        if self.ip:
            found.append(("ip", self.ip))
        if self.source and self.source != self.ip:
            found.append(("source", self.source))
        return found


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is not even looked at: locked out, or over a rate limit."""

    reason: Literal["locked_out", "rate_limited"]
    retry_after: int
    kind: str


@dataclass(frozen=True)
class Lockout:
    """A lockout a failure just caused."""

    kind: Kind
    value: str
    seconds: int
    level: int


class RedeemGuard:
    """Admit or refuse a redeem attempt before the code is looked up; count failures after."""

    def __init__(
        self,
        store: Store,
        locks: Locks,
        *,
        limits: GuardLimits | None = None,
        clock: Callable[[], float],
        emit: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self.store = store
        self.locks = locks
        self.limits = limits or GuardLimits()
        self.clock = clock
        self.emit = emit

    async def _get(self, key: str) -> dict[str, Any]:
        raw = await self.store.get(key)
        if raw is None:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    async def _put(self, key: str, value: dict[str, Any], keep: float) -> None:
        await self.store.set(key, json.dumps(value), expires_in=max(int(keep), 1))

    async def admit(self, who: Who) -> Refusal | None:
        """Count this attempt; say why it is refused (lockout first), or None to go ahead."""
        now = self.clock()
        limits = self.limits
        window = limits.window_seconds
        flood = False
        refusal: Refusal | None = None
        async with self.locks.hold("vouchers:guard", ttl=10, wait=10):
            for kind, value in who.subjects():
                failures = await self._get(f"fail:{kind}:{value}")
                until = float(failures.get("until") or 0)
                if until > now:
                    return Refusal("locked_out", _ceil(until - now), kind)
            counters: list[tuple[str, int, str]] = [
                (f"rate:{kind}:{value}", limits.rate(kind), kind) for kind, value in who.subjects()
            ]
            counters.append(("rate:all", limits.everyone, "everyone"))
            for key, limit, scope in counters:
                counter = await self._get(key)
                start = float(counter.get("start") or 0)
                if now - start >= window:
                    counter = {"start": now, "n": 0}
                    start = now
                counter["n"] = int(counter.get("n") or 0) + 1
                await self._put(key, counter, window)
                if counter["n"] > limit and refusal is None:
                    refusal = Refusal("rate_limited", _ceil(start + window - now), scope)
                    flood = scope == "everyone" and counter["n"] == limit + 1
        if flood:
            await self._event(
                "voucher_flood",
                f"{limits.everyone} voucher redeem attempts within {window // 60} minutes from all "
                "devices together: redeems are refused until the window ends",
                "critical",
                who,
            )
        return refusal

    async def failed(self, who: Who) -> list[Lockout]:
        """A wrong code or PIN: count it for each subject and lock out those over the line."""
        now = self.clock()
        limits = self.limits
        lockouts: list[Lockout] = []
        async with self.locks.hold("vouchers:guard", ttl=10, wait=10):
            for kind, value in who.subjects():
                key = f"fail:{kind}:{value}"
                state = await self._get(key)
                if now - float(state.get("start") or 0) >= limits.window_seconds:
                    state.update(start=now, n=0)
                state["n"] = int(state.get("n") or 0) + 1
                if state["n"] >= limits.failures(kind):
                    recent = now - float(state.get("locked_at") or 0) < limits.forget_after_seconds
                    level = int(state.get("level") or 0) + 1 if recent else 1
                    seconds = min(limits.lockout_seconds * 2 ** (level - 1), limits.lockout_max_seconds)
                    state.update(n=0, start=now, level=level, locked_at=now, until=now + seconds)
                    lockouts.append(Lockout(kind, value, seconds, level))
                await self._put(key, state, limits.forget_after_seconds + limits.lockout_max_seconds)
        if lockouts:  # one event per attempt, naming everything it locked
            worst = max(lockouts, key=lambda lockout: lockout.seconds)
            subjects = ", ".join(f"{lockout.kind} {lockout.value}" for lockout in lockouts)
            log.warning(
                "voucher redeems locked for %s s from %s (lockout #%s)", worst.seconds, subjects, worst.level
            )
            await self._event(
                "voucher_guessing",
                f"repeated wrong voucher codes or PINs from {subjects}: locked out for "
                f"{_words(worst.seconds)} (lockout #{worst.level})",
                "critical" if worst.level >= 3 else "warning",
                who,
            )
        return lockouts

    async def _event(
        self, kind: str, detail: str, severity: Literal["info", "warning", "critical"], who: Who
    ) -> None:
        if self.emit is None:
            return
        event = SecurityEvent(
            kind=kind,
            detail=detail[:300],
            severity=severity,
            at=datetime.fromtimestamp(self.clock(), UTC),
            ip=who.source or who.ip,
            subject=who.mac,
        )
        try:
            await self.emit("security_event", event=event)
        except Exception:  # the notifier's trouble must never decide a redeem
            log.exception("could not announce security event %s", kind)


def _ceil(seconds: float) -> int:
    return max(int(-(-seconds // 1)), 1)


def _words(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"
