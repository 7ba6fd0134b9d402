"""Anonymous visits leave nothing behind: no session in the store, no session cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from hotspot.config import Settings


async def test_anonymous_requests_store_no_session(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    store = client.app.stores.get("sessions")
    for path in ("/", "/healthz", "/portal", "/router/login.html", "/no-such-page"):
        response = await client.get(path, follow_redirects=False)
        assert "hotspot_session" not in response.headers.get("set-cookie", ""), path
    assert not client.cookies.get("hotspot_session")
    keys = [key async for key in _keys(store, settings)]
    assert keys == []


async def _keys(store: Any, settings: Settings) -> AsyncIterator[Any]:
    """Keys of a memory or Redis store (the test runs on both)."""
    if hasattr(store, "_store"):  # MemoryStore
        for key in list(store._store):
            yield key
        return
    # The app's client belongs to the test client's event loop: ask Redis with one of our own.
    redis = Redis.from_url(settings.redis_url or "")
    try:
        async for key in redis.scan_iter(match=f"{store._make_key('')}*"):
            yield key
    finally:
        await redis.aclose()
