"""Routers added in the admin: tested before saving, password sealed, in every process's pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from hotspot.access.grants import GrantRequest
from hotspot.app import create_app
from hotspot.config import RouterSettings
from hotspot.plugins import discover, settings_models
from hotspot.routers.store import RouterStoreError
from hotspot.routers.tables import RouterRecord
from hotspot.runtime import Hotspot
from hotspot.secrets_box import SecretBox, SecretUnreadable
from hotspot.sim.routeros import RouterOSSimulator


@pytest.fixture
async def sim() -> AsyncIterator[RouterOSSimulator]:
    async with RouterOSSimulator("api", "router-pass-123", "estate-gate") as simulator:
        yield simulator


@pytest.fixture
async def hotspot(make_settings: Any) -> AsyncIterator[Hotspot]:
    settings = make_settings(
        {
            "jobs": {"enabled": False},
            "plugins": {"mikrotik": {"enabled": True, "connect_timeout": 1, "command_timeout": 1}},
            "routers": [
                {"name": "from-yaml", "host": "127.0.0.1", "port": 1, "username": "a", "password": "b"}
            ],
        },
        plugins=settings_models(discover()),
    )
    box: Hotspot = create_app(settings).state.hotspot
    await box.open()
    yield box
    await box.close()


def router(sim: RouterOSSimulator, **kw: Any) -> RouterSettings:
    values: dict[str, Any] = {
        "name": "estate-gate",
        "host": "127.0.0.1",
        "port": sim.port,
        "username": "api",
        "password": SecretStr("router-pass-123"),
        "site": "estate",
        "latitude": -1.29,
        "longitude": 36.82,
    }
    values.update(kw)
    return RouterSettings(**values)


async def test_test_connects_before_saving(hotspot: Hotspot, sim: RouterOSSimulator) -> None:
    ok = await hotspot.router_store.test(router(sim))
    assert ok.status == "ok" and "estate-gate" in ok.detail
    bad = await hotspot.router_store.test(router(sim, password=SecretStr("wrong")))
    assert bad.status == "down" and "invalid user name or password" in bad.detail
    assert "estate-gate" not in hotspot.routers.routers  # testing saves nothing


async def test_saved_router_joins_the_pool_and_takes_grants(hotspot: Hotspot, sim: RouterOSSimulator) -> None:
    await hotspot.router_store.save(router(sim))
    assert set(hotspot.routers.routers) == {"from-yaml", "estate-gate"}
    grant_id = await hotspot.grants.request(GrantRequest(profile="day", seconds=86400, site="estate"))
    await hotspot.jobs.run_due()
    grant = await hotspot.grants.get(grant_id)
    assert grant["state"] == "active" and grant["router"] == "estate-gate"
    assert grant["username"] in sim.users


async def test_password_is_sealed_and_never_listed(hotspot: Hotspot, sim: RouterOSSimulator) -> None:
    await hotspot.router_store.save(router(sim))
    [row] = await RouterRecord.select().run()
    assert "router-pass-123" not in row["password_sealed"]
    listing = await hotspot.router_store.listing()
    assert {r["name"]: r["source"] for r in listing} == {"from-yaml": "config", "estate-gate": "admin"}
    assert "router-pass-123" not in str(listing)


async def test_another_process_picks_the_router_up(
    hotspot: Hotspot, sim: RouterOSSimulator, make_settings: Any
) -> None:
    await hotspot.router_store.save(router(sim))
    other_settings = hotspot.settings  # same config, same database, a second app process
    other: Hotspot = create_app(other_settings).state.hotspot
    await other.router_store.refresh_pool()
    assert "estate-gate" in other.routers.routers
    await hotspot.router_store.remove("estate-gate")
    await other.router_store.refresh_pool()
    assert "estate-gate" not in other.routers.routers


async def test_refusals_are_clear(hotspot: Hotspot, sim: RouterOSSimulator) -> None:
    with pytest.raises(RouterStoreError, match="'from-yaml' is defined in the config file"):
        await hotspot.router_store.save(router(sim, name="from-yaml"))
    with pytest.raises(RouterStoreError, match="no enabled plugin provides router driver 'unifi'"):
        await hotspot.router_store.save(router(sim, driver="unifi"))
    with pytest.raises(RouterStoreError, match="no router named 'ghost'"):
        await hotspot.router_store.remove("ghost")


def test_secret_box_needs_the_same_key() -> None:
    sealed = SecretBox("k" * 48).seal("router-pass")
    assert SecretBox("k" * 48).open(sealed) == "router-pass"
    with pytest.raises(SecretUnreadable, match="secret key changed"):
        SecretBox("x" * 48).open(sealed)
