"""The MikroTik driver against the RouterOS simulator, over the real librouteros client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes import Clock

from hotspot.contracts import GrantSpec, RouterTarget
from hotspot.sim.routeros import RouterOSSimulator
from hotspot_mikrotik.config import MikrotikSettings
from hotspot_mikrotik.connection import RouterCommandError, RouterUnreachable
from hotspot_mikrotik.driver import MikrotikDriver
from hotspot_mikrotik.units import format_duration, normalise_mac, parse_duration, rate_limit

MAC1, MAC2, IP1, IP2 = "aa-bb-cc-dd-ee-01", "AA:BB:CC:DD:EE:02", "10.5.50.23", "10.5.50.24"


@pytest.fixture
async def sim() -> AsyncIterator[RouterOSSimulator]:
    async with RouterOSSimulator("hotspot-api", "s3cret", "cafe-main", clock=Clock(1000.0)) as simulator:
        yield simulator


@pytest.fixture
async def driver() -> AsyncIterator[MikrotikDriver]:
    d = MikrotikDriver(MikrotikSettings(enabled=True, connect_timeout=1, command_timeout=1))
    yield d
    await d.close()


def target(sim: RouterOSSimulator, **kw: object) -> RouterTarget:
    options: dict[str, object] = {
        "name": "cafe-main",
        "host": "127.0.0.1",
        "port": sim.port,
        "username": "hotspot-api",
        "password": "s3cret",
    }
    options.update(kw)
    return RouterTarget(**options)  # type: ignore[arg-type]


def spec(**kw: object) -> GrantSpec:
    values: dict[str, object] = {
        "username": "G12345",  # numeric-looking names must survive librouteros's int casting
        "password": "0042",
        "profile": "1hour",
        "seconds": 3600,
        "bytes_total": None,
        "down_bps": 5_000_000,
        "up_bps": 2_000_000,
        "devices": 1,
        "mac": MAC1,
        "ip": IP1,
    }
    values.update(kw)
    return GrantSpec(**values)  # type: ignore[arg-type]


async def test_health_reports_identity_version_and_sessions(
    sim: RouterOSSimulator, driver: MikrotikDriver
) -> None:
    health = await driver.health(target(sim))
    assert health.status == "ok"
    assert "cafe-main" in health.detail and "RouterOS 7.16.2" in health.detail and "0 online" in health.detail


async def test_grant_creates_profile_user_and_logs_the_device_in(
    sim: RouterOSSimulator, driver: MikrotikDriver
) -> None:
    sim.add_host("AA:BB:CC:DD:EE:01", IP1)
    await driver.grant(target(sim), spec())
    profile = sim.profiles["hs-1hour"]
    assert profile["rate-limit"] == "2M/5M"  # rx/tx = client upload/download
    assert profile["shared-users"] == "1"
    user = sim.users["G12345"]
    assert user["profile"] == "hs-1hour" and user["limit-uptime"] == "1h"
    assert user["mac-address"] == "AA:BB:CC:DD:EE:01"
    [session] = sim.active
    assert session["user"] == "G12345" and session["address"] == IP1
    assert sim.sent("/ip/hotspot/active/login")[0]["password"] == "******"  # the log redacts it


async def test_grant_is_idempotent(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    sim.add_host("AA:BB:CC:DD:EE:01", IP1)
    await driver.grant(target(sim), spec())
    await driver.grant(target(sim), spec())
    assert len(sim.users) == 1 and len(sim.active) == 1
    assert len(sim.sent("/ip/hotspot/active/login")) == 1


async def test_extend_updates_the_limits(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    await driver.grant(target(sim), spec(mac=None, ip=None))
    await driver.grant(target(sim), spec(mac=None, ip=None, seconds=7200, bytes_total=2_000_000_000))
    user = sim.users["G12345"]
    assert user["limit-uptime"] == "2h" and user["limit-bytes-total"] == "2000000000"


async def test_speed_change_is_live_on_the_dynamic_queue(
    sim: RouterOSSimulator, driver: MikrotikDriver
) -> None:
    sim.add_host("AA:BB:CC:DD:EE:01", IP1)
    await driver.grant(target(sim), spec())
    await driver.set_speed(target(sim), "G12345", down_bps=1_000_000, up_bps=512_000)
    [queue] = [q for q in sim.queues if q["name"] == "<hotspot-G12345>"]
    assert queue["max-limit"] in ("512k/1M", "512000/1000000")


async def test_time_limit_ends_the_session_on_the_router(
    sim: RouterOSSimulator, driver: MikrotikDriver
) -> None:
    sim.add_host("AA:BB:CC:DD:EE:01", IP1)
    await driver.grant(target(sim), spec(seconds=600))
    sim.advance(599)
    assert len(await driver.active_sessions(target(sim))) == 1
    sim.advance(2)
    assert await driver.active_sessions(target(sim)) == []


async def test_data_cap_ends_the_session(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    sim.add_host("AA:BB:CC:DD:EE:01", IP1)
    sim.set_demand("AA:BB:CC:DD:EE:01", 5_000_000, 1_000_000)
    await driver.grant(target(sim), spec(bytes_total=10_000_000, seconds=None))
    sim.advance(5)
    [session] = await driver.active_sessions(target(sim))
    assert 0 < session.bytes_in + session.bytes_out < 10_000_000
    assert session.bytes_out <= 5 * 5_000_000 // 8  # never faster than the package's download speed
    sim.advance(60)
    assert await driver.active_sessions(target(sim)) == []


async def test_mac_binding_refuses_a_second_device(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    sim.add_host("AA:BB:CC:DD:EE:01", IP1)
    sim.add_host(MAC2, IP2)
    bound = spec(devices=2)  # room for two devices, but the grant is bound to the first one's MAC
    await driver.grant(target(sim), bound)
    with pytest.raises(RouterCommandError, match="not allowed to log in from this MAC address"):
        await driver.login(target(sim), bound.username, bound.password, MAC2, IP2)
    assert [row["mac-address"] for row in sim.active] == ["AA:BB:CC:DD:EE:01"]


async def test_disconnect_and_revoke(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    sim.add_host("AA:BB:CC:DD:EE:01", IP1)
    await driver.grant(target(sim), spec())
    [session] = await driver.active_sessions(target(sim))
    await driver.disconnect(target(sim), session.session_id)
    assert sim.active == [] and "G12345" in sim.users
    await driver.disconnect(target(sim), session.session_id)  # already gone: fine
    await driver.grant(target(sim), spec())  # logs in again while the grant lasts
    await driver.revoke(target(sim), "G12345")
    assert sim.active == [] and sim.users == {}
    await driver.revoke(target(sim), "G12345")  # revoking twice is harmless


async def test_active_sessions_map_router_rows(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    sim.add_host("AA:BB:CC:DD:EE:01", IP1)
    await driver.grant(target(sim), spec())
    sim.advance(65)
    [session] = await driver.active_sessions(target(sim))
    assert session.username == "G12345" and session.mac == "AA:BB:CC:DD:EE:01" and session.ip == IP1
    assert session.uptime_seconds == 65 and session.session_id.startswith("*")


async def test_bad_credentials_are_a_clear_error(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    with pytest.raises(RouterUnreachable, match="cafe-main: login refused: invalid user name or password"):
        await driver.health(target(sim, password="wrong"))


async def test_refused_connection(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    sim.faults.refuse = True
    with pytest.raises(RouterUnreachable, match=r"cafe-main: (cannot connect|connection lost)"):
        await driver.health(target(sim))


async def test_closed_port(driver: MikrotikDriver) -> None:
    with pytest.raises(RouterUnreachable, match=r"cannot connect to 127\.0\.0\.1:1"):
        await driver.health(RouterTarget("gone", "127.0.0.1", 1, "u", "p"))


async def test_hanging_router_times_out(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    sim.faults.hang = True
    with pytest.raises(RouterUnreachable, match=r"cafe-main: (no answer|connection lost)"):
        await driver.health(target(sim))


async def test_trapped_command_names_the_router_error(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    sim.faults.trap("/ip/hotspot/user/add", "not enough privileges")
    with pytest.raises(RouterCommandError, match="/ip/hotspot/user/add: not enough privileges"):
        await driver.grant(target(sim), spec(mac=None, ip=None))
    assert sim.users == {}


async def test_connection_dropped_mid_reply_is_retried_once(
    sim: RouterOSSimulator, driver: MikrotikDriver
) -> None:
    await driver.health(target(sim))  # an open connection that will break
    sim.faults.drop("/ip/hotspot/user/add", times=1)
    await driver.grant(target(sim), spec(mac=None, ip=None))
    assert list(sim.users) == ["G12345"]  # applied once, not twice


async def test_slow_router_times_out(sim: RouterOSSimulator, driver: MikrotikDriver) -> None:
    sim.faults.slow(3, "/system/resource/print")
    with pytest.raises(RouterUnreachable, match="connection lost: timed out"):
        await driver.health(target(sim))


async def test_api_ssl(driver: MikrotikDriver) -> None:
    async with RouterOSSimulator("hotspot-api", "s3cret", "estate") as tls_sim:
        await tls_sim.stop()
        await tls_sim.start(tls=True)
        health = await driver.health(target(tls_sim, name="estate", use_tls=True))
        assert health.status == "ok"


async def test_empty_replies_of_routeros_7_18(driver: MikrotikDriver) -> None:
    async with RouterOSSimulator("hotspot-api", "s3cret", "new", version="7.19 (stable)") as new_sim:
        assert await driver.active_sessions(target(new_sim, name="new")) == []
        await driver.grant(target(new_sim, name="new"), spec(mac=None, ip=None))
        assert "G12345" in new_sim.users


def test_units() -> None:
    assert parse_duration("1w2d3h4m5s") == 788645 and parse_duration("47m56s") == 2876
    assert parse_duration("01:02:03") == 3723 and parse_duration("") == 0 and parse_duration(90) == 90
    assert format_duration(3661) == "1h1m1s" and format_duration(0) == "0s"
    assert rate_limit(5_000_000, 2_000_000) == "2M/5M" and rate_limit(None, None) == ""
    assert rate_limit(1_500_000, 256_000) == "256k/1500k"
    assert normalise_mac("aa-bb-cc-dd-ee-ff") == "AA:BB:CC:DD:EE:FF"
    with pytest.raises(ValueError, match="not a MAC"):
        normalise_mac("nope")


async def test_health_is_degraded_when_device_mode_forbids_the_hotspot(driver: MikrotikDriver) -> None:
    async with RouterOSSimulator("hotspot-api", "s3cret", "home", version="7.18.2 (stable)") as home_sim:
        home_sim.device_mode(hotspot=False)
        health = await driver.health(target(home_sim, name="home"))
        assert health.status == "degraded"
        assert health.detail.startswith("device-mode forbids the hotspot")
        assert "/system/device-mode/update hotspot=yes" in health.detail


async def test_health_is_degraded_in_home_device_mode(driver: MikrotikDriver) -> None:
    async with RouterOSSimulator(
        "hotspot-api", "s3cret", "flat", version="7.17 (stable)", device_mode="home"
    ) as home_sim:
        health = await driver.health(target(home_sim, name="flat"))
        assert health.status == "degraded" and "device-mode forbids the hotspot" in health.detail
        home_sim.add_host(MAC1, IP1)
        with pytest.raises(RouterCommandError, match="not allowed by device-mode"):
            await driver.grant(target(home_sim, name="flat"), spec())  # the login must not pass silently
        assert home_sim.active == []


async def test_health_ignores_the_missing_device_mode_menu_before_7_17(
    sim: RouterOSSimulator, driver: MikrotikDriver
) -> None:
    health = await driver.health(target(sim))  # 7.16.2: /system/device-mode/print traps
    assert health.status == "ok" and "RouterOS 7.16.2" in health.detail
    assert sim.sent("/system/device-mode/print") == [{}]


async def test_health_is_ok_on_7_19_with_the_hotspot_allowed(driver: MikrotikDriver) -> None:
    async with RouterOSSimulator("hotspot-api", "s3cret", "new", version="7.19 (stable)") as new_sim:
        assert new_sim.device_mode()["hotspot"] == "true"
        health = await driver.health(target(new_sim, name="new"))
        assert health.status == "ok" and "RouterOS 7.19" in health.detail
