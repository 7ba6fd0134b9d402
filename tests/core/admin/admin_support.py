"""Shared by the admin page tests: the app as `hotspot serve` runs it (ReloadableApp, saved settings
read at build time), a browser that keeps its cookies and posts forms with their CSRF token as a
real one would, and the RouterOS / Daraja simulators on a thread of their own.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hotspot.accounts import AccountService
from hotspot.admin.reload import ReloadableApp
from hotspot.runtime import Hotspot
from hotspot.sim.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, DarajaSimulator
from hotspot.sim.routeros import RouterOSSimulator

COOKIE = "hotspot_session"
CSRF_COOKIE = "hotspot_csrf"
PASSWORD = "plum-orchard-velvet-42"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
HTML = {"accept": "text/html"}
ROUTER_USER, ROUTER_PASSWORD = "hotspot", "router-api-pass-7"
DARAJA_KEY, DARAJA_SECRET = "admin-test-key", "admin-test-secret"
_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found[1]


@dataclass
class Box:
    """The running app (rebuilt in place when settings are saved) and helpers on its own loop."""

    client: AsyncTestClient[Any]
    wrapper: ReloadableApp | None
    browsers: list[Browser] = field(default_factory=list)

    @property
    def app(self) -> Litestar:
        if self.wrapper is not None:
            return self.wrapper.app
        app: Litestar = self.client.app  # type: ignore[assignment]
        return app

    @property
    def hotspot(self) -> Hotspot:
        hotspot: Hotspot = self.app.state.hotspot
        return hotspot

    @property
    def accounts(self) -> AccountService:
        return self.hotspot.accounts

    def run(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run a coroutine on the app's event loop (its database pool lives there)."""
        assert self.client.blocking_portal is not None
        return self.client.blocking_portal.call(fn)

    def admin(self, username: str, role: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        admin: dict[str, Any] = self.run(
            lambda: self.accounts.create_admin(username=username, password=password, role=role, **extra)
        )
        return admin

    def browser(self) -> Browser:
        browser = Browser(self.client)
        self.browsers.append(browser)
        return browser

    async def signed_in(self, username: str, password: str = PASSWORD) -> Browser:
        browser = self.browser()
        response = await browser.sign_in(username, password)
        assert response.status_code == 303, response.text
        return browser


class Browser:
    """One browser: its own cookies (session and CSRF) over the shared test client."""

    def __init__(self, client: AsyncTestClient[Any]) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.token: str | None = None  # the CSRF token its last page carried

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.client.cookies.clear()
        response = await self.client.request(method, url, headers=headers, follow_redirects=False, **kwargs)
        self.client.cookies.clear()
        for name in (COOKIE, CSRF_COOKIE):
            value = response.cookies.get(name)
            if value is not None:
                if value in ("null", ""):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        if "text/html" in response.headers.get("content-type", ""):
            found = _TOKEN.search(response.text)
            if found:
                self.token = found[1]
        return response

    async def get(self, url: str, **kwargs: Any) -> Any:
        headers = {**HTML, **kwargs.pop("headers", {})}
        return await self.request("GET", url, headers=headers, **kwargs)

    async def submit(
        self, url: str, data: Mapping[str, Any] | None = None, *, token: bool = True, **kwargs: Any
    ) -> Any:
        """Post a form as a page would: with the CSRF token of the last page seen."""
        if token and self.token is None:
            await self.get("/admin/login")
        body = dict(data or {})
        if token:
            body["_csrf_token"] = self.token
        headers = {**HTML, **kwargs.pop("headers", {})}
        return await self.request("POST", url, data=body, headers=headers, **kwargs)

    async def sign_in(self, username: str, password: str = PASSWORD, next_url: str = "/admin") -> Any:
        await self.get("/admin/login")
        return await self.submit(
            "/admin/login", {"username": username, "password": password, "next": next_url}
        )


@dataclass
class Simulators:
    """A RouterOS API and a Daraja on their own event loop thread (the app's loop stays free)."""

    router: RouterOSSimulator = field(
        default_factory=lambda: RouterOSSimulator(ROUTER_USER, ROUTER_PASSWORD, "cafe")
    )
    daraja: DarajaSimulator = field(
        default_factory=lambda: DarajaSimulator(DARAJA_KEY, DARAJA_SECRET, SANDBOX_SHORTCODE, SANDBOX_PASSKEY)
    )
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None

    def start(self) -> Simulators:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            try:
                loop.run_until_complete(self.router.start("127.0.0.1", 0))
                loop.run_until_complete(self.daraja.start("127.0.0.1", 0))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self.thread = threading.Thread(target=run, name="admin-test-sims", daemon=True)
        self.thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop = self.loop
        if loop is None:
            return

        async def stop() -> None:
            await self.router.stop()
            await self.daraja.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self.thread is not None:
            self.thread.join(timeout=10)


SANDBOX = {"shortcode": SANDBOX_SHORTCODE, "passkey": SANDBOX_PASSKEY}
