"""Shared by the accounts tests: the app under test (`Box`), browsers with their own cookies.

Argon2 runs with small parameters here (the policy and the rehash path are the same); one
test swaps the hasher to prove old hashes are upgraded at sign-in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from fakes import Clock
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hotspot import hookimpl
from hotspot.accounts import AccountService
from hotspot.contracts import Notification
from hotspot.runtime import Hotspot

CSRF = {"X-Requested-With": "test"}
COOKIE = "hotspot_session"
CSRF_COOKIE = "hotspot_csrf"  # HTML forms: Litestar's CSRF token (hotspot.admin.csrf)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PASSWORD = "plum-orchard-velvet-42"  # passes the policy: long, not common, no username inside
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class RecordingNotifier:
    """A notifier plugin that keeps what it was asked to send (or fails while `fail` is set)."""

    id = "recorder"

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.fail = False

    async def send(self, notification: Notification) -> None:
        if self.fail:
            raise RuntimeError("smtp is down")
        self.sent.append(notification)


class NotifierPlugin:
    def __init__(self, notifier: RecordingNotifier) -> None:
        self.notifier = notifier

    @hookimpl
    def register_notifiers(self, config: Any) -> list[Any]:
        return [self.notifier]


@dataclass
class Box:
    """The app under test, the service behind it, and helpers that run on the app's own loop."""

    client: AsyncTestClient[Litestar]
    clock: Clock
    notifier: RecordingNotifier
    browsers: list[Browser] = field(default_factory=list)

    @property
    def hotspot(self) -> Hotspot:
        hotspot: Hotspot = self.client.app.state.hotspot
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

    async def signed_in(self, username: str, password: str = PASSWORD, **extra: Any) -> Browser:
        browser = self.browser()
        response = await browser.login(username, password, **extra)
        assert response.status_code == 200, response.text
        return browser


class Browser:
    """One browser's cookie jar over the shared test client (a stolen cookie is just a copy)."""

    def __init__(self, client: AsyncTestClient[Litestar]) -> None:
        self.client = client
        self.cookie: str | None = None
        self.csrf = True
        self.csrf_token: str | None = None  # the HTML pages' token, fetched on first need

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**(CSRF if self.csrf else {}), **kwargs.pop("headers", {})}
        page_write = method.upper() in UNSAFE and not url.startswith(("/api/", "/hooks/", "/portal"))
        if page_write and self.csrf and self.csrf_token is None:
            await self.request("GET", "/")  # any page sets the token cookie
        cookies = []
        if self.cookie:
            cookies.append(f"{COOKIE}={self.cookie}")
        if self.csrf_token and self.csrf:
            cookies.append(f"{CSRF_COOKIE}={self.csrf_token}")
            if page_write:
                headers.setdefault("X-CSRFToken", self.csrf_token)
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        self.client.cookies.clear()
        response = await self.client.request(method, url, headers=headers, **kwargs)
        self.client.cookies.clear()
        new = response.cookies.get(COOKIE)
        if new is not None:
            self.cookie = None if new == "null" else new
        token = response.cookies.get(CSRF_COOKIE)
        if token:
            self.csrf_token = token
        return response

    async def get(self, url: str, **kwargs: Any) -> Any:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Any:
        return await self.request("POST", url, **kwargs)

    async def login(
        self, username: str, password: str = PASSWORD, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> Any:
        body = {"username": username, "password": password, **extra}
        return await self.post("/api/v1/auth/login", json=body, headers=headers or {})
