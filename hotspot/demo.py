"""`hotspot demo`: the whole customer path on one machine, with no router and no internet.

A simulated MikroTik (RouterOS API + its HotSpot login page) and a simulated Safaricom Daraja
run in a background thread of this process; the real app runs on the production server
(granian) with the real MikroTik and M-Pesa plugins pointed at them, on a throw-away SQLite
file. The Daraja simulator answers each phone as `PHONES` says, and sends its callbacks to the
app like Safaricom would.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hotspot.sim.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, DarajaSimulator
from hotspot.sim.routeros import RouterOSSimulator

__all__ = ["DEVICE_IP", "DEVICE_MAC", "PHONES", "Demo", "demo_config"]

DEVICE_MAC = "02:DE:00:00:00:01"
DEVICE_IP = "127.0.0.1"  # the browser on this machine plays the phone on the WiFi
ROUTER_USER, ROUTER_PASSWORD = "hotspot-api", "demo-router-password"
DARAJA_KEY, DARAJA_SECRET = "demo-consumer-key", "demo-consumer-secret"
PHONES = {  # the number the customer types -> how the simulated phone answers
    "0700000001": ("cancelled", "the customer cancels the prompt"),
    "0700000002": ("insufficient_funds", "not enough money on M-Pesa"),
    "0700000003": ("wrong_pin", "a wrong PIN"),
    "0700000004": ("unreachable", "the phone cannot be reached"),
    "0700000005": ("expired", "nobody answers the prompt"),
}
PAY_AFTER_SECONDS = 4.0
PACKAGES: list[dict[str, Any]] = [
    {
        "name": "30 minutes",
        "description": "Quick browse",
        "price": "10 KES",
        "duration": "30m",
        "down": "3M",
        "up": "1M",
        "sort_order": 1,
    },
    {
        "name": "1 hour",
        "description": "Browse, chat and stream",
        "price": "20 KES",
        "duration": "1h",
        "down": "5M",
        "up": "2M",
        "sort_order": 2,
    },
    {
        "name": "1 day",
        "description": "All day, two devices",
        "price": "50 KES",
        "duration": "1d",
        "data": "3GB",
        "down": "10M",
        "up": "5M",
        "devices": 2,
        "sort_order": 3,
    },
    {
        "name": "1 week",
        "description": "Best value",
        "price": "250 KES",
        "duration": "7d",
        "data": "15GB",
        "down": "10M",
        "up": "5M",
        "devices": 3,
        "sort_order": 4,
    },
]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def demo_config(data_dir: Path, port: int, router_port: int, daraja_url: str) -> dict[str, Any]:
    """The config a real owner would write, pointed at the simulators."""
    return {
        "data_dir": str(data_dir),
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "business": {"name": "Demo Café WiFi", "currency": "KES"},
        "payments": {
            "first_check_seconds": 3,
            "check_every_seconds": 2,
            "per_phone_per_hour": 50,
            "per_device_per_hour": 100,
        },
        "router_pool": {"health_seconds": 5, "usage_sync_seconds": 5},
        "jobs": {"poll_seconds": 0.5},
        "routers": [
            {
                "name": "demo-router",
                "host": "127.0.0.1",
                "port": router_port,
                "username": ROUTER_USER,
                "password": ROUTER_PASSWORD,
                "site": "cafe",
                "latitude": -1.2864,  # Nairobi CBD: the routers page has something to map
                "longitude": 36.8172,
            }
        ],
        "packages": PACKAGES,
        "plugins": {
            "mikrotik": {"enabled": True},
            "mpesa": {
                "enabled": True,
                "environment": "custom",
                "base_url": daraja_url,
                "shortcode": SANDBOX_SHORTCODE,
                "passkey": SANDBOX_PASSKEY,
                "consumer_key": DARAJA_KEY,
                "consumer_secret": DARAJA_SECRET,
            },
        },
    }


@dataclass
class Demo:
    """The simulators, serving from a background thread until the process ends."""

    port: int
    data_dir: Path
    router: RouterOSSimulator | None = None
    daraja: DarajaSimulator | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> Path:
        """Start the simulators and write the config; returns the config file."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._start_sims())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="hotspot-demo-sims", daemon=True).start()
        ready.wait(30)
        if failure:
            raise failure[0]
        assert self.router is not None and self.daraja is not None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = demo_config(self.data_dir, self.port, self.router.port, self.daraja.base_url)
        path = self.data_dir / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    async def _start_sims(self) -> None:
        self.router = RouterOSSimulator(ROUTER_USER, ROUTER_PASSWORD, "demo-router")
        await self.router.start(host="127.0.0.1", port=0)
        self.router.add_host(DEVICE_MAC, DEVICE_IP)
        await self.router.start_http("127.0.0.1", 0, portal_url=f"http://127.0.0.1:{self.port}/portal")
        self.daraja = DarajaSimulator(DARAJA_KEY, DARAJA_SECRET, SANDBOX_SHORTCODE, SANDBOX_PASSKEY)
        self.daraja.set_outcome(None, "success", after_seconds=PAY_AFTER_SECONDS)
        for phone, (outcome, _) in PHONES.items():
            self.daraja.set_outcome("254" + phone[1:], outcome, after_seconds=PAY_AFTER_SECONDS)
        await self.daraja.start("127.0.0.1", 0, realtime=True)

    def portal_url(self) -> str:
        """What the router's login page would send the customer to."""
        assert self.router is not None
        query = {
            "mac": DEVICE_MAC,
            "ip": DEVICE_IP,
            "identity": "demo-router",
            "server-name": "hotspot1",
            "link-login-only": f"{self.router.http_url}/login",
            "link-orig": "http://example.com/",
        }
        return f"http://127.0.0.1:{self.port}/portal?{urllib.parse.urlencode(query)}"

    def lines(self) -> Iterator[str]:
        assert self.router is not None and self.daraja is not None
        yield "Hotspot demo: a simulated MikroTik router and M-Pesa (Daraja); nothing leaves this machine."
        yield f"  customer portal:  {self.portal_url()}"
        yield f"  router login page: {self.router.http_url}/  (redirects to the portal, like a real HotSpot)"
        yield f"  health:           http://127.0.0.1:{self.port}/healthz"
        yield f"  data folder:      {self.data_dir}"
        yield f"Any phone (07XX/01XX) pays after {PAY_AFTER_SECONDS:.0f} s. These answer otherwise:"
        for phone, (_, words) in PHONES.items():
            yield f"  {phone}  {words}"
        yield "Ctrl-C to stop."
