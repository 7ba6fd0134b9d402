"""Grants through the whole core: durable jobs, the router pool, the real MikroTik driver and
two simulated routers of one site, spoken to over librouteros. Both storage backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from fakes import Clock

from hotspot.access.grants import GrantRequest
from hotspot.access.tables import Grant, Session
from hotspot.app import create_app
from hotspot.plugins import discover, settings_models
from hotspot.routers.tables import FairUsageChange
from hotspot.runtime import Hotspot
from hotspot.sim.routeros import RouterOSSimulator

MAC1, MAC2, MAC3 = "AA:BB:CC:00:00:01", "AA:BB:CC:00:00:02", "AA:BB:CC:00:00:03"


@dataclass
class Box:
    hotspot: Hotspot
    clock: Clock
    main: RouterOSSimulator
    back: RouterOSSimulator

    async def settle(self, rounds: int = 5) -> None:
        """Run every due job (repeatedly: jobs may queue jobs)."""
        for _ in range(rounds):
            if not await self.hotspot.jobs.run_due(limit=50):
                return

    def later(self, seconds: float) -> None:
        """Time passes for the box and both routers."""
        self.clock.now += seconds
        self.main.advance(seconds)
        self.back.advance(seconds)

    async def grant(self, grant_id: int) -> dict[str, Any]:
        return await self.hotspot.grants.get(grant_id)


@pytest.fixture
async def box(make_settings: Any) -> AsyncIterator[Box]:
    sim_clock = Clock(1000.0)
    async with (
        RouterOSSimulator("hotspot-api", "pw", "cafe-main", clock=sim_clock) as main,
        RouterOSSimulator("hotspot-api", "pw", "cafe-back", clock=sim_clock) as back,
    ):
        settings = make_settings(
            {
                "jobs": {"enabled": False},  # the test runs the jobs itself, with its own clock
                "plugins": {"mikrotik": {"enabled": True, "connect_timeout": 1, "command_timeout": 1}},
                "routers": [
                    {
                        "name": "cafe-main",
                        "host": "127.0.0.1",
                        "port": main.port,
                        "username": "hotspot-api",
                        "password": "pw",
                        "site": "cafe",
                    },
                    {
                        "name": "cafe-back",
                        "host": "127.0.0.1",
                        "port": back.port,
                        "username": "hotspot-api",
                        "password": "pw",
                        "site": "cafe",
                        "weight": 2,
                    },
                ],
                "fair_usage": {
                    "enabled": True,
                    "rules": [{"above_users": 2, "factor": 0.5}],
                    "floor_down_bps": 1_000_000,
                    "floor_up_bps": 100_000,
                },
            },
            plugins=settings_models(discover()),
        )
        hotspot: Hotspot = create_app(settings).state.hotspot
        clock = Clock()
        for part in (hotspot.jobs, hotspot.grants, hotspot.usage, hotspot.routers):
            part.clock = clock
        await hotspot.open()
        try:
            yield Box(hotspot, clock, main, back)
        finally:
            await hotspot.close()


def package(**kw: Any) -> GrantRequest:
    values: dict[str, Any] = {
        "profile": "1 hour",
        "seconds": 3600,
        "down_bps": 4_000_000,
        "up_bps": 1_000_000,
        "mac": MAC1,
        "ip": "10.5.50.11",
        "router_hint": "cafe-main",
    }
    values.update(kw)
    return GrantRequest(**values)


async def test_grant_reaches_the_router_and_logs_the_device_in(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package())
    assert (await box.grant(grant_id))["state"] == "pending"
    await box.settle()
    grant = await box.grant(grant_id)
    assert grant["state"] == "active" and grant["router"] == "cafe-main"
    assert grant["expires_at"] == box.clock.now + 3600
    user = box.main.users[grant["username"]]
    assert user["profile"] == "hs-1-hour-4000k-1000k-1d" and user["mac-address"] == MAC1
    assert box.main.profiles["hs-1-hour-4000k-1000k-1d"]["rate-limit"] == "1M/4M"
    assert [s["mac-address"] for s in box.main.active] == [MAC1]


async def test_extend_adds_time_on_box_and_router(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package())
    await box.settle()
    expires = (await box.grant(grant_id))["expires_at"]
    await box.hotspot.grants.extend(grant_id, seconds=1800, bytes_total=500_000_000)
    await box.settle()
    grant = await box.grant(grant_id)
    assert grant["expires_at"] == expires + 1800 and grant["seconds"] == 5400
    user = box.main.users[grant["username"]]
    assert user["limit-uptime"] == "1h30m" and user["limit-bytes-total"] == "500000000"


async def test_speed_change_is_live(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package())
    await box.settle()
    await box.hotspot.grants.change_speed(grant_id, down_bps=2_000_000, up_bps=500_000)
    await box.settle()
    grant = await box.grant(grant_id)
    [queue] = [q for q in box.main.queues if q["name"] == f"<hotspot-{grant['username']}>"]
    assert queue["max-limit"] in ("500k/2M", "500000/2000000")
    assert box.main.users[grant["username"]]["profile"] == "hs-1-hour-2000k-500k-1d"  # for the next login


async def test_disconnect_drops_the_device(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package())
    await box.settle()
    assert await box.hotspot.grants.disconnect(grant_id) == 1
    assert box.main.active == []
    assert (await box.grant(grant_id))["state"] == "active"  # the grant itself lasts


async def test_time_runs_out(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package(seconds=600))
    await box.settle()
    box.later(300)
    await box.hotspot.usage.run()
    [session] = await Session.select().run()
    assert session["uptime_seconds"] == 300 and session["ended_at"] is None
    box.later(301)
    await box.hotspot.usage.run()
    await box.settle()
    grant = await box.grant(grant_id)
    assert grant["state"] == "ended" and grant["end_reason"] == "time"
    assert grant["username"] not in box.main.users and box.main.active == []


async def test_data_runs_out(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    box.main.set_demand(MAC1, 4_000_000, 1_000_000)
    grant_id = await box.hotspot.grants.request(package(seconds=None, bytes_total=20_000_000))
    await box.settle()
    box.later(10)  # 10 s at 4 Mbit/s down + 1 Mbit/s up = 6.25 MB
    await box.hotspot.usage.run()
    grant = await box.grant(grant_id)
    assert grant["bytes_out"] == 5_000_000 and grant["bytes_in"] == 1_250_000 and grant["state"] == "active"
    box.later(60)  # the router cuts the session at the cap; the box ends the grant
    await box.hotspot.usage.run()
    await box.settle()
    grant = await box.grant(grant_id)
    assert grant["state"] == "ended" and grant["end_reason"] == "data"
    assert grant["bytes_in"] + grant["bytes_out"] <= 20_000_000


async def test_mac_binding_refuses_a_second_device(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    box.main.add_host(MAC2, "10.5.50.12")
    grant_id = await box.hotspot.grants.request(package(devices=2))
    await box.settle()
    grant = await box.hotspot.grants.get(grant_id, with_password=True)
    router = box.hotspot.routers.get("cafe-main")
    from hotspot.errors import RouterRefused

    with pytest.raises(RouterRefused, match="not allowed to log in from this MAC address"):
        await router.driver.login(router.target, grant["username"], grant["password"], MAC2, "10.5.50.12")
    assert [s["mac-address"] for s in box.main.active] == [MAC1]


async def test_router_down_for_a_while_then_every_queued_grant_lands(box: Box) -> None:
    box.main.faults.refuse = True
    box.back.faults.refuse = True
    ids = [await box.hotspot.grants.request(package(mac=None, ip=None)) for _ in range(3)]
    await box.settle()
    for grant_id in ids:
        grant = await box.grant(grant_id)
        assert grant["state"] == "pending" and "cafe-" in (grant["last_error"] or "")
    health = await box.hotspot.routers.health()
    assert health["cafe-main"].status == "down"
    for _ in range(4):  # a few retry rounds while both routers stay down
        box.later(400)
        await box.settle()
    assert {(await box.grant(i))["state"] for i in ids} == {"pending"}
    box.main.faults.refuse = False
    box.back.faults.refuse = False
    await box.hotspot.routers.check()  # the periodic check sees them back
    box.later(400)
    await box.settle()
    grants = [await box.grant(i) for i in ids]
    assert {g["state"] for g in grants} == {"active"}
    on_routers = set(box.main.users) | set(box.back.users)
    assert {g["username"] for g in grants} <= on_routers


async def test_failover_to_the_other_router_of_the_site(box: Box) -> None:
    box.main.faults.refuse = True
    grant_id = await box.hotspot.grants.request(package(mac=None, ip=None))
    await box.settle()  # first attempt: cafe-main refused and is marked down
    box.later(30)
    await box.settle()  # retry: placed on the healthy peer
    grant = await box.grant(grant_id)
    assert grant["state"] == "active" and grant["router"] == "cafe-back"
    assert grant["username"] in box.back.users


async def test_placement_prefers_least_load_per_weight(box: Box) -> None:
    await box.hotspot.routers.check()
    await box.hotspot.routers.set_active_sessions("cafe-main", 3)
    await box.hotspot.routers.set_active_sessions("cafe-back", 4)  # weight 2: 2 per unit < 3
    chosen = await box.hotspot.routers.place(site="cafe")
    assert chosen.name == "cafe-back"
    assert (await box.hotspot.routers.place(hint="cafe-main")).name == "cafe-main"  # the customer's router


async def test_fair_usage_steps_down_and_back_up(box: Box) -> None:
    ids = []
    for n, mac in enumerate((MAC1, MAC2, MAC3), start=1):
        box.main.add_host(mac, f"10.5.50.{n}")
        ids.append(await box.hotspot.grants.request(package(mac=mac, ip=f"10.5.50.{n}")))
    await box.settle()
    [main_sync, _] = await box.hotspot.usage.run()
    assert main_sync.online == 3 and main_sync.factor == 0.5  # above 2 users: half speed
    queues = {q["name"]: q["max-limit"] for q in box.main.queues}
    for grant_id in ids:
        name = (await box.grant(grant_id))["username"]
        assert queues[f"<hotspot-{name}>"] in ("500k/2M", "500000/2000000")
    first = await box.hotspot.grants.get(ids[0])
    await box.hotspot.grants.revoke(ids[0])
    await box.settle()
    assert first["username"] not in box.main.users
    [main_sync, _] = await box.hotspot.usage.run()
    assert main_sync.factor == 1.0  # back to two users: full speed again
    queues = {q["name"]: q["max-limit"] for q in box.main.queues}
    name = (await box.grant(ids[1]))["username"]
    assert queues[f"<hotspot-{name}>"] in ("1M/4M", "1000000/4000000")
    changes = await FairUsageChange.select().order_by(FairUsageChange.id).run()
    assert [(c["factor_before"], c["factor_after"], c["active_users"]) for c in changes] == [
        (1.0, 0.5, 3),
        (0.5, 1.0, 2),
    ]


async def test_trapped_command_keeps_the_grant_and_says_why(box: Box) -> None:
    box.main.faults.trap("/ip/hotspot/user/add", "not enough privileges", times=1)
    grant_id = await box.hotspot.grants.request(package(mac=None, ip=None))
    await box.settle()
    grant = await box.grant(grant_id)
    assert grant["state"] == "pending" and "not enough privileges" in grant["last_error"]
    box.later(30)
    await box.settle()
    assert (await box.grant(grant_id))["state"] == "active"


async def test_hanging_and_dropping_routers_lose_no_grant(box: Box) -> None:
    box.main.faults.hang = True
    box.back.faults.drop("/ip/hotspot/user/add", times=2)
    grant_id = await box.hotspot.grants.request(package(mac=None, ip=None))
    for _ in range(6):
        await box.settle()
        box.later(60)
    grant = await box.grant(grant_id)
    assert grant["state"] == "active" and grant["router"] == "cafe-back"


async def test_usage_is_recorded_per_grant_and_device(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    box.main.set_demand(MAC1, 1_000_000, 200_000)
    grant_id = await box.hotspot.grants.request(package())
    await box.settle()
    for _ in range(3):
        box.later(8)
        await box.hotspot.usage.run()
    [session] = await Session.select().run()
    assert session["mac"] == MAC1 and session["uptime_seconds"] == 24
    assert session["bytes_out"] == 3_000_000 and session["bytes_in"] == 600_000
    assert (session["rate_out_bps"], session["rate_in_bps"]) == (1_000_000, 200_000)  # current speed
    box.main.set_demand(MAC1, 0, 0)
    box.later(8)
    await box.hotspot.usage.run()
    [idle] = await Session.select().run()
    assert (idle["rate_out_bps"], idle["rate_in_bps"], idle["bytes_out"]) == (0, 0, 3_000_000)
    grant = await box.grant(grant_id)
    assert (grant["bytes_in"], grant["bytes_out"], grant["uptime_seconds"]) == (600_000, 3_000_000, 32)
    await box.hotspot.grants.disconnect(grant_id)
    box.later(1)
    await box.hotspot.usage.run()
    [session] = await Session.select().run()
    assert session["ended_at"] is not None
    assert (await Grant.count().run()) == 1


async def test_recurring_checks_and_sync_run_as_jobs_and_announce_changes(box: Box) -> None:
    events: list[tuple[str, Any]] = []

    async def capture(hook: str, **kwargs: Any) -> list[Any]:
        events.append((hook, kwargs["event"]))
        return []

    box.hotspot.routers.emit = box.hotspot.usage.emit = capture
    assert {"routers.check", "usage.sync", "grant.apply", "grant.revoke", "grant.speed"} <= set(
        box.hotspot.jobs.kinds
    )
    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package())
    await box.hotspot.jobs.ensure_schedules()
    await box.settle()  # the apply job, the first router check and the first usage sync (in parallel)
    box.later(box.hotspot.settings.router_pool.usage_sync_seconds + 1)
    await box.settle()  # the next sync sees the device online
    health = await box.hotspot.routers.health()
    assert health["cafe-main"].status == "ok" and health["cafe-main"].facts["active_sessions"] == 1
    changes = [(e.router, e.previous, e.current) for hook, e in events if hook == "router_status_changed"]
    assert ("cafe-main", None, "ok") in changes and ("cafe-back", None, "ok") in changes
    started = [e for hook, e in events if hook == "session_changed"]
    assert [(e.grant_id, e.mac, e.started) for e in started] == [(str(grant_id), MAC1, True)]

    await box.main.stop()  # the router loses power: open connections die, new ones are refused
    box.later(box.hotspot.settings.router_pool.health_seconds + 1)
    await box.settle()
    assert ("cafe-main", "ok", "down") in [
        (e.router, e.previous, e.current) for h, e in events if h == "router_status_changed"
    ]
    assert (await box.hotspot.routers.health())["cafe-main"].status == "down"


async def test_a_refused_device_login_keeps_the_grant_and_says_why(box: Box) -> None:
    """The phone left the WiFi before payment confirmed: the grant lands, the login cannot."""
    grant_id = await box.hotspot.grants.request(package())  # no host for MAC1 on the router
    await box.settle()
    grant = await box.grant(grant_id)
    assert grant["state"] == "active" and grant["username"] in box.main.users
    assert grant["last_error"].startswith("device login refused: ")
    assert box.main.active == []


async def test_two_top_ups_at_once_both_count(box: Box) -> None:
    import asyncio

    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package())
    await box.settle()
    await asyncio.gather(
        box.hotspot.grants.extend(grant_id, seconds=1800), box.hotspot.grants.extend(grant_id, seconds=1800)
    )
    await box.settle()
    grant = await box.grant(grant_id)
    assert grant["seconds"] == 7200 and grant["version"] == 3 and grant["applied_version"] == 3
    assert box.main.users[grant["username"]]["limit-uptime"] == "2h"


async def test_a_grant_topped_up_after_being_read_is_not_ended(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package(seconds=600))
    await box.settle()
    box.later(601)  # expired: usage sync would read it as due...
    await box.hotspot.grants.extend(grant_id, seconds=3600)  # ...but the customer paid first
    await box.hotspot.grants.end([grant_id], "time")
    await box.settle()
    grant = await box.grant(grant_id)
    assert grant["state"] == "active" and grant["username"] in box.main.users


async def test_a_revived_grant_is_not_revoked_by_its_old_end(box: Box) -> None:
    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package(seconds=600))
    await box.settle()
    box.later(601)
    await box.hotspot.usage.run()  # ends it and queues the removal from the router
    assert (await box.grant(grant_id))["state"] == "ended"
    await box.hotspot.grants.extend(grant_id, seconds=3600)  # paid again before the removal ran
    await box.settle()
    grant = await box.grant(grant_id)
    assert grant["state"] == "active" and grant["username"] in box.main.users


async def test_fair_usage_slows_devices_that_arrive_later(box: Box) -> None:
    macs = [MAC1, MAC2, MAC3, "AA:BB:CC:00:00:04"]
    ids = []
    for n, mac in enumerate(macs[:3], start=1):
        box.main.add_host(mac, f"10.5.50.{n}")
        ids.append(await box.hotspot.grants.request(package(mac=mac, ip=f"10.5.50.{n}")))
    await box.settle()
    await box.hotspot.usage.run()  # 3 online: half speed
    box.main.add_host(macs[3], "10.5.50.4")
    late = await box.hotspot.grants.request(package(mac=macs[3], ip="10.5.50.4"))
    await box.settle()
    await box.hotspot.usage.run()  # still crowded: the newcomer is slowed too, no new log entry
    name = (await box.grant(late))["username"]
    queues = {q["name"]: q["max-limit"] for q in box.main.queues}
    assert queues[f"<hotspot-{name}>"] in ("500k/2M", "500000/2000000")
    assert await FairUsageChange.count().run() == 1


async def test_a_change_and_its_job_commit_together_or_not_at_all(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between writing a change and queueing the job that applies it would leave the
    box and the router disagreeing for good: here the enqueue fails, and the change is undone."""
    box.main.add_host(MAC1, "10.5.50.11")
    grant_id = await box.hotspot.grants.request(package())
    await box.settle()
    before = await box.grant(grant_id)
    enqueue = box.hotspot.jobs.enqueue

    async def crash(*args: Any, **kwargs: Any) -> int | None:
        raise OSError("the process died here")

    monkeypatch.setattr(box.hotspot.jobs, "enqueue", crash)
    grants = box.hotspot.grants
    for change in (
        grants.extend(grant_id, seconds=1800),
        grants.change_speed(grant_id, down_bps=1_000_000, up_bps=500_000),
        grants.move(grant_id, MAC2, "10.5.50.12"),
        grants.suspend([grant_id]),
        grants.request(package(mac=MAC2)),
    ):
        with pytest.raises(OSError):
            await change
    assert await box.grant(grant_id) == before
    assert await Grant.count() == 1

    monkeypatch.setattr(box.hotspot.jobs, "enqueue", enqueue)
    assert await grants.suspend([grant_id]) == [grant_id]
    monkeypatch.setattr(box.hotspot.jobs, "enqueue", crash)
    with pytest.raises(OSError):
        await grants.resume([grant_id])
    assert (await box.grant(grant_id))["state"] == "suspended"
