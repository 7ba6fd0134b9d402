"""The app on both backends: health, errors, request ids, headers, limits, schema."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hotspot.app import create_app
from hotspot.config import Settings
from hotspot.contracts import Health
from hotspot.http.request_id import line_level
from hotspot.http.security import CSP
from hotspot.logs import JsonFormatter, request_id_var


async def test_healthz_ok(client: AsyncTestClient[Litestar], backend: str) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["detail"] == backend
    redis = body["checks"]["redis"]
    assert redis["status"] == "ok"
    assert redis["detail"] == ("connected" if backend == "postgres" else "not configured: in-process stores")
    assert body["checks"]["gateways"] == {}
    assert response.headers["cache-control"] == "no-store"


async def test_healthz_503_when_the_database_is_down(client: AsyncTestClient[Litestar]) -> None:
    hotspot = client.app.state.hotspot

    async def down() -> Health:
        return Health("down", "OperationalError: unable to open database file")

    hotspot.db.health = down
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["checks"]["database"]["detail"].startswith("OperationalError")


async def test_startup_refuses_an_unreachable_configured_redis(make_settings: Any) -> None:
    from hotspot.errors import StorageError

    settings = make_settings({"redis": {"url": "redis://127.0.0.1:6399/0"}})
    hotspot = create_app(settings).state.hotspot
    with pytest.raises(StorageError, match=r"cannot reach Redis at redis\.url"):
        await hotspot.open()
    assert (await hotspot.redis_health()).status == "down"


async def test_health_goes_down_when_redis_is_lost(client: AsyncTestClient[Litestar], backend: str) -> None:
    hotspot = client.app.state.hotspot

    async def lost() -> Health:
        return Health("down", "ConnectionError: Connection refused")

    hotspot.redis_health = lost
    response = await client.get("/healthz")
    assert response.status_code == 503 and response.json()["checks"]["redis"]["status"] == "down"


async def test_a_down_gateway_degrades_but_does_not_fail_health(client: AsyncTestClient[Litestar]) -> None:
    hotspot = client.app.state.hotspot

    async def gateways() -> dict[str, Health]:
        return {"mpesa": Health("down", "token request refused")}

    hotspot.health_groups["gateways"] = gateways
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["gateways"]["mpesa"] == {
        "status": "down",
        "detail": "token request refused",
    }


@dataclass
class Order:
    package: str
    amount: int


async def test_unknown_path_json_error_shape_and_request_id(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "error": {
            "status": 404,
            "code": "not_found",
            "message": "There is nothing at this address.",
            "request_id": request_id,
        }
    }


async def test_request_lines_are_logged_at_what_they_are_worth(
    client: AsyncTestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="hotspot.http"):
        await client.get("/healthz")
        await client.get("/api/v1/nothing-here")
        await client.post("/api/v1/portal/orders", json={})
    records = [r for r in caplog.records if r.name == "hotspot.http"]
    lines = {r.getMessage().rsplit(" ", 1)[0]: r.levelname for r in records}
    assert lines == {
        "GET /healthz 200": "DEBUG",  # a successful read: nginx's access log has it
        "GET /api/v1/nothing-here 404": "INFO",
        "POST /api/v1/portal/orders 400": "INFO",
    }
    assert line_level("GET", 503) == line_level("POST", 500) == logging.WARNING
    assert line_level("DELETE", 204) == logging.INFO and line_level("HEAD", 304) == logging.DEBUG


async def test_browser_gets_the_error_page_without_a_traceback(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/no-such-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is nothing at this address." in response.text
    assert response.headers["x-request-id"] in response.text
    assert "Traceback" not in response.text


async def test_a_crash_is_a_clean_500_and_logged(
    make_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from litestar import get

    @get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    class Crash:
        from hotspot import hookimpl

        @hookimpl
        def register_routes(self, config: Any) -> list[Any]:
            return [boom]

    from hotspot import PluginSettings

    app = create_app(make_settings(), extra_plugins=[("crash", Crash(), PluginSettings(enabled=True))])
    async with AsyncTestClient(app) as client:
        with caplog.at_level(logging.ERROR):
            response = await client.get("/hooks/crash/api/v1/boom")
            html = await client.get("/hooks/crash/api/v1/boom", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_server_error"
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert html.status_code == 500 and "Traceback" not in html.text
    assert "secret internals" in caplog.text  # the log has it, the customer does not


async def test_validation_errors_name_the_field(make_settings: Any) -> None:
    from litestar import post
    from litestar.params import FromPath, JSONBody

    from hotspot import PluginSettings, hookimpl

    @post("/orders")
    async def order(data: JSONBody[Order]) -> dict[str, int]:
        return {"amount": data.amount}

    @post("/typed/{count:int}")
    async def typed(count: FromPath[int]) -> dict[str, int]:
        return {"count": count}

    class P:
        @hookimpl
        def register_routes(self, config: Any) -> list[Any]:
            return [order, typed]

    app = create_app(make_settings(), extra_plugins=[("v", P(), PluginSettings(enabled=True))])
    async with AsyncTestClient(app) as client:
        response = await client.post("/hooks/v/orders", json={"package": "1h", "amount": "lots"})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "validation_error" and error["fields"]
        assert error["fields"] == [{"field": "amount", "message": "Expected `int`, got `str`"}]
        malformed = await client.post(
            "/hooks/v/orders", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 400
        assert malformed.json()["error"]["code"] == "bad_request"
        assert "Traceback" not in malformed.text


async def test_request_id_from_proxy_is_kept(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "nginx-abc12345"})
    assert response.headers["x-request-id"] == "nginx-abc12345"
    response = await client.get("/healthz", headers={"x-request-id": "bad id\nwith newline"})
    assert response.headers["x-request-id"] != "bad id\nwith newline"
    assert len(response.headers["x-request-id"]) == 32


async def test_security_headers_everywhere(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/healthz", "/missing"):
        headers = (await client.get(path)).headers
        assert headers["content-security-policy"] == CSP
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP.split("script-src")[1].split(";")[0]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in headers


async def test_hsts_only_behind_tls(make_settings: Any) -> None:
    app = create_app(make_settings({"server": {"behind_tls": True}}))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/healthz")).headers["strict-transport-security"] == "max-age=31536000"


async def test_rate_limit_answers_429_json(make_settings: Any) -> None:
    app = create_app(make_settings({"rate_limit": {"enabled": True, "per_minute": 3}}))
    async with AsyncTestClient(app) as client:
        codes = [(await client.get("/api/schema/openapi.json")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = await client.get("/api/schema/openapi.json")
        assert limited.json()["error"]["code"] == "too_many_requests"
        assert (await client.get("/healthz")).status_code == 200  # probes are exempt


async def test_rate_limit_uses_forwarded_ip_only_from_trusted_proxy(make_settings: Any) -> None:
    app = create_app(
        make_settings(
            {
                "rate_limit": {"enabled": True, "per_minute": 2},
                "server": {"trusted_proxies": ["127.0.0.1/32"]},
            }
        )
    )
    async with AsyncTestClient(app) as client:
        # The test client's peer is "testclient" (untrusted), so X-Forwarded-For cannot dodge the limit.
        for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
            last = await client.get("/api/schema/openapi.json", headers={"x-forwarded-for": ip})
        assert last.status_code == 429


def test_client_ip_trusts_only_configured_proxies() -> None:
    from types import SimpleNamespace

    from hotspot.http.client import client_ip, parse_networks

    def conn(peer: str, xff: str | None) -> Any:
        headers = {"x-forwarded-for": xff} if xff else {}
        state = SimpleNamespace(trusted_proxies=parse_networks(["127.0.0.1/32"]))
        return SimpleNamespace(
            client=SimpleNamespace(host=peer), headers=headers, app=SimpleNamespace(state=state)
        )

    assert client_ip(conn("127.0.0.1", "41.90.1.2")) == "41.90.1.2"
    assert client_ip(conn("127.0.0.1", "1.1.1.1, 41.90.1.2, 127.0.0.1")) == "41.90.1.2"
    assert client_ip(conn("192.168.88.10", "41.90.1.2")) == "192.168.88.10"
    assert client_ip(conn("127.0.0.1", None)) == "127.0.0.1"


async def test_openapi_schema_lists_the_json_api(client: AsyncTestClient[Litestar]) -> None:
    schema = (await client.get("/api/schema/openapi.json")).json()
    assert schema["info"]["title"] == "Hotspot API"
    assert "/healthz" in schema["paths"]
    assert "/" not in schema["paths"]


async def test_home_page_is_a_real_page(client: AsyncTestClient[Litestar]) -> None:
    fresh = await client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert fresh.status_code == 303 and fresh.headers["location"] == "/setup"  # no owner yet: the wizard
    wizard = await client.get("/setup")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', wizard.text)
    assert token is not None
    password = "plum-orchard-velvet-42"
    owner = {"username": "owner", "password": password, "confirm_password": password, "_csrf_token": token[1]}
    assert (await client.post("/setup/owner", data=owner, follow_redirects=False)).status_code == 303
    response = await client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "Hotspot" in html and "/static/vendor/bootstrap/bootstrap.min.css" in html
    assert "apprise" in html  # installed plugins are listed
    assert "<script>" not in html  # CSP: no inline scripts


async def test_static_assets_are_served(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/static/vendor/bootstrap/bootstrap.min.css")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    assert (await client.get("/static/../pyproject.toml")).status_code == 404


@pytest.fixture
async def opened(settings: Settings) -> Any:
    """The runtime opened on this test's own event loop (the test client runs the app on another)."""
    hotspot = create_app(settings).state.hotspot
    await hotspot.open()
    yield hotspot
    await hotspot.close()


