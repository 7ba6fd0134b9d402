"""Fixtures for the accounts tests: the real app on both backends with a hand-moved clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from accounts_support import FAST_HASHER, Box, NotifierPlugin, RecordingNotifier
from fakes import Clock
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from hotspot import PluginSettings
from hotspot.app import create_app
from hotspot.runtime import Hotspot


def behind_local_proxy(inner: ASGIApp) -> ASGIApp:
    """Requests arrive from 127.0.0.1, as from nginx on the box: X-Forwarded-For names the client."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["client"] = ("127.0.0.1", 50000)
        await inner(scope, receive, send)

    return app


@pytest.fixture
async def box_factory(make_settings: Any) -> AsyncIterator[Callable[..., Awaitable[Box]]]:
    clients: list[AsyncTestClient[Litestar]] = []

    async def make(**overrides: Any) -> Box:
        notifier = RecordingNotifier()
        settings = make_settings({"jobs": {"enabled": False}, **overrides})
        app = create_app(
            settings,
            installed={},
            extra_plugins=[("recorder", NotifierPlugin(notifier), PluginSettings(enabled=True))],
        )
        app.asgi_handler = behind_local_proxy(app.asgi_handler)
        client = AsyncTestClient(app, base_url="http://testserver.local")
        await client.__aenter__()
        clients.append(client)
        clock = Clock()
        hotspot: Hotspot = app.state.hotspot
        hotspot.accounts.clock = clock
        hotspot.jobs.clock = clock
        hotspot.accounts.passwords.hasher = FAST_HASHER
        return Box(client, clock, notifier)

    yield make
    for client in clients:
        await client.__aexit__(None, None, None)


@pytest.fixture
async def box(box_factory: Callable[..., Awaitable[Box]]) -> Box:
    return await box_factory()
