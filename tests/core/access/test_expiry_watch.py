"""Sessions about to run out are announced once each on the admin channel (the dashboard's
"Session ending" toast): consecutive runs look at consecutive slices of time ahead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from hotspot.access.expiry import ExpiryWatch
from hotspot.access.tables import Grant, GrantState
from hotspot.app import create_app
from hotspot.config import Settings

NOW = 1_800_000_000.0


async def add_grant(
    username: str, expires_at: float, state: str = GrantState.ACTIVE, mac: str | None = None
) -> None:
    await (
        Grant(
            username=username,
            password="pw",
            source="order",
            profile="1 hour",
            state=state,
            mac=mac,
            created_at=NOW - 3000,
            expires_at=expires_at,
        )
        .save()
        .run()
    )


@pytest.fixture
async def opened(settings: Settings) -> AsyncIterator[None]:
    hotspot = create_app(settings).state.hotspot
    await hotspot.open()
    try:
        yield
    finally:
        await hotspot.close()


@pytest.mark.usefixtures("opened")
async def test_each_session_is_announced_once_ten_minutes_before_its_end() -> None:
    clock = [NOW]
    told: list[dict[str, Any]] = []
    watch = ExpiryWatch(told.append, lead=600, every=60, clock=lambda: clock[0])
    await add_grant("soon", NOW + 590, mac="AA:BB:CC:00:00:01")  # in the first slice
    await add_grant("later", NOW + 640)  # in the slice one minute on
    await add_grant("far", NOW + 3600)
    await add_grant("gone", NOW + 580, state=GrantState.ENDED)  # ended already: nobody to warn
    await add_grant("past", NOW - 10)

    assert await watch.announce() == 1
    assert told[0]["on"] == "session_expiring"
    assert told[0]["event"]["who"] == "AA:BB:CC:00:00:01" and told[0]["event"]["seconds_left"] == 590
    assert await watch.announce() == 0  # the same minute again: nothing new

    clock[0] += 60
    assert await watch.announce() == 1 and told[-1]["event"]["package"] == "1 hour"
    clock[0] += 60
    assert await watch.announce() == 0
    assert len(told) == 2
