"""Named mutual-exclusion locks: in-process without Redis, shared across processes with it.

Use for work that must not run twice at once across app processes (e.g. one router
reconfiguration at a time). Litestar has stores and channels but no lock, hence this module.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import LockError

__all__ = ["LockTimeout", "Locks", "MemoryLocks", "RedisLocks"]


class LockTimeout(Exception):
    """The lock was held by someone else for longer than we were willing to wait."""


class Locks(Protocol):
    def hold(
        self, name: str, *, ttl: float = 60.0, wait: float = 10.0
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold `name` for the block; give up with LockTimeout after `wait` s; auto-release after `ttl` s."""
        ...


class MemoryLocks:
    """Locks for a single process (the embedded default)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, name: str, *, ttl: float = 60.0, wait: float = 10.0) -> AsyncIterator[None]:
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            async with asyncio.timeout(wait):
                await lock.acquire()
        except TimeoutError:
            raise LockTimeout(name) from None
        try:
            yield
        finally:
            lock.release()
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(name, None)


class RedisLocks:
    """Locks shared by every process that uses the same Redis and prefix."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, name: str) -> str:
        return f"{self._prefix}:lock:{name}"

    @contextlib.asynccontextmanager
    async def hold(self, name: str, *, ttl: float = 60.0, wait: float = 10.0) -> AsyncIterator[None]:
        lock = self._redis.lock(self.key(name), timeout=ttl, blocking_timeout=wait)
        if not await lock.acquire():
            raise LockTimeout(name)
        try:
            yield
        finally:
            with contextlib.suppress(LockError):  # expired after ttl: someone else may hold it now
                await lock.release()