async def test_sessions_rate_limits_and_channels_live_in_redis(
    opened: Any, backend: str, redis_prefix: str
) -> None:
    for name in ("sessions", "rate_limit"):
        store = opened.stores.get(name)
        await store.set("probe", b"1", expires_in=60)
        assert await store.get("probe") == b"1"
    if backend == "sqlite":
        assert opened.redis is None
    else:
        keys = {k.decode() async for k in opened.redis.scan_iter(f"{redis_prefix}*")}
        assert {f"{redis_prefix}_sessions:probe", f"{redis_prefix}_rate_limit:probe"} <= keys, keys
    # live updates: a publish reaches a subscriber (through Redis pub/sub on the appliance)
    async with opened.channels as channels:  # the app's lifespan does this on its own loop
        async with channels.start_subscription(["order:42"]) as subscriber:
            await channels.wait_published(b'{"status": "paid"}', channels=["order:42"])
            async with asyncio.timeout(5):
                async for message in subscriber.iter_events():
                    assert json.loads(message) == {"status": "paid"}
                    break


async def test_locks_exclude_across_holders(opened: Any, backend: str, redis_prefix: str) -> None:
    from hotspot.locks import LockTimeout

    locks = opened.locks
    async with locks.hold("router:a", ttl=10, wait=1):
        with pytest.raises(LockTimeout):
            async with locks.hold("router:a", ttl=10, wait=0.2):
                pass
        if backend == "postgres":
            assert await opened.redis.exists(f"{redis_prefix}:lock:router:a") == 1
    async with locks.hold("router:a", ttl=10, wait=0.2):
        pass


def test_json_logs_carry_the_request_id() -> None:
    record = logging.LogRecord("hotspot.test", logging.INFO, __file__, 1, "paid %s", ("KES 50",), None)
    token = request_id_var.set("req-123456")
    try:
        record.request_id = request_id_var.get()
        data = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert data["message"] == "paid KES 50" and data["request_id"] == "req-123456" and data["level"] == "INFO"


def test_workers_without_redis_are_refused(settings: Settings, backend: str) -> None:
    from hotspot.errors import StartupRefused
    from hotspot.runtime import check_process_layout

    check_process_layout(settings, 1)
    if backend == "sqlite":
        with pytest.raises(StartupRefused, match="--workers 3 needs Redis"):
            check_process_layout(settings, 3)
    else:
        check_process_layout(settings, 3)
