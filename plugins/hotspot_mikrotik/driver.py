"""The MikroTik router driver: hotspot users, profiles and sessions over the RouterOS API.

Mapping (research/mikrotik-radius.md, section 2):
* a package's speed and device limit -> a hotspot user profile we own (prefix `hs-`):
  rate-limit `up/down` (rx/tx from the router's view), shared-users = devices;
* a grant -> a hotspot user: password, profile, limit-uptime, limit-bytes-total, mac-address;
* logging a device in -> /ip/hotspot/active/login with the device's MAC and IP;
* a live speed change -> the session's dynamic queue `<hotspot-USER>` max-limit `up/down`.
"""

from __future__ import annotations

import time
from typing import Any

from librouteros.api import AsyncApi
from librouteros.query import Key

from hotspot.contracts import ActiveSession, GrantSpec, Health, RouterTarget, UserUsage
from hotspot_mikrotik.config import MikrotikSettings
from hotspot_mikrotik.connection import Connections, RouterCommandError, Row, run
from hotspot_mikrotik.units import format_duration, normalise_mac, parse_duration, rate_limit

__all__ = ["MikrotikDriver"]

ANY_MAC = "00:00:00:00:00:00"
GRANT_COMMENT = "hotspot grant"  # marks the users this box owns


def _eq(name: str, value: object) -> str:
    """The query word librouteros sends for Key(name) == value."""
    return str(next(iter(Key(name) == str(value))))


