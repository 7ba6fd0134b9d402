"""Call hook implementations one at a time, so one plugin's failure never stops another's.

pluggy has no async support and aborts its loop on the first exception; these helpers walk
``hook.get_hookimpls()`` themselves and await whatever an implementation returns.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

__all__ = ["ImplOutcome", "await_me_maybe", "call_each", "fan_out"]

log = logging.getLogger("hotspot.plugins")


@dataclass(frozen=True)
class ImplOutcome:
    """What one implementation did: its result, or the error it raised."""

    plugin: str
    result: Any = None
    error: BaseException | None = None


async def await_me_maybe(value: Any) -> Any:
    """Await value when it is awaitable, else return it (datasette's helper)."""
    if inspect.isawaitable(value):
        return await value
    return value


def _kwargs_for(impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {name: kwargs[name] for name in impl.argnames if name in kwargs}


def call_each(
    hook: pluggy.HookCaller,
    kwargs_for_plugin: Callable[[str], Mapping[str, Any]],
) -> list[ImplOutcome]:
    """Call a sync registration hook on each plugin with that plugin's own arguments.

    Errors are returned, not raised, so the caller can name the plugin in its message.
    """
    outcomes: list[ImplOutcome] = []
    for impl in reversed(hook.get_hookimpls()):  # registration order
        try:
            result = impl.function(**_kwargs_for(impl, kwargs_for_plugin(impl.plugin_name)))
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close:
                    close()
                raise TypeError(f"{hook.name} must be a plain function, not async")
            outcomes.append(ImplOutcome(impl.plugin_name, result))
        except Exception as exc:
            outcomes.append(ImplOutcome(impl.plugin_name, error=exc))
    return outcomes


async def fan_out(hook: pluggy.HookCaller, *, budget: float = 30.0, **kwargs: Any) -> list[ImplOutcome]:
    """Run every implementation of an event hook concurrently; log and keep going on failure."""

    async def run(impl: pluggy.HookImpl) -> ImplOutcome:
        try:
            async with asyncio.timeout(budget):
                result = await await_me_maybe(impl.function(**_kwargs_for(impl, kwargs)))
            return ImplOutcome(impl.plugin_name, result)
        except Exception as exc:
            log.error(
                "plugin %r failed in %s: %s",
                impl.plugin_name,
                hook.name,
                exc if not isinstance(exc, TimeoutError) else f"no answer after {budget:g} s",
                exc_info=not isinstance(exc, TimeoutError),
            )
            return ImplOutcome(impl.plugin_name, error=exc)

    impls = list(reversed(hook.get_hookimpls()))
    return list(await asyncio.gather(*(run(impl) for impl in impls)))
