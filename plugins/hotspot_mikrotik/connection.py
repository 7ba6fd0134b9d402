"""One logged-in API connection per router, reused, rebuilt after a failure.

librouteros's AsyncApi speaks one command at a time per connection, so each router's
connection is guarded by a lock. A broken connection (closed, timed out, !fatal) is thrown
away and the command is tried once more on a fresh one: every command the driver sends is an
idempotent "make it so", so a retry cannot do harm. A !trap is the router refusing the command
and is never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import librouteros
from librouteros.api import AsyncApi
from librouteros.exceptions import LibRouterosError, MultiTrapError, TrapError

from hotspot import errors
from hotspot.contracts import RouterTarget
from hotspot_mikrotik.config import MikrotikSettings

__all__ = ["Connections", "RouterCommandError", "RouterUnreachable", "Row", "run"]

T = TypeVar("T")
Row = dict[str, Any]


class RouterUnreachable(errors.RouterUnreachable):
    """The router could not be reached, refused the login, or stopped answering."""


class RouterCommandError(errors.RouterRefused):
    """The router answered with !trap: it understood and refused."""

    def __init__(self, command: str, message: str) -> None:
        self.command = command
        self.message = message
        super().__init__(f"{command}: {message}")


async def run(api: AsyncApi, command: str, *queries: str, **args: object) -> list[Row]:
    """Send one command with attribute words built as exact strings (no librouteros casting)."""
    words = [f"={key}={_api_value(value)}" for key, value in args.items()]
    try:
        return [row async for row in api.rawCmd(command, *words, *queries)]
    except MultiTrapError as exc:
        raise RouterCommandError(command, "; ".join(str(t) for t in exc.traps)) from None
    except TrapError as exc:
        raise RouterCommandError(command, str(exc)) from None


def _api_value(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


class Connections:
    """Connections to every router this driver talks to, keyed by router name."""

    def __init__(self, settings: MikrotikSettings) -> None:
        self.settings = settings
        self._apis: dict[str, tuple[_Key, AsyncApi]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _ssl(self, target: RouterTarget) -> ssl.SSLContext | None:
        if not target.use_tls:
            return None
        context = ssl.create_default_context(cafile=self.settings.tls_ca_file)
        if not self.settings.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def _connect(self, target: RouterTarget) -> AsyncApi:
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                return await librouteros.async_connect(
                    target.host,
                    target.username,
                    target.password,
                    port=target.port,
                    timeout=self.settings.command_timeout,
                    ssl_wrapper=self._ssl(target),
                    encoding="utf-8",
                )
        except TrapError as exc:
            raise RouterUnreachable(f"{target.name}: login refused: {exc}") from None
        except TimeoutError:
            budget = self.settings.connect_timeout
            raise RouterUnreachable(
                f"{target.name}: no answer from {_where(target)} within {budget:g} s"
            ) from None
        except (OSError, LibRouterosError) as exc:
            raise RouterUnreachable(
                f"{target.name}: cannot connect to {_where(target)}: {_why(exc)}"
            ) from None

    async def call(self, target: RouterTarget, work: Callable[[AsyncApi], Awaitable[T]]) -> T:
        """Run `work` on the router's connection; reconnect and retry once if the link broke."""
        lock = self._locks.setdefault(target.name, asyncio.Lock())
        async with lock:
            for attempt in (1, 2):
                cached = self._apis.get(target.name)
                if cached is not None and cached[0] != _key(
                    target
                ):  # edited in the admin: new address or login
                    await self._drop(target.name)
                    cached = None
                if cached is None:
                    cached = (_key(target), await self._connect(target))
                    self._apis[target.name] = cached
                api = cached[1]
                try:
                    async with asyncio.timeout(self.settings.command_timeout):
                        return await work(api)
                except RouterCommandError:
                    raise
                except (TimeoutError, OSError, LibRouterosError) as exc:
                    await self._drop(target.name)
                    if attempt == 2:
                        raise RouterUnreachable(f"{target.name}: connection lost: {_why(exc)}") from None
            raise AssertionError("unreachable")  # pragma: no cover

    async def _drop(self, name: str) -> None:
        cached = self._apis.pop(name, None)
        if cached is not None:
            with contextlib.suppress(Exception):  # already broken: closing is best effort
                await asyncio.wait_for(cached[1].close(), timeout=1)

    async def close(self) -> None:
        for name in list(self._apis):
            await self._drop(name)


_Key = tuple[str, int, str, str, bool]


def _key(target: RouterTarget) -> _Key:
    """What a connection was opened with; a change means a new connection."""
    return (target.host, target.port, target.username, target.password, target.use_tls)


def _where(target: RouterTarget) -> str:
    return f"{target.host}:{target.port}"


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, OSError) else f"{type(exc).__name__}: {text}"
