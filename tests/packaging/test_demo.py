"""`hotspot demo` as a new user runs it: real processes, the production server, the simulators.

Buying over the portal's JSON API must reach "online" (the simulated router logged the device
in) and a scripted refusal must come back as a plain reason, with no hardware and no internet.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo_process import DemoProcess, running_demo

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoProcess]:
    with running_demo(tmp_path) as process:
        yield process


def _wait_for(url: str, want: set[str], timeout: float = 40.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = httpx.get(url, timeout=5).json()
        if body["state"] in want:
            return body
        time.sleep(0.5)
    pytest.fail(f"order never reached {want}: {body}")


def test_demo_sells_a_package_end_to_end(demo: DemoProcess) -> None:
    server, portal = demo, demo.portal_url
    health = httpx.get(f"{server.url}/healthz", timeout=5).json()
    assert health["status"] == "ok", health
    assert health["checks"]["routers"]["demo-router"]["status"] == "ok"
    assert health["checks"]["gateways"]["mpesa"]["status"] == "ok"

    page = httpx.get(portal, timeout=5)
    assert page.status_code == 200 and "1 hour" in page.text

    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(portal).query))
    router_page = httpx.get(query["link-login-only"].removesuffix("/login") + "/", timeout=5)
    assert f"127.0.0.1:{server.port}/portal" in router_page.text  # the router sends customers here

    packages = httpx.get(f"{server.url}/api/v1/portal/packages", timeout=5).json()["packages"]
    one_hour = next(p for p in packages if p["name"] == "1 hour")
    order = {
        "package_id": one_hour["id"],
        "phone": "0712 345 678",
        "mac": query["mac"],
        "ip": query["ip"],
        "router": query["identity"],
    }
    created = httpx.post(f"{server.url}/api/v1/portal/orders", json=order, timeout=10)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "waiting" and body["amount"] == {"amount": 2000, "currency": "KES"}
    online = _wait_for(f"{server.url}/api/v1/portal/orders/{body['order_id']}", {"online", "failed"})
    assert online["state"] == "online", online
    assert 3500 < online["remaining_seconds"] <= 3600

    refused = httpx.post(
        f"{server.url}/api/v1/portal/orders", json={**order, "phone": "0700000001"}, timeout=10
    ).json()
    failed = _wait_for(f"{server.url}/api/v1/portal/orders/{refused['order_id']}", {"online", "failed"})
    assert (failed["state"], failed["reason"]) == ("failed", "cancelled")
