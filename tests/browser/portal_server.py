"""A real app on a free port for the browser tests (and for looking at the portal by hand).

The counter gateway of tests/thirdparty confirms every payment; a fake router driver accepts
every grant, so a purchase goes waiting -> activating -> online in about two seconds. Every byte
the server sends (status line, headers and body, after gzip) is counted per request, so the
first-load budget is measured where it is paid: on the wire.

By hand: `python tests/browser/portal_server.py` prints the URL and serves until Ctrl-C.
"""

from __future__ import annotations

import importlib
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from hotspot import hookimpl
from hotspot.app import create_app
from hotspot.config import PluginSettings, load_settings

HERE = Path(__file__).resolve().parent
THIRD_PARTY = HERE.parent / "thirdparty"
if str(HERE.parent) not in sys.path:  # run as a script; under pytest tests/ is on the path already
    sys.path.insert(0, str(HERE.parent))

from fakes import IdleRouterDriver  # noqa: E402

PACKAGES: list[dict[str, Any]] = [
    {"name": "1 hour", "price": "20 KES", "duration": "1h", "down": "5M", "sort_order": 1},
    {
        "name": "1 day",
        "description": "All-day browsing",
        "price": "50 KES",
        "duration": "1d",
        "data": "2GB",
        "down": "5M",
        "sort_order": 2,
    },
    {"name": "1 week", "price": "250 KES", "duration": "7d", "down": "10M", "devices": 3, "sort_order": 3},
    {"name": "1 month", "price": "1000 KES", "duration": "30d", "down": "10M", "devices": 3, "sort_order": 4},
]


class FakeRouters:
    """A router plugin whose driver accepts everything (the device is logged in at once)."""

    def __init__(self) -> None:
        self.driver = IdleRouterDriver()

    @hookimpl
    def register_router_drivers(self, config: Any) -> list[Any]:
        return [self.driver]


@dataclass
class Wire:
    """Bytes sent per request path, in order: (path, header bytes, body bytes)."""

    log: list[tuple[str, int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.log.clear()

    def total(self) -> int:
        with self.lock:
            return sum(h + b for _, h, b in self.log)


class CountingApp:
    """ASGI wrapper counting what goes on the wire (HTTP/1.1 framing of status + headers)."""

    def __init__(self, app: Any, wire: Wire) -> None:
        self.app = app
        self.wire = wire

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counts = {"headers": 0, "body": 0}

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                counts["headers"] = len(b"HTTP/1.1 200 OK\r\n\r\n") + sum(
                    len(k) + len(v) + 4 for k, v in headers
                )
                # uvicorn adds date, server and (when streamed) transfer-encoding itself
                counts["headers"] += 80
            elif message["type"] == "http.response.body":
                counts["body"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            with self.wire.lock:
                self.wire.log.append((scope["path"], counts["headers"], counts["body"]))


@dataclass
class Server:
    url: str
    wire: Wire
    app: Any
    thread: threading.Thread
    server: uvicorn.Server

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _examplegw() -> Any:
    """The test third-party gateway, imported without leaving tests/thirdparty on sys.path (later
    tests discover the installed plugins and must not find it)."""
    sys.path.insert(0, str(THIRD_PARTY))
    try:
        return importlib.import_module("hotspot_examplegw")
    finally:
        sys.path.remove(str(THIRD_PARTY))
        importlib.invalidate_caches()


def start(data_dir: Path, overrides: dict[str, Any] | None = None) -> Server:
    examplegw = _examplegw()
    settings = load_settings(
        None,
        env={"HOTSPOT_DATA_DIR": str(data_dir)},
        overrides={
            "business": {"name": "Mama Mboga Cafe"},
            "rate_limit": {"enabled": False},
            "jobs": {"poll_seconds": 0.2},
            "payments": {"first_check_seconds": 1.5, "check_every_seconds": 0.5},
            "routers": [
                {"name": "cafe", "driver": "fake", "host": "10.5.50.1", "username": "api", "password": "x"}
            ],
            "packages": PACKAGES,
            **(overrides or {}),
        },
    )
    app = create_app(
        settings,
        installed={},
        extra_plugins=[
            ("examplegw", examplegw, examplegw.ExampleSettings(enabled=True)),
            ("fakerouters", FakeRouters(), PluginSettings(enabled=True)),
        ],
    )
    wire = Wire()
    port = free_port()
    config = uvicorn.Config(
        CountingApp(app, wire), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="portal-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return Server(f"http://127.0.0.1:{port}", wire, app, thread, server)


if __name__ == "__main__":
    running = start(Path(tempfile.mkdtemp(prefix="hotspot-portal-")))
    print(f"portal: {running.url}/portal?mac=02:00:00:00:00:01&ip=10.5.50.23", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        running.stop()
