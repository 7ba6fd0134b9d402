"""Apply settings saved in the browser by rebuilding the app in place, without a restart.

Plugins are registered when the app is built (hotspot.app.create_app -> load_plugins), so
switching M-Pesa on in the setup wizard, or a new currency, needs a new app. `ReloadableApp`
is what `hotspot serve` runs (hotspot.app.app_from_env): an ASGI app holding the current
Litestar app. `reload()` builds a new one from the config file plus the saved settings, opens
it (lifespan), swaps it in, and retires the old one once its requests are done (at most
`grace_seconds`; a live event stream is cut then and its page reconnects).

What the new app takes over (hotspot.runtime.Carried): the open database, and without Redis the
in-process stores and locks, so the owner stays signed in across the change. With Redis they
are shared anyway.

Every process applies it: the one that saved reloads at once; the others notice the change in
the settings table (checked every `router_pool.health_seconds`, like routers added in the admin)
and reload themselves. So it works the same under `hotspot serve --workers N` and any ASGI server.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar

from hotspot.config import STORED_PREFIXES
from hotspot.runtime import Carried, Hotspot
from hotspot.settings_store import Setting

__all__ = ["Build", "ReloadableApp", "reload_app", "stored_fingerprint"]

log = logging.getLogger("hotspot.admin")

Build = Callable[[Carried | None], Litestar]
STATE_KEY = "reload"


async def stored_fingerprint() -> tuple[tuple[str, float], ...]:
    """(key, updated_at) of every saved setting the app is built from: changes when one is saved."""
    rows = await Setting.select(Setting.key, Setting.updated_at).run()
    return tuple(
        sorted((r["key"], float(r["updated_at"])) for r in rows if str(r["key"]).startswith(STORED_PREFIXES))
    )


class _Running:
    """An app's lifespan, running in its own task until `close`."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def aclose(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task


class ReloadableApp:
    """The ASGI app `hotspot serve` runs: a Litestar app that can be rebuilt in place."""

    def __init__(self, build: Build, *, grace_seconds: float = 10.0) -> None:
        self._build = build
        self.grace_seconds = grace_seconds
        self.app = self._adopt(build(None))
        self._stack: _Running | None = None
        self._inflight: dict[int, int] = {}  # requests running, per app (by id)
        self._idle: dict[int, asyncio.Event] = {}  # set when a retiring app has none left
        self._lock: asyncio.Lock | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._fingerprint: tuple[tuple[str, float], ...] | None = None
        self.reloads = 0

    def _adopt(self, app: Litestar) -> Litestar:
        app.state[STATE_KEY] = self.reload
        return app

    @property
    def hotspot(self) -> Hotspot:
        hotspot: Hotspot = self.app.state.hotspot
        return hotspot

    # --- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        app = self.app
        key = id(app)
        self._inflight[key] = self._inflight.get(key, 0) + 1
        try:
            await app(scope, receive, send)
        finally:
            self._inflight[key] -= 1
            idle = self._idle.get(key)
            if idle is not None and self._inflight[key] <= 0:
                idle.set()

    async def _lifespan(self, receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        try:
            self._fingerprint = None
            self._stack = await self._open(self.app)
            self._fingerprint = await stored_fingerprint()
        except BaseException:
            await send({"type": "lifespan.startup.failed", "message": traceback.format_exc()})
            return
        self._watcher = asyncio.create_task(self._watch(), name="hotspot-settings-watch")
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        try:
            await self.close()
        except BaseException:
            await send({"type": "lifespan.shutdown.failed", "message": traceback.format_exc()})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for task in list(self._retiring):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    @staticmethod
    async def _open(app: Litestar) -> _Running:
        """Start the app's lifespan in a task of its own: anyio scopes inside it (channels, event
        emitters) must be entered and left by one task, and the request that asked for a reload
        ends long before the app does. A fresh context keeps that request's id out of its logs."""
        running = _Running()
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def run() -> None:
            try:
                async with app.lifespan():
                    started.set_result(None)
                    await running.stop.wait()
            except BaseException as exc:
                if not started.done():
                    started.set_exception(exc)
                    return
                raise

        running.task = asyncio.create_task(run(), name="hotspot-app-lifespan", context=contextvars.Context())
        await started
        return running

    # --- reloading -------------------------------------------------------------------------------

    async def reload(self) -> Litestar:
        """Build, open and swap in a new app from the config file and the saved settings."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            old, old_stack = self.app, self._stack
            hotspot = self.hotspot
            carried = Carried(
                hotspot.db,
                stores=hotspot.stores if hotspot.redis is None else None,
                locks=hotspot.locks if hotspot.redis is None else None,
            )
            fingerprint = await stored_fingerprint()
            started = time.perf_counter()
            new = self._adopt(await asyncio.to_thread(self._build, carried))
            stack = await self._open(new)
            new_hotspot: Hotspot = new.state.hotspot
            if new_hotspot.db is hotspot.db:
                hotspot.owns_db = False  # the new app closes it when its time comes
            self.app, self._stack, self._fingerprint = new, stack, fingerprint
            self.reloads += 1
            log.info("settings applied: app rebuilt in %.0f ms", (time.perf_counter() - started) * 1000)
            if old_stack is not None:
                task = asyncio.create_task(
                    self._retire(old, old_stack), name="hotspot-retire-app", context=contextvars.Context()
                )
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)
            return new

    async def _retire(self, app: Litestar, stack: _Running) -> None:
        """Close an app once its requests are done, or after the grace period."""
        key = id(app)
        idle = self._idle[key] = asyncio.Event()
        if self._inflight.get(key, 0) <= 0:
            idle.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(idle.wait(), self.grace_seconds)
        try:
            await stack.aclose()
        except Exception:
            log.exception("closing the replaced app failed")
        finally:
            self._inflight.pop(key, None)
            self._idle.pop(key, None)

    async def check(self) -> bool:
        """Reload when another process saved settings this app was not built with; True if it did."""
        if await stored_fingerprint() == self._fingerprint:
            return False
        await self.reload()
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.hotspot.settings.router_pool.health_seconds)
            try:
                await self.check()
            except Exception:
                log.exception("could not apply the settings saved in another process")


async def reload_app(app: Litestar) -> Litestar | None:
    """Rebuild the app the request came through; None when it is not reloadable (a plain app)."""
    reload: Callable[[], Awaitable[Litestar]] | None = app.state.get(STATE_KEY)
    if reload is None:
        return None
    return await reload()