class MikrotikDriver:
    """One instance talks to every MikroTik router in the pool."""

    kind = "mikrotik"

    def __init__(self, settings: MikrotikSettings) -> None:
        self.settings = settings
        self.connections = Connections(settings)

    def profile_name(self, spec: GrantSpec) -> str:
        return (
            spec.profile
            if spec.profile.startswith(self.settings.profile_prefix)
            else (self.settings.profile_prefix + spec.profile)
        )

    # --- health ----------------------------------------------------------------------------

    async def health(self, target: RouterTarget) -> Health:
        started = time.perf_counter()

        async def probe(api: AsyncApi) -> Health:
            [identity] = await run(api, "/system/identity/print")
            [resource] = await run(api, "/system/resource/print")
            active = await run(api, "/ip/hotspot/active/print", "=count-only=")
            latency = round((time.perf_counter() - started) * 1000, 2)
            detail = (
                f"{identity.get('name', target.name)} · RouterOS {resource.get('version', '?')} · "
                f"CPU {resource.get('cpu-load', '?')}% · {_count(active)} online"
            )
            try:
                modes = await run(api, "/system/device-mode/print")
            except RouterCommandError:
                modes = []  # RouterOS 6 / before 7.17 has no device-mode: nothing forbids the hotspot
            if modes and modes[0].get("hotspot") is False:
                return Health(
                    "degraded",
                    "device-mode forbids the hotspot (on the router: /system/device-mode/update hotspot=yes)",
                    latency,
                )
            return Health("ok", detail, latency)

        return await self.connections.call(target, probe)

    # --- grants ----------------------------------------------------------------------------

    async def grant(self, target: RouterTarget, spec: GrantSpec) -> None:
        """Create or update the user for spec and log the device in when its MAC and IP are known."""
        profile = self.profile_name(spec)
        mac = normalise_mac(spec.mac) if spec.mac else None

        async def apply(api: AsyncApi) -> None:
            await self._ensure_profile(api, profile, spec)
            await self._ensure_user(api, spec, profile, mac)
            if mac and spec.ip:
                await self._login(api, spec.username, spec.password, mac, spec.ip)

        await self.connections.call(target, apply)

    async def _ensure_profile(self, api: AsyncApi, name: str, spec: GrantSpec) -> None:
        wanted = {
            "rate-limit": rate_limit(spec.down_bps, spec.up_bps),
            "shared-users": str(max(spec.devices, 1)),
        }
        rows = await run(api, "/ip/hotspot/user/profile/print", _eq("name", name))
        if not rows:
            await run(api, "/ip/hotspot/user/profile/add", name=name, **wanted)
            return
        current = rows[0]
        if any(str(current.get(k, "")) != v for k, v in wanted.items()):
            await run(api, "/ip/hotspot/user/profile/set", **{".id": current[".id"]}, **wanted)

    async def _ensure_user(self, api: AsyncApi, spec: GrantSpec, profile: str, mac: str | None) -> None:
        fields: dict[str, Any] = {
            "password": spec.password,
            "profile": profile,
            "limit-uptime": format_duration(spec.seconds or 0),
            "limit-bytes-total": str(spec.bytes_total or 0),
            "mac-address": mac or ANY_MAC,
        }
        rows = await run(api, "/ip/hotspot/user/print", _eq("name", spec.username))
        if rows:
            await run(api, "/ip/hotspot/user/set", **{".id": rows[0][".id"]}, disabled="no", **fields)
        else:
            await run(
                api,
                "/ip/hotspot/user/add",
                name=spec.username,
                server=self.settings.hotspot_server,
                comment=GRANT_COMMENT,
                **fields,
            )

    async def login(self, target: RouterTarget, username: str, password: str, mac: str, ip: str) -> None:
        """Log one more device in under an existing user (the router enforces MAC binding and
        the device limit, and refuses with its own message)."""
        await self.connections.call(
            target, lambda api: self._login(api, username, password, normalise_mac(mac), ip)
        )

    async def _login(self, api: AsyncApi, username: str, password: str, mac: str, ip: str) -> None:
        active = await run(api, "/ip/hotspot/active/print", _eq("mac-address", mac))
        if any(str(row.get("user")) == username for row in active):
            return
        for row in active:  # the device is online under an older grant: move it to this one
            await run(api, "/ip/hotspot/active/remove", **{".id": row[".id"]})
        await run(
            api,
            "/ip/hotspot/active/login",
            user=username,
            password=password,
            **{"mac-address": mac, "ip": ip},
        )

    async def revoke(self, target: RouterTarget, username: str) -> None:
        """End every session of the user and delete it; a user already gone is fine."""

        async def apply(api: AsyncApi) -> None:
            for row in await run(api, "/ip/hotspot/active/print", _eq("user", username)):
                await run(api, "/ip/hotspot/active/remove", **{".id": row[".id"]})
            users = await run(api, "/ip/hotspot/user/print", _eq("name", username))
            if users:
                await run(api, "/ip/hotspot/user/remove", **{".id": ",".join(str(u[".id"]) for u in users)})

        await self.connections.call(target, apply)

    async def disconnect(self, target: RouterTarget, session_id: str) -> None:
        """Drop one session; the user stays, so the device may log in again while the grant lasts."""

        async def apply(api: AsyncApi) -> None:
            try:
                await run(api, "/ip/hotspot/active/remove", **{".id": session_id})
            except RouterCommandError as exc:
                if "no such item" not in exc.message:
                    raise

        await self.connections.call(target, apply)

    async def set_speed(
        self, target: RouterTarget, username: str, down_bps: int | None, up_bps: int | None
    ) -> None:
        """Change a live session's speed through its dynamic queue (no re-login needed)."""
        limit = rate_limit(down_bps, up_bps) or "0/0"

        async def apply(api: AsyncApi) -> None:
            queues = await run(api, "/queue/simple/print", _eq("name", f"<hotspot-{username}>"))
            for queue in queues:
                await run(api, "/queue/simple/set", **{".id": queue[".id"]}, **{"max-limit": limit})

        await self.connections.call(target, apply)

    async def active_sessions(self, target: RouterTarget) -> list[ActiveSession]:
        async def read(api: AsyncApi) -> list[Row]:
            return await run(
                api,
                "/ip/hotspot/active/print",
                "=.proplist=.id,user,mac-address,address,uptime,bytes-in,bytes-out",
            )

        rows = await self.connections.call(target, read)
        return [
            ActiveSession(
                session_id=str(row[".id"]),
                username=str(row.get("user", "")),
                mac=str(row.get("mac-address", "")),
                ip=str(row.get("address", "")),
                uptime_seconds=parse_duration(row.get("uptime")),
                bytes_in=int(row.get("bytes-in", 0) or 0),
                bytes_out=int(row.get("bytes-out", 0) or 0),
            )
            for row in rows
        ]

    async def user_usage(self, target: RouterTarget) -> list[UserUsage]:
        async def read(api: AsyncApi) -> list[Row]:
            return await run(
                api,
                "/ip/hotspot/user/print",
                "=.proplist=name,uptime,bytes-in,bytes-out",
                _eq("comment", GRANT_COMMENT),
            )

        return [
            UserUsage(
                username=str(row.get("name", "")),
                uptime_seconds=parse_duration(row.get("uptime")),
                bytes_in=int(row.get("bytes-in", 0) or 0),
                bytes_out=int(row.get("bytes-out", 0) or 0),
            )
            for row in await self.connections.call(target, read)
        ]

    async def close(self) -> None:
        await self.connections.close()


def _count(rows: list[Row]) -> int:
    if rows and "ret" in rows[0]:
        return int(rows[0]["ret"])
    return len(rows)
