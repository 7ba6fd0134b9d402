"""Fixtures for the admin pages: the app as `hotspot serve` builds it, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_support import FAST_HASHER, Box, Simulators
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hotspot.admin.reload import ReloadableApp
from hotspot.app import create_app
from hotspot.config import load_settings
from hotspot.config._loader import _merge
from hotspot.plugins import discover, settings_models
from hotspot.runtime import Carried

BASE_URL = "http://testserver.local"


@pytest.fixture
def load(tmp_path: Path, settings_overrides: dict[str, Any]) -> Callable[..., Any]:
    """Settings as the app reads them: defaults < saved in the admin < overrides (the "YAML")."""

    def make(extra: dict[str, Any] | None = None, *, stored: bool = True) -> Any:
        overrides = _merge(_merge(settings_overrides, {"jobs": {"enabled": False}}), extra or {})
        return load_settings(
            None,
            env={"HOTSPOT_DATA_DIR": str(tmp_path / "data")},
            overrides=overrides,
            plugins=settings_models(discover()),
            stored=stored,
        )

    return make


@pytest.fixture
async def box_factory(load: Callable[..., Any]) -> AsyncIterator[Callable[..., Awaitable[Box]]]:
    clients: list[AsyncTestClient[Any]] = []

    async def make(extra: dict[str, Any] | None = None, *, reloadable: bool = True) -> Box:
        def build(carried: Carried | None) -> Litestar:
            app = create_app(load(extra), carried=carried)
            app.state.hotspot.accounts.passwords.hasher = FAST_HASHER
            return app

        wrapper = ReloadableApp(build) if reloadable else None
        client: AsyncTestClient[Any] = AsyncTestClient(wrapper or build(None), base_url=BASE_URL)
        await client.__aenter__()
        clients.append(client)
        return Box(client, wrapper)

    yield make
    for client in clients:
        await client.__aexit__(None, None, None)


@pytest.fixture
async def box(box_factory: Callable[..., Awaitable[Box]]) -> Box:
    return await box_factory()


@pytest.fixture
def sims() -> Iterator[Simulators]:
    running = Simulators().start()
    yield running
    running.stop()
